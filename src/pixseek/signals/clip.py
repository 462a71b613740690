"""The CLIP vector: the signal every search ranks by.

Reads the decoded image (preprocessed for the model in the decode worker), and embeds a batch's
pixels in one encoder call. Its rows are the `vectors` table: one float32 vector a file row,
whose id is also the FAISS id; the vector index and its float16 copy are caches built from these
rows by generation (store/live_index.py, store/half_vectors.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from pixseek.signals.base import FileData, Reads, Signal, SignalRows
from pixseek.store.sqlite import rows_for

if TYPE_CHECKING:
    from pixseek.model import Encoder

Preprocess = Callable[[Image.Image], np.ndarray]


class VectorRows(SignalRows):
    schema = "CREATE TABLE IF NOT EXISTS vectors (id INTEGER PRIMARY KEY, vector BLOB NOT NULL);"

    @property
    def dim(self) -> int:
        """The vectors' size, from the catalog's meta table (set when the index was made)."""
        return int(self.db.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()[0])

    def write(self, rows: Sequence[tuple[int, Any]], generation: int) -> None:
        self.db.executemany("INSERT OR REPLACE INTO vectors (id, vector) VALUES (?, ?)",
                            [(i, np.ascontiguousarray(v, dtype=np.float32).tobytes()) for i, v in rows])

    def read(self, ids: Iterable[int]) -> dict[int, Any]:
        found, vectors = self.stored(list(ids))
        return dict(zip(found, vectors))

    def delete(self, ids: Sequence[int]) -> None:
        self.db.executemany("DELETE FROM vectors WHERE id = ?", [(i,) for i in ids])

    def stored(self, ids: list[int]) -> tuple[list[int], np.ndarray]:
        """The ids among `ids` that still have a row, in the given order, and their vectors."""
        rows = dict(rows_for(self.db, "SELECT id, vector FROM vectors WHERE id IN ({})", ids))
        found = [i for i in ids if i in rows]
        return found, self.matrix([rows[i] for i in found])

    def matrix(self, blobs: list[bytes]) -> np.ndarray:
        if not blobs:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), self.dim)

    def every(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) for every file, in batches, for rebuilding the vector index."""
        cursor = self.db.execute("SELECT id, vector FROM vectors ORDER BY id")
        while rows := cursor.fetchmany(batch):
            yield np.array([r[0] for r in rows], dtype=np.int64), self.matrix([r[1] for r in rows])

    def sample(self, generation: int, count: int) -> list[tuple[int, np.ndarray]]:
        """Up to `count` (id, vector) pairs spread over the ids, from rows that existed at
        `generation` (rowid seeks only: cheap on any size of catalog)."""
        low, high = self.db.execute("SELECT MIN(id), MAX(id) FROM files").fetchone()
        picks = {}
        for point in np.linspace(low, high, count).astype(int) if low is not None else []:
            row = self.db.execute("SELECT f.id, f.gen, v.vector FROM files f JOIN vectors v ON v.id = f.id "
                                  "WHERE f.id >= ? ORDER BY f.id LIMIT 1", (int(point),)).fetchone()
            if row and row[1] <= generation:
                picks[row[0]] = self.matrix([row[2]])[0]
        return list(picks.items())

    def added_since(self, generation: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids, vectors) of the file rows added after `generation`."""
        rows = self.db.execute(
            "SELECT v.id, v.vector FROM files f JOIN vectors v ON v.id = f.id WHERE f.gen > ? ORDER BY v.id",
            (generation,)).fetchall()
        return np.array([r[0] for r in rows], dtype=np.int64), self.matrix([r[1] for r in rows])


class ClipVectors(Signal):
    name = "clip"
    reads = Reads.IMAGE
    rows = VectorRows
    required = True

    def __init__(self, min_side: int, preprocess: Preprocess, encode: Callable[[np.ndarray], np.ndarray] | None = None):
        """`encode` is None where another process embeds the pixels (a cluster node's decoder)."""
        self.min_side = min_side
        self._preprocess = preprocess
        self._encode = encode

    @classmethod
    def for_run(cls, encoder: Encoder | None) -> Signal | None:
        return None if encoder is None else cls(encoder.image_size, encoder.preprocess, encoder.encode_pixels)

    def read(self, file: FileData) -> np.ndarray:
        assert file.image is not None  # an image signal is given the decoded image
        return self._preprocess(file.image)

    def complete(self, raw: list[Any]) -> list[Any]:
        if self._encode is None:
            raise RuntimeError("these pixels are embedded elsewhere (a cluster node's decoder has no encoder)")
        return list(self._encode(np.stack(raw)))
