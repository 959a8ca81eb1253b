"""Spectrogram pictures: the input of VGG19, ResNeXt, SqueezeNet and EfficientNet-Lite0.

One picture per track, at the model's own input size (``ModelSpec.image_size``):
the dataset's Kaggle PNG under the ``auto`` source, or drawn from the audio in the
same style (:mod:`gtzan_core.spectrogram`); ``image_sources`` records how many of
each. The split is by track (the paper protocol: 80:20 over pictures, one per
track). A clip of GTZAN's length is one window drawn whole; a longer one is cut into
30 s windows. A track with a PNG and no audio serves these models only.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..errors import AudioError, ConfigError
from ..features import ImageParams, MFCCParams, normalize_images, read_image_file, spectrogram_input
from ..spectrogram import resize_image
from .base import Clip, InputKind, KindRows, ModelInput, TrackSource, mfcc_mismatch


def image_windows(y: np.ndarray, mfcc: MFCCParams, image: ImageParams) -> tuple[np.ndarray, np.ndarray]:
    """Model input images for each 30 s window: (n, size, size, 3) and start times.

    A clip of GTZAN's length (up to 5 % over ``track_seconds``) is one window drawn
    whole, as the dataset's pictures are; a longer one is cut into 30 s windows (a
    last window of at least one segment is kept, zero-padded)."""
    from ..spectrogram.kaggle import WHOLE_CLIP_SLACK

    win = mfcc.track_samples
    if len(y) <= win * WHOLE_CLIP_SLACK:
        return spectrogram_input(y, mfcc, image)[None], np.zeros(1)
    starts = [s for s in range(0, len(y), win) if len(y) - s >= mfcc.samples_per_segment]
    imgs = np.stack([spectrogram_input(y[s:s + win], mfcc, image) for s in starts])
    return imgs, np.array(starts) / mfcc.sr


def track_picture(y: np.ndarray | None, image_path: str | None, mp: MFCCParams, image: ImageParams, name: str,
                  notes: list[str], also: str = "") -> tuple[np.ndarray, str]:
    """A dataset track's picture and its source (``png``, ``render`` or ``none``) for the
    feature cache: under the ``auto`` source its PNG, or (no PNG, or an unreadable one: a
    note in ``notes`` says why) drawn from its audio ``y`` (None: the track has no audio) in
    the same style. :class:`AudioError` when nothing usable can be made (``also`` names the
    other inputs that need the audio, in the message)."""
    if y is None and image.source in ("none", "render"):
        raise AudioError(f"{name}: a picture without audio; the {also}MFCC inputs and pictures drawn from audio "
                         "need the clip")
    if image.source == "none":
        return np.zeros((0, 0, 3), np.uint8), "none"
    if image.source == "png" and image_path is None:
        raise AudioError(f"{name}: no spectrogram PNG (image source 'png' requested)")
    if image_path is not None and image.source in ("auto", "png"):
        try:
            return resize_image(read_image_file(image_path), image.size), "png"
        except AudioError as exc:
            if image.source == "png" or y is None:
                raise
            notes.append(f"{exc}; drawn from the audio instead")
    assert y is not None  # a track without audio has a PNG here, or was refused above
    return spectrogram_input(y, mp, image), "render"


def picture_warning(record: dict, image: ImageParams) -> str | None:
    """Why an upload's picture may not look like what an image run trained on, or None.

    The picture of an upload is drawn in the run's own style. It differs from the
    run's training pictures only when the run trained on the dataset's PNGs and its
    style is not the Kaggle one (runs from before picture styles, drawn full-bleed,
    pixel correlation with the PNGs about 0); the Kaggle style matches the PNGs
    (correlation >= 0.99 on the real pairs, ``bench/render.py``)."""
    from ..spectrogram import DEFAULT_STYLE, DESCRIPTIONS

    sources = record.get("image_sources") or {}
    if not sources.get("png") or image.style == DEFAULT_STYLE:
        return None
    mix = ", ".join(f"{n} {k}" for k, n in sources.items())
    return (f"{record.get('title', record.get('model', '?'))} ({record.get('run_id', '?')}) was trained on the "
            f"dataset's PNG spectrograms ({mix}), but its pictures of new audio are drawn in the style it was "
            f"trained with, '{image.style}' ({DESCRIPTIONS.get(image.style, '?')}): its predictions on uploads "
            "are unreliable. Train it again to use the Kaggle style.")


def _memo_key(image: ImageParams) -> tuple:
    return ("image", dataclasses.replace(image, source="auto").key())  # the source does not change a drawing


def clip_windows(clip: Clip, image: ImageParams) -> tuple[np.ndarray, np.ndarray]:
    """:func:`image_windows` of ``clip``, drawn once per picture parameters."""
    return clip.cached(_memo_key(image), lambda: image_windows(clip.y, clip.mfcc, image))


def first_picture(clip: Clip, image: ImageParams) -> np.ndarray:
    """The clip's first window as ``image`` draws it (spanning the whole clip or its first
    30 s, as :func:`image_windows`' first window does), without drawing every window of a
    long clip unless a run already did."""
    drawn = clip.memo.get(_memo_key(image))
    return drawn[0][0] if drawn is not None else spectrogram_input(clip.y, clip.mfcc, image)


def _normalization(spec) -> str:
    return spec.normalization if spec is not None else "imagenet"


class ImageKind(InputKind):
    name = "image"
    unit = "image"
    window_unit = "window"
    whole_what = "one spectrogram picture"
    predict_batch = 4
    per_track = False
    needs_audio = False
    reads_pictures = True
    reads_files = True
    held_words = "pictures only, so only the image models can train on it"
    missing_what = "spectrogram pictures"
    grid = False

    def check_spec(self, spec) -> None:
        if not spec.image_size:
            raise ConfigError(f"{spec.name}: a model on pictures needs its image_size")

    def param_mismatch(self, clip: Clip, meta: dict) -> list[str]:
        return mfcc_mismatch(clip, meta)

    def params(self) -> ImageParams:
        return ImageParams()

    def feature_request(self, spec, source: str = "auto") -> dict:
        # the MFCC grid the pictures are drawn on (its parameters recorded with the run), and the pictures
        return {"mfcc": MFCCParams(), self.name: ImageParams(size=spec.image_size or ImageParams.size, source=source)}

    def wanted(self, params) -> bool:
        return params.wanted

    def extract_track(self, track: TrackSource, params) -> KindRows | None:
        mp = track.request.get("mfcc") or MFCCParams()
        y = track.audio.at(mp.sr) if track.audio is not None else None
        picture, source = track_picture(y, track.files.get("image_path"), mp, params, track.name, track.notes)
        return KindRows(params, picture[None], np.zeros(1, np.int32), columns={"image_source": source})

    def view(self, clip: Clip, params=None) -> np.ndarray:
        """The first window's model input picture (uint8 RGB) as ``params`` draw it, drawn once
        (taken from a picture run's windows when one drew them)."""
        params = params or clip.params.get(self.name) or ImageParams()
        return clip.cached(("first picture", params.key()), lambda: first_picture(clip, params))

    def record_params(self, params) -> dict:
        # the MFCC grid the pictures were drawn on, when no MFCC input was recorded beside them
        return {"image_params": params.as_dict(), "mfcc_params": MFCCParams().as_dict()}

    def check_features(self, fs, spec) -> None:
        if self.name not in fs.inputs or not len(fs.inputs[self.name].x):
            raise ConfigError("these features were extracted without spectrogram images (image source 'none')")
        images = fs.inputs[self.name].x
        if images.shape[1] != spec.image_size:
            raise ConfigError(f"{spec.title} takes {spec.image_size}² images; these features hold "
                              f"{images.shape[1]}² (load them with image_params_for('{spec.name}'))")

    def batch_prep(self, spec):
        """uint8 pictures -> the float tensor the model takes (its own normalisation)."""
        return functools.partial(normalize_images, normalization=_normalization(spec))

    def record_facts(self, fs) -> dict:
        sources = ({str(k): int(v) for k, v in fs.tracks["image_source"].value_counts().items()}
                   if "image_source" in fs.tracks else {})
        return {"image_sources": sources, "padded_inputs": None}

    def input_shape(self, spec, frames: int = 130, n_mfcc: int = 13):
        return (3, spec.image_size, spec.image_size)

    def run_input_shape(self, meta: dict):
        size = int((meta.get("image_params") or {}).get("size", 224))
        return (3, size, size)

    def run_warnings(self, record: dict, meta: dict) -> list[str]:
        try:  # drawn as the run's own pictures were: its style, its input size
            image = ImageParams.of_run(meta.get("image_params"))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"its picture parameters cannot be used here ({exc})") from None
        warning = picture_warning(record, image)
        return [warning] if warning else []

    def model_input(self, clip: Clip, meta: dict, spec=None) -> ModelInput:
        # drawn as the run's own pictures were (its style and input size)
        from ..spectrogram.kaggle import WHOLE_CLIP_SLACK

        images, starts = clip_windows(clip, ImageParams.of_run(meta.get("image_params")))
        # a clip of GTZAN's length is one window drawn whole, spanning all of it; a longer one is cut into 30 s
        whole = len(clip.y) <= clip.mfcc.track_samples * WHOLE_CLIP_SLACK
        ends = np.full(1, clip.duration) if whole else starts + clip.mfcc.track_seconds
        return ModelInput(self.name, normalize_images(images, _normalization(spec)), starts,
                          clip.mfcc.track_seconds, images, ends)

    def explanation_display(self, inp: ModelInput) -> np.ndarray:
        return np.concatenate(list(inp.display), axis=1)

    def map_size(self, x):
        return tuple(x.shape[2:])

    def top_cells(self, inp: ModelInput) -> tuple[int, int]:
        tile = max(1, inp.x.shape[-1] // 8)  # one tile of the occlusion grid
        return tile, tile

    def layout(self, values_rows, inp, mfcc, meta):
        from ..numba_cache import librosa_module
        from ..spectrogram import DEFAULT_STYLE, style_of
        from ..spectrogram.similarity import box_at

        librosa = librosa_module()  # never librosa itself: see numba_cache

        if style_of(meta.get("image_params")) == DEFAULT_STYLE:  # the Kaggle picture: only its plot box is the clip
            rows, cols = box_at(values_rows.shape[1])
            values_rows = values_rows[:, rows, cols]
        height, width = values_rows.shape[1:]  # (rows, H, W): image row 0 is the top (high frequencies)
        values = np.concatenate(list(values_rows), axis=1)[::-1]  # low frequencies first
        times = (np.repeat(inp.starts, width)
                 + np.tile((np.arange(width) + 0.5) / width * inp.seconds, len(inp.starts)))
        n_mels = int((meta.get("image_params") or {}).get("n_mels", 128))
        mel_hz = librosa.mel_frequencies(n_mels=n_mels, fmax=mfcc.sr / 2)
        bands = mel_hz[np.minimum(((np.arange(height) + 0.5) / height * n_mels).astype(int), n_mels - 1)]
        return values, times, bands, "Hz"

    def heatmap(self, display, times, bands):
        x = np.linspace(times[0], times[-1], display.shape[1])
        return (dict(z=display[::-1].mean(2), x=x, colorscale="Magma", hoverinfo="skip"),
                np.arange(len(bands)), "frequency (low → high)")

    def preprocessing_text(self, record: dict, spec=None) -> str:
        from ..spectrogram import DEFAULT_STYLE, style_of

        m = record.get("mfcc_params") or {}
        im = record.get("image_params") or {}
        scale = ("scaled to [-1, 1] (mean = std = 0.5, as EfficientNet-Lite's TensorFlow weights expect)"
                 if _normalization(spec) == "inception" else
                 "scaled to [0, 1] and normalised with ImageNet mean (0.485, 0.456, 0.406) and std "
                 "(0.229, 0.224, 0.225)")
        if style_of(im) == DEFAULT_STYLE:
            return (f"Decode to mono float32 at {m.get('sr')} Hz; a clip of up to 31.5 s is one window drawn whole, "
                    "a longer one is cut into 30 s windows (zero-pad the last). Per window, the picture of GTZAN's "
                    "Kaggle PNGs: `librosa.amplitude_to_db(melspectrogram(y, sr, n_fft="
                    f"{m.get('n_fft')}, hop_length={m.get('hop_length')}, n_mels={im.get('n_mels')}), ref=np.max)` "
                    "drawn by `librosa.display.specshow` (magma, min..max) on a 432x288 white figure, data area x "
                    "53.0-387.8, y 34.6-252.0 px, thin black frame, no ticks (`gtzan_core.spectrogram.kaggle`); "
                    f"RGB, resized to {im.get('size')}x{im.get('size')} (INTER_AREA), {scale}. Input: float32 "
                    f"(batch, 3, {im.get('size')}, {im.get('size')}). Output: logits; softmax, then average a "
                    "clip's windows.")
        return (f"Decode to mono float32 at {m.get('sr')} Hz; take 30 s windows (zero-pad the last). Per window: mel "
                f"power spectrogram (n_fft {m.get('n_fft')}, hop {m.get('hop_length')}, {im.get('n_mels')} mels), "
                "`librosa.power_to_db(S, ref=np.max, top_db=80)`, scaled to 0-255, low frequencies at the bottom, "
                f"resized to {im.get('render_width')}x{im.get('render_height')} (bilinear), OpenCV MAGMA colour "
                f"map, RGB; then resized to {im.get('size')}x{im.get('size')} (INTER_AREA), {scale}. Input: float32 "
                f"(batch, 3, {im.get('size')}, {im.get('size')}). Output: logits; softmax, then average a clip's "
                "windows.")

    def checkpoint_mismatch(self, meta: dict, record: dict) -> str | None:
        if (meta.get("image_params") or {}).get("size") != (record.get("image_params") or {}).get("size"):
            return "image sizes differ"
        return None


KIND = ImageKind()
