"""The photos' metadata as columns in memory, for filtering a million photos in milliseconds.

Loaded from the catalog on the first filtered search and kept in step with it like the vector
index: metadata rows carry the generation that wrote them, so a refresh reads only what changed
since (new, moved and described photos) and drops what was removed.
"""

from __future__ import annotations

import threading
from datetime import datetime

import numpy as np

from pixseek.filters import SearchFilters
from pixseek.metadata import camera_name
from pixseek.places import EARTH_RADIUS_KM, fold
from pixseek.store.catalog import Catalog

EPOCH = datetime(1970, 1, 1)
COLUMNS = ("ids", "taken_at", "utc_offset", "camera", "place", "latitude", "longitude")


class Facets:
    def __init__(self, catalog: Catalog, lock: threading.RLock):
        """`lock` guards the catalog connection's snapshots (shared with the vector index)."""
        self.catalog = catalog
        self._lock = lock
        self.generation = -1
        self.columns = dict(zip(COLUMNS, _empty()))
        self._cameras: dict[int, str] = {}
        self._places = {}

    def refresh(self) -> None:
        with self._lock:
            current = self.catalog.generation
            if current == self.generation:
                return
            with self.catalog.snapshot():
                current = self.catalog.generation
                fresh = self.catalog.metadata_columns(self.generation)
                removed = self.catalog.removed_since(self.generation) if self.generation >= 0 else np.zeros(0, np.int64)
                cameras, places = self.catalog.cameras(), self.catalog.places()
            gone = np.concatenate([removed, fresh[0]])
            keep = ~np.isin(self.columns["ids"], gone)
            merged = [np.concatenate([old[keep], new]) for old, new in zip(self.columns.values(), fresh)]
            order = np.argsort(merged[0], kind="stable")
            self.columns = {name: column[order] for name, column in zip(COLUMNS, merged)}
            self._cameras = {i: camera_name(*names) or "" for i, names in cameras.items()}
            self._places = places
            self.generation = current

    def select(self, filters: SearchFilters) -> np.ndarray:
        """Ids of the photos whose metadata passes `filters` (the folder is not looked at here)."""
        self.refresh()
        c = self.columns
        keep = np.ones(len(c["ids"]), dtype=bool)
        if filters.taken_from is not None or filters.taken_until is not None:
            local = c["taken_at"] + c["utc_offset"] * 60.0
            if filters.taken_from is not None:
                keep &= local >= (filters.taken_from - EPOCH).total_seconds()
            if filters.taken_until is not None:
                keep &= local < (filters.taken_until - EPOCH).total_seconds()
        if filters.camera is not None:
            wanted = fold(filters.camera)
            keep &= np.isin(c["camera"], [i for i, name in self._cameras.items() if wanted in fold(name)])
        if filters.place is not None:
            keep &= np.isin(c["place"], [i for i, place in self._places.items() if place.matches(filters.place)])
        if filters.near is not None:
            keep &= _within_km(c["latitude"], c["longitude"], *filters.near, filters.radius_km)
        return c["ids"][keep]


def _empty() -> list[np.ndarray]:
    return [np.zeros(0, dtype) for dtype in (np.int64, np.float64, np.int32, np.int32, np.int32, np.float32, np.float32)]


def _within_km(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float, radius_km: float) -> np.ndarray:
    """Haversine distance <= radius (NaN positions never pass)."""
    p1, p2 = np.radians(lat0), np.radians(lat.astype(np.float64))
    dp, dl = p2 - p1, np.radians(lon.astype(np.float64) - lon0)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    with np.errstate(invalid="ignore"):
        return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a))) <= radius_km
