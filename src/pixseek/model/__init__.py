"""The CLIP model layer: bundles on disk, the ONNX Runtime encoder, preprocessing, tokenizer.

Names are imported on first use, so that `pixseek --help` and the CLI's parser (which mounts the
model commands) do not pay for NumPy and Pillow.
"""

from __future__ import annotations

import importlib

_HOMES = {
    "DEFAULT_MODEL": "known_models", "Bundle": "bundle", "BundleConfig": "bundle", "find_bundle": "bundle",
    "installed_bundles": "bundle", "Encoder": "encoder",
    "export_model": "export", "export_checkpoint": "sources.checkpoint", "export_random": "export",
    "install_from_hub": "install", "install_from_path": "install", "install_checkpoint": "install",
}

__all__ = sorted(_HOMES)  # noqa: PLE0605 (a list, built from the table above)


def __getattr__(name: str):
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"pixseek.model.{_HOMES[name]}"), name)
