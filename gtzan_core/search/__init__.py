"""Hyperparameter search with Optuna, every trial an ordinary job of the studio's queue.

===============  ====================================================================
module           what it holds
===============  ====================================================================
``space``        the search spaces of ``hparams.yaml`` (``search_spaces``): read,
                 checked, narrowed within their bounds, turned into Optuna's
                 distributions
``study``        :func:`run_search`: the study's driver (TPE with ``constant_liar``,
                 the median pruner, K trials at once through a
                 :class:`~gtzan_core.jobs.JobManager`, resuming a study whose server
                 died, the best trial's one look at the test set)
===============  ====================================================================

Where studies live and a trial's sink are the run store's (:mod:`gtzan_core.runs.studies`):
the job that runs a trial reaches them without this package.
"""
