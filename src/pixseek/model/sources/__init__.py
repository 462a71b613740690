"""Hub layouts: one module per way that a CLIP model is published, each turning its files into a
pixseek bundle at install. A layout module has

    NAME, DESCRIPTION
    locate(names) -> str | None     the folder prefix ("" or "sub/") of this layout among file
                                    paths (a repo's listing, a folder's files), or None
    files(root) -> (required, optional)   the repo paths to fetch, nothing else
    convert(folder, workdir, model_id) -> Path    write a bundle at `workdir` from `folder`

and optionally `more_files(folder)` (paths known once the first files are here, relative to the
layout's folder) and `NEEDS_EXPORT` (the route needs PyTorch). Towers' external weight files
are found from the graphs for every layout.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from types import ModuleType

from pixseek.errors import ModelInvalid
from pixseek.model.sources import checkpoint, immich, pixseek_bundle, rclip, xenova

# In the order they are tried: a pixseek bundle first, a PyTorch checkpoint (which Xenova's repos
# also look like, config.json and all) last.
LAYOUTS: tuple[ModuleType, ...] = (pixseek_bundle, xenova, immich, rclip, checkpoint)
BY_NAME = {layout.NAME: layout for layout in LAYOUTS}


def detect(names: Collection[str]) -> tuple[ModuleType, str] | None:
    """The first layout found among file paths, and its folder prefix."""
    names = set(names)
    for layout in LAYOUTS:
        root = layout.locate(names)
        if root is not None:
            return layout, root
    return None


def folder_files(folder: Path) -> list[str]:
    """Every file under `folder`, as paths relative to it (what a repo listing would say)."""
    found = []
    for parent, _, names in os.walk(folder):
        relative = Path(parent).relative_to(folder)
        found += [(relative / name).as_posix() for name in names]
    return found


def detect_folder(folder: Path, shown_as: Path | str) -> tuple[ModuleType, Path]:
    """The layout of a model folder copied in by hand (or unpacked from `shown_as`), and the
    folder its files are relative to."""
    found = detect(folder_files(folder))
    if found is None:
        raise ModelInvalid(f"{shown_as} holds no model in a layout pixseek knows ({describe_layouts()})")
    layout, root = found
    return layout, folder / root


def describe_layouts() -> str:
    return "; ".join(f"{layout.NAME}: {layout.DESCRIPTION}" for layout in LAYOUTS)
