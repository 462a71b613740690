"""A vector index kept in step with the catalog.

On open it loads the newest saved FAISS file and replays the catalog changes made after it
(or rebuilds from the catalog's stored vectors when the file is missing, damaged or
inconsistent, never by re-embedding). Before each search it replays whatever other processes
have committed since, so a search always reflects the last committed state.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from pixseek.errors import IndexCorrupt
from pixseek.store.catalog import Catalog
from pixseek.store.vector_index import VectorIndex, saved_files

log = logging.getLogger(__name__)


class LiveVectorIndex:
    def __init__(self, folder: Path, catalog: Catalog):
        self.folder = Path(folder)
        self.catalog = catalog
        self.notes: list[str] = []  # what opening had to repair, for status and the faces
        self._lock = threading.RLock()
        self.generation, self.index = self._load()
        self.refresh()

    def _load(self) -> tuple[int, VectorIndex]:
        files = saved_files(self.folder)
        if files:
            generation, path = files[0]
            if generation <= self.catalog.generation:
                try:
                    return generation, VectorIndex.load(path, self.catalog.dim)
                except IndexCorrupt as exc:
                    self._note(f"{exc}; rebuilt from the catalog's stored vectors")
            else:
                self._note(f"{path.name} is newer than the catalog; rebuilt from the catalog's stored vectors")
        return self._rebuild()

    def _rebuild(self) -> tuple[int, VectorIndex]:
        index = VectorIndex.empty(self.catalog.dim)
        with self.catalog.snapshot():
            generation = self.catalog.generation
            for ids, vectors in self.catalog.all_vectors():
                index.add(ids, vectors)
        return generation, index

    def _note(self, message: str) -> None:
        log.warning(message)
        self.notes.append(message)

    def refresh(self) -> None:
        """Replay catalog changes committed since our generation; rebuild if the counts disagree."""
        with self._lock:
            if self.catalog.generation == self.generation:
                return
            with self.catalog.snapshot():
                current = self.catalog.generation
                removed, added_ids, added_vectors = self.catalog.changes_since(self.generation)
                expected = self.catalog.count()
            self.index.remove(removed)
            self.index.add(added_ids, added_vectors)
            self.generation = current
            if self.index.ntotal != expected:
                self._note(f"vector index held {self.index.ntotal} vectors for {expected} files; rebuilt")
                self.generation, self.index = self._rebuild()

    def search(self, query, k: int):
        with self._lock:
            self.refresh()
            if self.index.ntotal == 0:
                return [], []
            return self.index.search(query, k)

    def save(self) -> None:
        """Write the index at its generation (call after committing; readers then replay less)."""
        with self._lock:
            self.refresh()
            self.index.save(self.folder, self.generation)
