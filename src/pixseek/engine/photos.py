"""One indexed photo, named by its id (in search results) or by its path exactly as indexed:
its details, its stored vector, its thumbnail and its bytes. What a face may serve is only
what is in the index, read inside the indexed folders (the one containment check)."""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np

from pixseek import containment
from pixseek.engine.index import OpenIndex
from pixseek.engine.results import IndexedFile
from pixseek.errors import ImageError, PhotoNotIndexed
from pixseek.images import MAX_FILE_BYTES

MAX_ID = 2**63  # SQLite's integers: larger ids name no photo


def valid_id(id_: object) -> bool:
    """Whether `id_` can name a row at all: a whole number SQLite can hold (a huge, negative or
    fractional id from a URL names no photo rather than overflowing)."""
    return isinstance(id_, (int, np.integer)) and not isinstance(id_, bool) and bool(1 <= id_ < MAX_ID)


def path_of(index: OpenIndex, photo_id: int) -> str | None:
    if not valid_id(photo_id):
        return None
    return index.catalog.paths_for([photo_id]).get(int(photo_id))


def details(index: OpenIndex, photo_id: int) -> IndexedFile | None:
    if not valid_id(photo_id):
        return None
    info = index.catalog.file_info(photo_id)
    if info is None:
        return None
    path, size, mtime_ns, width, height, indexed_at = info
    return IndexedFile(int(photo_id), path, size, mtime_ns / 1e9, width, height, indexed_at)


def is_indexed(index: OpenIndex, path: str) -> bool:
    """True only for a file that is in the index, named exactly as indexed: normalising
    `x/link/../a.jpg` to `x/a.jpg` would vouch for another file."""
    return index.catalog.lookup(path) is not None


def vector(index: OpenIndex, path: str) -> np.ndarray | None:
    record = index.catalog.lookup(path)
    return None if record is None else index.catalog.vectors_for([record.id])[0]


def open_original(index: OpenIndex, path: str) -> BinaryIO:
    """The indexed file `path`, opened for reading inside the indexed folders (see containment)."""
    if not is_indexed(index, path):
        raise PhotoNotIndexed(f"not in the index: {path}")
    return containment.open_inside(path, index.catalog.roots())


def original(index: OpenIndex, path: str) -> bytes:
    with open_original(index, path) as opened:
        data = opened.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImageError("too large", f"over {MAX_FILE_BYTES // 2**20} MiB")
    return data


def thumbnail(index: OpenIndex, path: str, size: int) -> bytes:
    record = index.catalog.lookup(os.path.abspath(path))
    if record is None:
        raise PhotoNotIndexed(f"not in the index: {path}")
    return index.thumbnails.get(record.path, lambda: original(index, record.path), record.hash, size)
