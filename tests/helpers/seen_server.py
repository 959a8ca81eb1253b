"""`streamlit run app.py` with the server's slow parts held at known points, for the
browser tests of what people see (tests/e2e/test_seen.py). Test-only.

    python tests/helpers/seen_server.py HOLD_DIR [--hold-import MODULE] [--fake-jobs] -- STREAMLIT ARGS...

* ``--hold-import torch``: the first ``import torch`` of the server (a cold start's first
  page) waits until ``HOLD_DIR/import`` exists, so a test sees what the browser draws
  *before* the heavy modules are loaded, however fast or slow the machine is.
* ``--fake-jobs``: the job manager's jobs do not train; each one, like a real job, goes
  through the feature step (``extracting features 120/200``, held until
  ``HOLD_DIR/features`` exists), then two epochs of 20 s each (recorded, not spent),
  then waits for Stop; once stopped it waits for ``HOLD_DIR/stop`` before it ends
  (so "stopping…" can be seen), and ends cancelled after its 2 epochs.

The hooks are installed before Streamlit starts and patch ``JobManager._run`` when
``gtzan_core.jobs`` is first imported, so the cold start stays cold.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import time
from pathlib import Path


def wait_for(path: Path, also=None) -> None:
    while not path.exists() and not (also is not None and also()):
        time.sleep(0.05)


class HoldImport(importlib.abc.MetaPathFinder):
    """Hold the first import of ``name`` until ``release`` exists."""

    def __init__(self, name: str, release: Path):
        self.name, self.release, self.done = name, release, False

    def find_spec(self, fullname, path=None, target=None):
        if fullname == self.name and not self.done:  # (never removed from sys.meta_path while it is read)
            self.done = True
            (self.release.parent / f"{self.name}-import-held").touch()
            wait_for(self.release)
        return None  # the usual finders import it


class AfterImport(importlib.abc.MetaPathFinder):
    """Call ``patch(module)`` right after ``name`` is imported."""

    def __init__(self, name: str, patch):
        self.name, self.patch, self.done = name, patch, False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name or self.done:
            return None
        self.done = True
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        exec_module, patch = spec.loader.exec_module, self.patch

        def run_then_patch(module):
            exec_module(module)
            patch(module)

        spec.loader.exec_module = run_then_patch
        return spec


def fake_jobs(hold: Path):
    def patch(jobs_module):
        try:
            from gtzan_core.runs import lifecycle
        except ImportError:  # a run store without a lifecycle module: fields written directly
            lifecycle = None

        def life(store, rid, what, **fields):
            if lifecycle is None:
                status = {"start": "running", "set_phase": None, "cancel": "cancelled", "finish": "finished"}[what]
                store.update(rid, **({"status": status} if status else {}), **fields)
            elif what == "cancel":
                lifecycle.cancel(store, rid, fields.pop("why", None), **fields)
            else:
                getattr(lifecycle, what)(store, rid, **fields)

        def fake_run(self, job, device=None):
            store, rid = self.store, job.run_id
            life(store, rid, "start", phase="features", dispatched=time.time())
            store.update(rid, progress={"done": 120, "total": 200, "message": "extracting features"})
            wait_for(hold / "features", job.cancel.is_set)
            if job.cancel.is_set():
                life(store, rid, "cancel", why="stopped while preparing features", finished=time.time())
                return
            store.update(rid, dataset={"label": "synthetic demo", "root": None}, progress=None)
            life(store, rid, "set_phase", phase="training", started=time.time())
            history = []
            for epoch in (1, 2):
                history.append({"epoch": epoch, "train_loss": 2.3 - 0.3 * epoch, "train_acc": 0.1 * epoch,
                                "val_loss": 2.25 - 0.2 * epoch, "val_acc": 0.1 * epoch, "seconds": 20.0,
                                "elapsed": 20.0 * epoch, "best": True})
                store.update(rid, history=list(history), best_epoch=epoch, epochs_run=epoch)
            wait_for(hold / "trained", job.cancel.is_set)  # until Stop (or HOLD_DIR/trained: the test ends)
            wait_for(hold / "stop")
            life(store, rid, "cancel", why=None, finished=time.time(), epochs_run=2)

        jobs_module.JobManager._run = fake_run

    return patch


def main(argv: list[str]) -> None:
    split = argv.index("--")
    own, streamlit_args = argv[:split], argv[split + 1:]
    hold = Path(own[0])
    hold.mkdir(parents=True, exist_ok=True)
    if "--hold-import" in own:
        sys.meta_path.insert(0, HoldImport(own[own.index("--hold-import") + 1], hold / "import"))
    if "--fake-jobs" in own:
        sys.meta_path.insert(0, AfterImport("gtzan_core.jobs", fake_jobs(hold)))
    sys.path.insert(0, os.getcwd())
    from streamlit.web import cli

    sys.argv = ["streamlit", *streamlit_args]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
