"""The FAISS vector index: an inner-product index over unit vectors, keyed by catalog row id.

It is a derived cache of the vectors in the catalog, saved as `vectors-<generation>.faiss`
(written to a temporary file, fsynced and renamed), so a reader always finds a whole file and
knows which catalog generation it reflects. The index type is chosen by a factory string, so
exact search (the default) can be swapped for an approximate one.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np

from pixseek.errors import IndexCorrupt

FILE_PATTERN = re.compile(r"^vectors-(\d{12})\.faiss$")
DEFAULT_KIND = "flat"


def _faiss():
    import faiss

    return faiss


class VectorIndex:
    def __init__(self, index, kind: str):
        self._index = index
        self.kind = kind

    @classmethod
    def empty(cls, dim: int, kind: str = DEFAULT_KIND) -> "VectorIndex":
        faiss = _faiss()
        if kind != "flat":
            raise ValueError(f"unknown vector index kind {kind!r}")
        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), kind)

    @property
    def ntotal(self) -> int:
        return self._index.ntotal

    @property
    def dim(self) -> int:
        return self._index.d

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the `k` nearest vectors to one query vector (ids -1 pad a short list)."""
        k = max(1, min(k, self.ntotal))
        scores, ids = self._index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k)
        return scores[0], ids[0]

    # -- files ------------------------------------------------------------------------------

    def save(self, folder: Path, generation: int) -> Path:
        faiss = _faiss()
        folder = Path(folder)
        target = folder / f"vectors-{generation:012d}.faiss"
        fd, tmp = tempfile.mkstemp(prefix=".vectors-", suffix=".tmp", dir=folder)
        os.close(fd)
        try:
            faiss.write_index(self._index, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        for old in saved_files(folder):
            if old[1] != target:
                old[1].unlink(missing_ok=True)
        return target

    @classmethod
    def load(cls, path: Path, dim: int) -> "VectorIndex":
        faiss = _faiss()
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorrupt(f"{path.name} is damaged ({str(exc).splitlines()[0][:80]})") from None
        if index.d != dim:
            raise IndexCorrupt(f"{path.name} holds {index.d}-d vectors, the catalog {dim}-d")
        return cls(index, DEFAULT_KIND)


def saved_files(folder: Path) -> list[tuple[int, Path]]:
    """Saved vector files in `folder`, newest generation first."""
    found = []
    for child in Path(folder).iterdir() if Path(folder).is_dir() else []:
        match = FILE_PATTERN.match(child.name)
        if match:
            found.append((int(match.group(1)), child))
    return sorted(found, reverse=True)
