"""The CLIP model layer: bundles on disk, the ONNX Runtime encoder, preprocessing, tokenizer.

Names are imported on first use, so that `pixseek --help` and the CLI's parser (which mounts the
model commands) do not pay for NumPy and Pillow.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what __getattr__ hands out, for the type checker ("X as X": re-exported)
    from pixseek.model.known_models import DEFAULT_MODEL as DEFAULT_MODEL
    from pixseek.model.bundle import Bundle as Bundle
    from pixseek.model.bundle import BundleConfig as BundleConfig
    from pixseek.model.bundle import find_bundle as find_bundle
    from pixseek.model.bundle import installed_bundles as installed_bundles
    from pixseek.model.encoder import Encoder as Encoder
    from pixseek.model.sources.checkpoint import export_checkpoint as export_checkpoint
    from pixseek.model.export import export_model as export_model
    from pixseek.model.export import export_random as export_random
    from pixseek.model.install import install_checkpoint as install_checkpoint
    from pixseek.model.install import install_from_hub as install_from_hub
    from pixseek.model.install import install_from_path as install_from_path

_HOMES = {
    "DEFAULT_MODEL": "known_models", "Bundle": "bundle", "BundleConfig": "bundle", "find_bundle": "bundle",
    "installed_bundles": "bundle", "Encoder": "encoder",
    "export_model": "export", "export_checkpoint": "sources.checkpoint", "export_random": "export",
    "install_from_hub": "install", "install_from_path": "install", "install_checkpoint": "install",
}

__all__ = sorted(_HOMES)  # noqa: PLE0605 (a list, built from the table above)


def __getattr__(name: str) -> object:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"pixseek.model.{_HOMES[name]}"), name)
