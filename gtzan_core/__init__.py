"""GTZAN Genre Studio: music-genre classification on GTZAN (or a synthetic demo set).

The package is import-light: heavy libraries (torch, librosa) are imported by the
modules that need them, so ``python -m gtzan_core --help`` starts fast.
"""

GENRES: tuple[str, ...] = (
    "blues", "classical", "country", "disco", "hiphop",
    "jazz", "metal", "pop", "reggae", "rock",
)
GENRE_INDEX = {g: i for i, g in enumerate(GENRES)}
#: The dataset label of the generated demo set (not GTZAN): what its runs record as their dataset.
DEMO_DATASET = "synthetic demo"

__version__ = "0.1.0"
