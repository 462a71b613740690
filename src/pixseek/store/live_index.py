"""A vector index kept in step with the catalog.

On open it loads the newest saved FAISS file and replays the catalog changes made after it
(or rebuilds from the catalog's stored vectors when the file is missing, damaged, inconsistent
or far behind, never by re-embedding). Before each search it replays whatever other processes
have committed since, so a search always reflects the last committed state.

The writer (`save`, after each index run) also picks the index kind for the collection's size
(see vector_index.Spec) and rebuilds when the collection has outgrown the one it has. Results
from an approximate index are re-ranked with the catalog's exact vectors, which also drops any
row removed since the index was last updated; at tens of millions, with a float16 copy of them
that fits the page cache (half_vectors.py), falling back to the catalog for rows it lacks.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from pixseek.errors import IndexCorrupt
from pixseek.store import half_vectors
from pixseek.store.catalog import Catalog
from pixseek.store.half_vectors import HalfVectors
from pixseek.store.vector_index import KINDS, Spec, VectorIndex, rerank, saved_files

log = logging.getLogger(__name__)
SETTING_KEY = "vector_index_setting"  # "auto", or a kind forced by the user
DESCRIPTION_KEY = "vector_index"  # what the last save wrote, for tools that read only the catalog
CHECK_SAMPLES = 8  # stored vectors looked up in a loaded file before it is trusted
NO_HALF_COPY = ("the float16 copy of the vectors is missing or out of date: searches re-rank from the catalog "
                "(slower) until the next index run writes it")


def drop_derived_files(folder: Path) -> int:
    """Remove what was derived from a catalog that is gone (saved FAISS files, the float16 copy),
    so that none of it is mixed with a new one; returns how many FAISS files there were."""
    stale = saved_files(folder)
    for _, path in stale:
        path.unlink(missing_ok=True)
    half_vectors.remove(folder)
    return len(stale)


class LiveVectorIndex:
    def __init__(self, folder: Path, catalog: Catalog):
        self.folder = Path(folder)
        self.catalog = catalog
        self.notes: list[str] = []  # what opening had to repair, for status and the faces
        self.lock = threading.RLock()  # also guards the catalog connection's snapshots (see facets.py)
        self.generation, self.index = self._load()
        self.half: HalfVectors | None = None  # the float16 copy re-ranked from, when the kind has one
        self._stale: set[int] = set()  # ids whose rows in it are older than the catalog's
        self.refresh()
        self._follow_half_copy()
        if self.index.spec.reranks_from_copy and self.half is None:
            self._note(NO_HALF_COPY)

    @property
    def setting(self) -> str:
        value = self.catalog.meta(SETTING_KEY, "auto")
        return value if value in KINDS else "auto"

    def _load(self) -> tuple[int, VectorIndex]:
        files = saved_files(self.folder)
        if files:
            generation, path = files[0]
            if generation <= self.catalog.generation:
                try:
                    index = VectorIndex.load(path, self.catalog.dim)
                    self._check(index, generation, path)
                    return generation, index
                except IndexCorrupt as exc:
                    self._note(f"{exc}; rebuilt from the catalog's stored vectors")
            else:
                self._note(f"{path.name} is newer than the catalog; rebuilt from the catalog's stored vectors")
        return self._rebuild()

    def _check(self, index: VectorIndex, generation: int, path: Path) -> None:
        """A file that loads may still hold another index's vectors (a restore from the wrong
        backup; generations of young indexes collide): its size must match the catalog's, and
        vectors sampled from the catalog must find themselves in it."""
        with self.catalog.snapshot():
            current, count = self.catalog.generation, self.catalog.count()
            samples = self.catalog.sample_vectors(generation, CHECK_SAMPLES)
        if generation == current and index.ntotal != count:
            raise IndexCorrupt(f"{path.name} holds {index.ntotal} vectors for {count} files")
        for id_, vector in samples:
            ids = [int(i) for i in index.search(vector, index.candidates(8))[1] if i >= 0]
            if id_ not in ids and not any(np.dot(v, vector) > 0.999 for v in self.catalog.stored_vectors(ids)[1]):
                raise IndexCorrupt(f"{path.name} does not hold this catalog's vectors")

    def _rebuild(self) -> tuple[int, VectorIndex]:
        with self.catalog.snapshot():
            generation = self.catalog.generation
            count = self.catalog.count()
            spec = Spec.choose(count, self.setting)
            index = VectorIndex.build(self.catalog.dim, spec, self.catalog.all_vectors, count)
        return generation, index

    def _note(self, message: str) -> None:
        log.warning(message)
        self.notes.append(message)

    def refresh(self) -> None:
        """Replay catalog changes committed since our generation; rebuild if the counts disagree."""
        with self.lock:
            if self.catalog.generation == self.generation:
                return
            with self.catalog.snapshot():
                expected = self.catalog.count()
                far_behind = expected > 2 * self.index.ntotal + 1000  # one build beats replaying
                if not far_behind:
                    current = self.catalog.generation
                    removed, added_ids, added_vectors = self.catalog.changes_since(self.generation)
            if far_behind:
                self.generation, self.index = self._rebuild()
            else:
                self.index.remove(removed)
                self.index.add(added_ids, added_vectors)
                self.generation = current
                if self.index.ntotal != expected:
                    self._note(f"vector index held {self.index.ntotal} vectors for {expected} files; rebuilt")
                    self.generation, self.index = self._rebuild()
            self._follow_half_copy()

    def _follow_half_copy(self) -> None:
        """Open or re-read the float16 copy, and note which rows in it are stale (changed since
        its header's generation: read before the catalog, so the set can only be too large)."""
        if not self.index.spec.reranks_from_copy:
            self._close_half_copy()
            return
        if self.half is None or not self.half.current(self.catalog):
            self._close_half_copy()
            self.half = HalfVectors.open(self.folder, self.catalog)
            if self.half is not None:
                self.half.prefetch()
        if self.half is not None:
            with self.catalog.snapshot():
                self._stale = set(self.catalog.changed_since(self.half.generation).tolist())

    def close(self) -> None:
        with self.lock:
            self._close_half_copy()

    def _close_half_copy(self) -> None:
        if self.half is not None:
            self.half.close()
        self.half, self._stale = None, set()

    def _stored_vectors(self, ids: list[int]) -> tuple[list[int], np.ndarray]:
        """Vectors to re-rank with: from the float16 copy where its rows are current, the rest
        (and all, without a copy) from the catalog."""
        if self.half is None:
            return self.catalog.stored_vectors(ids)
        found, vectors = self.half.read([i for i in ids if i not in self._stale])
        have = set(found)
        more, more_vectors = self.catalog.stored_vectors([i for i in ids if i not in have])
        return found + more, np.concatenate([vectors, more_vectors])

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the `k` best matches (among `allowed` ids, when given), exact scores
        from the stored vectors."""
        with self.lock:
            self.refresh()
            if self.index.ntotal == 0 or (allowed is not None and len(allowed) == 0):
                return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
            scores, ids = self.index.search(query, self.index.candidates(k), allowed)
            if not self.index.approximate:
                return scores, ids
            scores, ids = rerank(query, ids, self._stored_vectors)
            return scores[:k], ids[:k]

    def neighbours(self, queries: np.ndarray, k: int, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            self.refresh()
            return self.index.neighbours(queries, k, nprobe)

    def save(self) -> None:
        """Write the index at its generation (call after committing; readers then replay less),
        first rebuilding it when the collection has outgrown its kind or the setting changed."""
        with self.lock:
            for debris in self.folder.glob(".vectors-*.tmp"):  # from a save that was killed; we are the writer
                debris.unlink(missing_ok=True)
            self.refresh()
            rebuild = self.index.spec.outgrown(self.index.ntotal, self.setting)
            if rebuild:
                self.generation, self.index = self._rebuild()
            newest = saved_files(self.folder)[:1]
            if rebuild or not newest or newest[0][0] != self.generation:  # a no-op run rewrites nothing
                self.index.save(self.folder, self.generation)
            if self.index.spec.reranks_from_copy:
                half_vectors.update(self.folder, self.catalog)
            else:
                half_vectors.remove(self.folder)
            self._follow_half_copy()
            if self.half is not None and NO_HALF_COPY in self.notes:
                self.notes.remove(NO_HALF_COPY)
            if self.catalog.meta(DESCRIPTION_KEY) != self.index.describe():
                self.catalog.set_setting(DESCRIPTION_KEY, self.index.describe())
