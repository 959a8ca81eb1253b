"""Export a run's model to ONNX, with a model card that documents its input.

The ONNX graph is the model from its input tensor to its logits: for the MFCC
models a float32 (batch, frames, n_mfcc) array of per-segment MFCCs (any
standardisation the run learned is inside the graph); for musicnn a float32
(batch, 187, 96) array of log-mel patches; for the image models a float32
(batch, 3, size, size) normalised spectrogram image. Turning
audio into that input is documented in the card (``FILE.md`` beside
``FILE.onnx``). ``onnx`` is needed to export and ``onnxruntime`` to check; both
are optional extras (``pip install onnx onnxruntime``).
"""

from __future__ import annotations

import importlib.util
import io
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..fileio import check_new_file, write_new_file
from ..runs import RunStore
from .card import model_card

OPSET = 17


def onnx_available(check: bool = False) -> bool:
    """Whether ``onnx`` (and with ``check``, ``onnxruntime``) can be imported."""
    names = ("onnx", "onnxruntime") if check else ("onnx",)
    return all(importlib.util.find_spec(n) is not None for n in names)


def input_shape(meta: dict, record: dict) -> tuple[int, ...]:
    """The model's input shape for one item (without the batch axis), as its input kind says."""
    from ..inputs import kind_of

    return kind_of(record).run_input_shape(meta)


def onnx_card(record: dict, shape: tuple[int, ...], file_name: str) -> str:
    dims = ", ".join(str(d) for d in shape)
    return (model_card(record).replace("![confusion matrix](confusion.png)", "")
            + f"\n## ONNX\n\n`{file_name}` (opset {OPSET}): input `input`, float32 (batch, {dims}); output `logits`, "
              "float32 (batch, 10), in the class order above. The batch axis is dynamic. Apply a softmax to the "
              "logits and average over a clip's segments or windows, as the studio does.\n")


def export_onnx(store: RunStore, run_id: str, out: str | Path, check: bool = True, force: bool = False) -> dict:
    """Write ``out`` (.onnx) and its card (same name, .md), each as a new regular file,
    atomically (:func:`~gtzan_core.fileio.write_new_file`: a folder, device, FIFO, socket
    or link there is refused, and an existing file unless ``force``). With ``check`` and
    onnxruntime installed, compare onnxruntime's probabilities with torch's on a
    batch of inputs and return the largest difference (``max_abs_diff``)."""
    if not onnx_available():
        raise ConfigError("ONNX export needs the optional package onnx: pip install onnx onnxruntime")
    out = Path(out)
    if out.suffix.lower() != ".onnx":
        out = out.with_suffix(".onnx")
    card = out.with_suffix(".md")
    for target in (out, card):  # both, before anything is converted or written
        check_new_file(target, replace=force)
    import torch

    from ..inference import load_run_model

    record = store.read(run_id)
    model, meta = load_run_model(store, run_id)
    shape = input_shape(meta, record)
    gen = torch.Generator().manual_seed(0)
    example = torch.randn((2, *shape), generator=gen)
    buf = io.BytesIO()
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        # the recurrent models' batch axis is dynamic all the same (tested with other batch sizes)
        warnings.filterwarnings("ignore", message=".*batch_size other than 1.*")
        torch.onnx.export(model.cpu().eval(), (example,), buf, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=OPSET,
                          dynamo=False)
    existed = os.path.lexists(out)
    write_new_file(out, buf.getvalue(), replace=force)
    try:
        write_new_file(card, onnx_card(record, shape, out.name).encode(), replace=force)
    except BaseException:
        if not existed:
            out.unlink(missing_ok=True)  # this call made it: no model without its card
        raise
    result = {"onnx": str(out), "card": str(card), "input_shape": ["batch", *shape], "opset": OPSET}
    if check and onnx_available(check=True):
        probe = torch.randn((4, *shape), generator=gen)
        result["max_abs_diff"] = float(np.abs(onnx_probabilities(out, probe.numpy())
                                              - torch_probabilities(model, probe)).max())
    return result


def torch_probabilities(model, x) -> np.ndarray:
    import torch

    with torch.no_grad():
        return torch.softmax(model(torch.as_tensor(x)).float(), dim=-1).numpy()


def onnx_probabilities(path: str | Path, x: np.ndarray) -> np.ndarray:
    """Softmax of the ONNX model's logits for ``x`` (onnxruntime, CPU)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(["logits"], {"input": np.ascontiguousarray(x, dtype=np.float32)})[0]
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def onnx_bundle(store: RunStore, run_id: str) -> bytes:
    """``export_onnx``'s two files (RUN.onnx and its card RUN.md) as one zip, for a download."""
    import tempfile
    import zipfile

    with tempfile.TemporaryDirectory() as tmp:
        result = export_onnx(store, run_id, Path(tmp) / f"{run_id}.onnx")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for key in ("onnx", "card"):
                zf.write(result[key], Path(result[key]).name)
        return buf.getvalue()
