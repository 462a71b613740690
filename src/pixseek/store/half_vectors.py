"""A float16 copy of the catalog's vectors, one row per catalog id, for re-ranking at tens of millions.

An approximate index proposes ~100 candidates a query and re-ranks them with stored vectors. At
10M photos the catalog is 40 GiB: it cannot stay in the page cache of a 24 GB machine, and each
cold candidate is a random disk read (~5 ms on our VM). This file holds the same vectors in half
the bytes of the catalog's vectors alone (9.5 GiB at 10M), at a fixed offset per id, and is read
with `pread`: the pages stay in the page cache, not in the process's memory (re-ranking 100
candidates: 0.7 ms). float16 keeps a unit vector's cosines within ~1e-4 of float32.

It is derived from the catalog and may lag it. The header says through which catalog generation
every row is current; rows of ids added or changed after that are read from the catalog instead.
The index writer brings it up to date after each run: rows first (fsynced), then the header, so a
writer killed in between leaves a header that still tells the truth.
"""

from __future__ import annotations

import os
import struct
import threading
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pixseek import atomic
from pixseek.store.catalog import Catalog

FILE_NAME = "rerank.f16"
MAGIC = b"PXSKF16\x00"
HEADER = struct.Struct("<8sIIq")  # magic, format version, dimension, complete through generation
HEADER_BYTES = 64  # rows start here
VERSION = 1
CHECK_SAMPLES = 8  # rows compared with the catalog before a file is trusted
WRITE_BATCH = 65536
PREFETCH_CHUNK = 16 << 20


class HalfVectors:
    """An open copy: `read` returns rows, `generation` says through which catalog generation they
    are all current."""

    def __init__(self, path: Path, file: BinaryIO, dim: int, generation: int):
        self.path, self._file, self.dim, self.generation = path, file, dim, generation
        self._row = dim * 2
        self.resident = threading.Event()  # set once prefetch() has read the whole file
        self._stop = threading.Event()

    @classmethod
    def open(cls, folder: Path, catalog: Catalog) -> HalfVectors | None:
        """The copy in `folder` when it is whole and this catalog's, else None (the caller
        re-ranks from the catalog, and the writer rewrites it)."""
        path = Path(folder) / FILE_NAME
        try:
            file = open(path, "rb", buffering=0)  # read with pread only: no buffer, no shared offset
        except OSError:
            return None
        copy = cls(path, file, catalog.dim, -1)
        if not copy._reread_header(catalog) or not copy._agrees_with(catalog):
            copy.close()
            return None
        return copy

    def _reread_header(self, catalog: Catalog) -> bool:
        raw = os.pread(self._file.fileno(), HEADER.size, 0)
        if len(raw) < HEADER.size:
            return False
        magic, version, dim, generation = HEADER.unpack(raw)
        if magic != MAGIC or version != VERSION or dim != self.dim or generation > catalog.generation:
            return False  # not ours, or from a catalog that has since been restored to an older state
        self.generation = generation
        return True

    def _agrees_with(self, catalog: Catalog) -> bool:
        """Rows sampled over the ids match the catalog (a copy left by another index fails)."""
        with catalog.snapshot():
            samples = catalog.sample_vectors(self.generation, CHECK_SAMPLES)
        found, rows = self.read([id_ for id_, _ in samples])
        by_id = dict(zip(found, rows))
        return all(id_ in by_id and abs(float(by_id[id_] @ vector) - float(vector @ vector)) < 1e-2
                   for id_, vector in samples)

    def current(self, catalog: Catalog) -> bool:
        """Re-read the header; False when the file is gone or was replaced whole by the writer
        (the caller opens the new one) or is no longer usable."""
        try:
            if os.stat(self.path).st_ino != os.fstat(self._file.fileno()).st_ino:
                return False
        except OSError:
            return False
        return self._reread_header(catalog)

    def prefetch(self) -> None:
        """Read the whole file once, in the background, into the page cache: a query's ~100 rows
        are random reads, ~5 ms each from a cold disk and microseconds from memory. Skipped
        where the file could not stay cached (over half the machine's RAM)."""
        size = os.fstat(self._file.fileno()).st_size
        if size > _physical_memory() // 2:
            return
        threading.Thread(target=self._read_through, args=(size,), name="pixseek-prefetch", daemon=True).start()

    def _read_through(self, size: int) -> None:
        try:
            with open(self.path, "rb", buffering=0) as handle:  # its own descriptor: close() may come first
                for offset in range(0, size, PREFETCH_CHUNK):
                    if self._stop.is_set():
                        return
                    os.pread(handle.fileno(), PREFETCH_CHUNK, offset)
        except OSError:  # gone meanwhile: a new copy prefetches itself
            return
        self.resident.set()

    def read(self, ids: list[int]) -> tuple[list[int], np.ndarray]:
        """The ids that have a whole row in the file, and their rows as float32."""
        found, rows = [], []
        fd = self._file.fileno()
        for id_ in sorted(ids):
            raw = os.pread(fd, self._row, HEADER_BYTES + id_ * self._row) if id_ >= 0 else b""
            if len(raw) == self._row:
                found.append(id_)
                rows.append(raw)
        vectors = np.frombuffer(b"".join(rows), dtype=np.float16).reshape(-1, self.dim)
        return found, vectors.astype(np.float32)

    def close(self) -> None:
        self._stop.set()
        self._file.close()


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def update(folder: Path, catalog: Catalog) -> None:
    """Bring the copy in `folder` up to the catalog's generation: the rows changed since its
    header's generation, or the whole file when it is missing or unusable. Writer only."""
    path = Path(folder) / FILE_NAME
    for debris in Path(folder).glob(f".{FILE_NAME}.*.tmp"):  # from a writer that was killed
        debris.unlink(missing_ok=True)
    copy = HalfVectors.open(folder, catalog)
    if copy is None:
        _write_whole(path, catalog)
        return
    try:
        with catalog.snapshot():
            generation = catalog.generation
            if generation == copy.generation:
                return
            _, ids, vectors = catalog.changes_since(copy.generation)
        with open(path, "r+b") as handle:
            _write_rows(handle, catalog.dim, ids, vectors)
            handle.flush()
            os.fsync(handle.fileno())
            os.pwrite(handle.fileno(), _header(catalog.dim, generation), 0)
            os.fsync(handle.fileno())
    finally:
        copy.close()


def remove(folder: Path) -> None:
    """Drop the copy (the index no longer re-ranks from one)."""
    (Path(folder) / FILE_NAME).unlink(missing_ok=True)


def _write_whole(path: Path, catalog: Catalog) -> None:
    with catalog.snapshot(), atomic.replacing(path, sync=True) as handle:
        handle.write(_header(catalog.dim, catalog.generation))
        for ids, vectors in catalog.all_vectors(WRITE_BATCH):
            _write_rows(handle, catalog.dim, ids, vectors)


def _write_rows(handle: BinaryIO, dim: int, ids: np.ndarray, vectors: np.ndarray) -> None:
    """Each run of consecutive ids in one write at its offset (ids ascending)."""
    if not len(ids):
        return
    rows = np.ascontiguousarray(vectors, dtype=np.float16)
    breaks = np.flatnonzero(np.diff(ids) != 1) + 1
    for start, end in zip(np.r_[0, breaks], np.r_[breaks, len(ids)]):
        handle.seek(HEADER_BYTES + int(ids[start]) * dim * 2)
        handle.write(rows[start:end].tobytes())


def _header(dim: int, generation: int) -> bytes:
    return HEADER.pack(MAGIC, VERSION, dim, generation).ljust(HEADER_BYTES, b"\x00")
