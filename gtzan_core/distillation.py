"""Knowledge distillation: a finished run teaches a from-scratch model (Hinton, Vinyals &
Dean 2015, "Distilling the knowledge in a neural network").

A run that names a ``teacher`` (``train cnn --teacher RUN_ID --kd-temperature 4 --kd-alpha
0.5``, or the Train form's teacher field) trains on ``alpha * T^2 * KL(teacher/T ||
student/T) + (1 - alpha) * cross-entropy``: the teacher's soft targets, softened by the
temperature ``T``, beside the labels. This module is the teacher's side:

* :func:`check_teacher` refuses, in one line, a teacher that is not a finished run with a
  model, or that learnt another label set or another dataset than the student's;
* :class:`RunTeacher` reads the teacher run's model and its own input (its input kind's
  features of the same dataset, from the feature cache) and gives the trainer its
  probabilities for the tracks the trainer names: the training split's, never a validation
  or test clip (the trainer asks; :meth:`RunTeacher.predict` is the one door to the
  teacher's network, which a test instruments). It refuses a teacher whose own training or
  validation tracks include one of the student's test tracks (a teacher trained on another
  split), so a distilled run's test figure stays a look at unseen tracks;
* predictions are aligned by the clip's identity the dataset gives, its track id: the
  teacher's windows of a track (musicnn's patches, say) are averaged into its answer for
  the track, and every sample of that track (each MFCC segment) gets it, so the student
  and the teacher may read different inputs;
* they are computed once per (teacher, its weights, dataset, set of training tracks) and
  kept in ``$GTZAN_STUDIO_HOME/teachers/`` (JSON), so seeds and students sharing a split
  reuse them.

The run records ``distillation``: the teacher's run id, model and checkpoint's SHA-256,
the temperature, alpha and how many training tracks were taught.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import numpy as np

from . import GENRES
from .errors import ConfigError
from .fileio import file_sha256

log = logging.getLogger(__name__)


def check_teacher(store, teacher_id: str, fingerprint: str | None = None) -> dict:
    """The teacher run's record when it can teach a student on the dataset with
    ``fingerprint`` (None: not checked yet); else :class:`ConfigError`, one line naming why."""
    from .errors import CheckpointError
    from .runs.record import RecordError

    try:
        record = store.read(teacher_id)
    except (CheckpointError, RecordError) as exc:
        raise ConfigError(f"teacher {teacher_id!r}: {exc}") from None
    if record.get("status") != "finished" or not store.checkpoint_path(teacher_id).is_file():
        raise ConfigError(f"teacher {teacher_id} is {record.get('status')}: a teacher must be a finished run "
                          "with its model")
    classes = record.get("classes") or list(GENRES)
    if list(classes) != list(GENRES):
        raise ConfigError(f"teacher {teacher_id} was trained on another label set ({', '.join(map(str, classes))}): "
                          "a teacher must name the same genres as its student")
    theirs = (record.get("dataset") or {}).get("fingerprint")
    if fingerprint is not None and theirs != fingerprint:
        label = (record.get("dataset") or {}).get("label") or "?"
        raise ConfigError(f"teacher {teacher_id} was trained on another dataset ({label}, fingerprint {theirs}; "
                          f"this run's is {fingerprint}): a teacher must have learnt the student's dataset")
    return record


def teacher_choices(records, fingerprint: str | None) -> dict[str, str]:
    """The runs of ``records`` that can teach a student on the dataset with ``fingerprint``:
    finished, evaluated, on that dataset, naming the studio's genres; run id -> a plain label
    (model, test accuracy per track, run id), the most accurate first."""
    from .runs.record import RunRecord

    out = []
    for r in records:
        rec = RunRecord.of(r)
        if (rec.get("status") != "finished" or rec.evaluation is None or rec.evaluation.track is None
                or (rec.get("dataset") or {}).get("fingerprint") != fingerprint
                or list(rec.get("classes") or GENRES) != list(GENRES)):
            continue
        acc = rec.evaluation.track.accuracy
        out.append((acc, rec.run_id, f"{rec.get('title') or rec.model} · {100 * acc:.1f} % · {rec.run_id}"))
    return {run_id: label for _, run_id, label in sorted(out, key=lambda t: -t[0])}


def teachers_dir() -> Path:
    from .paths import studio_home

    return studio_home() / "teachers"


class RunTeacher:
    """A finished run of the store as a teacher (the trainer's
    :class:`~gtzan_core.training.trainer.Teacher`), on the student's dataset at ``root``."""

    def __init__(self, store, teacher_id: str, dataset_info: dict, device: str = "cpu"):
        self.store, self.run_id, self.device = store, teacher_id, device
        self.dataset_info = dataset_info or {}
        self.record = check_teacher(store, teacher_id, self.dataset_info.get("fingerprint"))
        self.model_name = str(self.record.get("model"))
        self.sha256 = file_sha256(store.checkpoint_path(teacher_id))

    def facts(self) -> dict:
        return {"teacher": self.run_id, "teacher_model": self.model_name, "teacher_checkpoint_sha256": self.sha256}

    def check_held_out(self, track_ids: list[str]) -> None:
        """Refuse a teacher that trained or was chosen on one of ``track_ids`` (the student's test tracks)."""
        seen = set((self.record.get("split") or {}).get("seen_tracks") or [])
        if not seen:
            raise ConfigError(f"teacher {self.run_id}'s record does not say which tracks it trained on: it cannot "
                              "be shown to have left this run's test tracks unseen")
        both = sorted(seen & set(track_ids))
        if both:
            raise ConfigError(f"teacher {self.run_id} trained or was chosen on {len(both)} of this run's test tracks "
                              f"(e.g. {both[0]}): train the teacher with the same split (protocol and seed)")

    def track_probabilities(self, track_ids: list[str]) -> dict[str, np.ndarray]:
        """The teacher's probabilities for each of ``track_ids`` (its windows averaged), computed
        once per teacher, weights, dataset and set of tracks (then read from its file)."""
        wanted = sorted(set(track_ids))
        key = hashlib.sha256(json.dumps([self.run_id, self.sha256, self.dataset_info.get("fingerprint"), wanted])
                             .encode()).hexdigest()[:20]
        path = teachers_dir() / f"{self.run_id}-{key}.json"
        cached = _read_cache(path, wanted)
        if cached is not None:
            return cached
        out = self._compute(wanted)
        from .fileio import atomic_write_bytes

        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, json.dumps({"teacher": self.run_id, "sha256": self.sha256,
                                                 "tracks": {t: p.tolist() for t, p in out.items()}}).encode())
        except OSError as exc:  # (computed again next time)
            log.warning("teacher %s: its predictions could not be kept (%s)", self.run_id, exc)
        return out

    def _compute(self, wanted: list[str]) -> dict[str, np.ndarray]:
        from .data import open_dataset
        from .feature_cache import feature_request, load_features
        from .models import get_spec

        spec = get_spec(self.model_name)
        root = self.dataset_info.get("root")
        ds = open_dataset(root)
        image_source = ((self.record.get("job") or {}).get("image_source")) or "auto"
        fs = load_features(ds, **feature_request(self.model_name, image_source)).for_kind(spec.kind.name)
        samples, sample_track = spec.kind.samples(fs)
        ids = fs.tracks["track_id"].to_numpy().astype(str)[np.asarray(sample_track)]
        rows = np.flatnonzero(np.isin(ids, wanted))
        clips = [(str(ids[i]), int(i)) for i in rows]
        probs = self.predict(clips, samples[rows])
        out: dict[str, np.ndarray] = {}
        for track in wanted:
            mine = ids[rows] == track
            if mine.any():
                out[track] = probs[mine].mean(0).astype(np.float32)
        return out

    def predict(self, clips: list[tuple[str, int]], x: np.ndarray, batch: int = 64) -> np.ndarray:
        """The teacher's probabilities for its input ``x``, the samples ``clips`` (track id,
        sample index) of the training tracks: the one place its network runs."""
        import torch

        from .inference import load_run_model, probabilities
        from .models import get_spec

        model, _ = load_run_model(self.store, self.run_id, self.device)
        prep = get_spec(self.model_name).kind.batch_prep(get_spec(self.model_name))
        out = []
        with torch.no_grad():
            for i in range(0, len(x), batch):
                xb = prep(torch.from_numpy(np.ascontiguousarray(x[i:i + batch]))).to(self.device)
                out.append(probabilities(model(xb)))
        return np.concatenate(out) if out else np.zeros((0, len(GENRES)), np.float32)


def _read_cache(path: Path, wanted: list[str]) -> dict[str, np.ndarray] | None:
    try:
        data = json.loads(path.read_text())
        tracks = data["tracks"]
        return {t: np.asarray(tracks[t], np.float32) for t in wanted if t in tracks}
    except (OSError, ValueError, KeyError, TypeError):
        return None
