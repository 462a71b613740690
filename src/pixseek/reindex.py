"""Rebuilding an index for another model, without losing the old one until the new one is complete.

Vectors of different models cannot be mixed, so a new model means embedding every photo again:
hours for a large collection. The new index is built in a hidden folder beside the old one
(`.NAME.reindex`), by the ordinary incremental indexer, so an interrupted rebuild resumes where it
stopped; meanwhile the old index answers searches. Only when the new one is complete are they
swapped, in two renames; a process killed between them leaves a `reindex.complete` mark that the
next open of the index finishes.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from pixseek.errors import PixseekError
from pixseek.store.catalog import CATALOG_NAME, Catalog

COMPLETE_MARK = "reindex.complete"


def staging_dir(index_dir: Path) -> Path:
    return index_dir.parent / f".{index_dir.name}.reindex"


def _previous_dir(index_dir: Path) -> Path:
    return index_dir.parent / f".{index_dir.name}.previous"


def staged_model(index_dir: Path) -> str | None:
    """The model id of a rebuild in progress (None when there is none, or it cannot be read)."""
    staging = staging_dir(index_dir)
    if not (staging / CATALOG_NAME).is_file():
        return None
    try:
        catalog = Catalog.open(staging, create=False)
    except PixseekError:
        return None
    try:
        return catalog.model_id
    finally:
        catalog.close()


def discard_staging(index_dir: Path) -> None:
    shutil.rmtree(staging_dir(index_dir), ignore_errors=True)


def mark_complete(index_dir: Path) -> None:
    (staging_dir(index_dir) / COMPLETE_MARK).touch()


def swap_in(index_dir: Path) -> None:
    """Put the completed rebuild in the old index's place; the old one is deleted after."""
    staging, previous = staging_dir(index_dir), _previous_dir(index_dir)
    shutil.rmtree(previous, ignore_errors=True)
    if index_dir.exists():
        os.rename(index_dir, previous)
    os.rename(staging, index_dir)
    (index_dir / COMPLETE_MARK).unlink(missing_ok=True)
    shutil.rmtree(previous, ignore_errors=True)


def finish_interrupted_swap(index_dir: Path) -> bool:
    """Complete a swap that a killed process left half done; True if there was one."""
    if (staging_dir(index_dir) / COMPLETE_MARK).is_file() and not (index_dir / CATALOG_NAME).is_file():
        swap_in(index_dir)
        return True
    try:
        (index_dir / COMPLETE_MARK).unlink(missing_ok=True)  # left by a swap killed at its last step
    except OSError:  # a read-only index: the mark is harmless
        pass
    return False
