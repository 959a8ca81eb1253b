"""Hearing what the numbers mean: which test tracks fell in a confusion cell
(:mod:`.cells`), the media a listed track is played from (:mod:`.media`), a 2-D map of
how a run hears its dataset (:mod:`.embedding_map`) and the repeated recordings a
dataset holds (:mod:`.repeats`)."""
