"""Share a trained run: a self-checking zip archive (export / import) with a model
card, and an ONNX export of the model for use outside the studio."""

from .archive import ArchiveError, ImportResult, export_archive, import_archive, read_archive
from .card import confusion_png, model_card, preprocessing_text
from .onnx_export import export_onnx, onnx_available, onnx_bundle

__all__ = ["ArchiveError", "ImportResult", "export_archive", "import_archive", "read_archive", "confusion_png",
           "model_card", "preprocessing_text", "export_onnx", "onnx_available",
           "onnx_bundle"]
