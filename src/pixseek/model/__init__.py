"""The CLIP model layer: bundles on disk, the ONNX Runtime encoder, preprocessing, tokenizer."""

from pixseek.model.bundle import DEFAULT_MODEL, Bundle, find_bundle, installed_bundles
from pixseek.model.encoder import Encoder

__all__ = ["DEFAULT_MODEL", "Bundle", "Encoder", "find_bundle", "installed_bundles"]
