"""An open index: its folder, its catalog, and the parts loaded only when a call needs them
(the model, the vector index, the photos' metadata in memory). Every engine part works on one.

It also keeps the notes: what opening or indexing had to repair, for status and the faces.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from pixseek.errors import IndexIncompatible, QueryError
from pixseek.model import Encoder, find_bundle
from pixseek.store.catalog import Catalog
from pixseek.store.facets import Facets
from pixseek.store.live_index import LiveVectorIndex
from pixseek.store.repair import repair_catalog
from pixseek.thumbnails import ThumbnailCache

HIDDEN_KEY = "include_hidden"  # the index's hidden-files policy: "yes", or left out
log = logging.getLogger(__name__)


def model_identity(model: str | None) -> tuple[str, int]:
    """The model id and vector size an index made for `model` (None: the default) records."""
    bundle = find_bundle(model)
    return bundle.model_id, bundle.config.embedding_dim


def file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


class OpenIndex:
    def __init__(self, index_dir: Path, catalog: Catalog, model: str | None, precision: str | None,
                 device: str | None, wanted_model: str | None = None):
        self.index_dir = index_dir
        self.catalog = catalog
        self.model_name = model
        self.precision = precision
        self.device = device
        self.wanted_model = wanted_model  # asked for, but the index was made with another (see opening)
        self.notes: list[str] = []
        self.made = False  # made by this opening: if nothing is ever added, closing removes it
        self.thumbnails = ThumbnailCache()
        self.text_vectors: dict[str, np.ndarray] = {}  # recent query words, encoded
        self.lock = threading.RLock()
        self._encoder: Encoder | None = None
        self._live: LiveVectorIndex | None = None
        self._facets: Facets | None = None
        self._catalog_file = file_identity(catalog.path)

    def note(self, message: str) -> None:
        log.warning(message)
        self.notes.append(message)

    @property
    def include_hidden(self) -> bool:
        return self.catalog.meta(HIDDEN_KEY) == "yes"

    @property
    def encoder(self) -> Encoder:
        """The model this index was built with (loaded on first use)."""
        with self.lock:
            if self._encoder is None:
                bundle = find_bundle(self.model_name) if self.model_name else None
                if bundle is None or bundle.model_id != self.catalog.model_id:
                    bundle = find_bundle(model_id=self.catalog.model_id)
                if bundle.config.embedding_dim != self.catalog.dim:
                    raise IndexIncompatible(f"model {bundle.name} makes {bundle.config.embedding_dim}-d vectors, "
                                            f"this index holds {self.catalog.dim}-d ones")
                self._encoder = Encoder(bundle, precision=self.precision, device=self.device)
            return self._encoder

    @property
    def vectors_loaded(self) -> bool:
        return self._live is not None

    def vectors(self) -> LiveVectorIndex:
        """The vector index, kept in step with the catalog (opened on first use)."""
        with self.lock:
            if self._live is None:
                self._live = LiveVectorIndex(self.index_dir, self.catalog)
            return self._live

    def metadata(self) -> Facets:
        """The photos' metadata in memory, loaded on the first search that filters by it."""
        if not self.catalog.has_metadata:
            raise QueryError(f"the index at {self.index_dir} was made by an older pixseek and cannot be updated "
                             "here (it is read-only), so its photos' dates, cameras and places are not known yet")
        live = self.vectors()
        with self.lock:
            if self._facets is None:
                self._facets = Facets(self.catalog, live.lock)
            return self._facets

    @contextmanager
    def writer(self) -> Iterator[Catalog]:
        """A connection of its own for a write, so that searches from other threads, on the
        shared connection, never see (or join) its open transactions."""
        writer = self.catalog.clone()
        try:
            yield writer
        finally:
            writer.close()

    def repair_if_damaged(self) -> None:
        """Under the write lock: a catalog that fails its check is rebuilt from what it still holds."""
        problems = self.catalog.check()
        if problems:
            self.catalog.close()
            self.note(repair_catalog(self.index_dir, "; ".join(problems), *model_identity(self.model_name)))
            self.reopen(self.model_name)

    def reopen(self, model: str | None) -> None:
        """Read the catalog file now in the folder (repaired, or swapped in by a rebuild for `model`)."""
        self.catalog = Catalog.open(self.index_dir, create=False)
        self._catalog_file = file_identity(self.catalog.path)
        self.model_name, self._live, self._facets = model, None, None
        self.text_vectors.clear()

    def is_current(self) -> bool:
        """Whether the index's catalog is still the file this index reads."""
        return file_identity(self.catalog.path) == self._catalog_file

    def close_parts(self) -> None:
        """Let go of the vector index and the model (the catalog stays open)."""
        if self._live is not None:
            self._live.close()
        if self._encoder is not None:
            self._encoder.close()
            self._encoder = None
