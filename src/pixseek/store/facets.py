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
from pixseek.places import EARTH_RADIUS_KM, fold, names_match
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
        self.local = np.zeros(0)  # wall-clock seconds where taken: taken_at + utc_offset
        self._cameras: dict[int, str] = {}  # id -> folded name
        self._places: dict[int, tuple[tuple[str, ...], str]] = {}  # id -> (folded names, folded country code)

    def refresh(self) -> None:
        with self._lock:
            if self.catalog.generation == self.generation:
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
            self.local = self.columns["taken_at"] + self.columns["utc_offset"] * 60.0
            self._cameras = {i: fold(camera_name(*names) or "") for i, names in cameras.items()}
            self._places = {i: place.folded_names() for i, place in places.items()}
            self.generation = current

    def select(self, filters: SearchFilters) -> np.ndarray:
        """Ids of the photos whose metadata passes `filters` (the folder is not looked at here)."""
        self.refresh()
        c = self.columns
        keep = np.ones(len(c["ids"]), dtype=bool)
        if filters.taken_from is not None:
            keep &= self.local >= (filters.taken_from - EPOCH).total_seconds()
        if filters.taken_until is not None:
            keep &= self.local < (filters.taken_until - EPOCH).total_seconds()
        if filters.camera is not None:
            wanted = fold(filters.camera)
            keep &= _member(c["camera"], [i for i, name in self._cameras.items() if wanted in name])
        if filters.place is not None:
            wanted = fold(filters.place)
            keep &= _member(c["place"], [i for i, (names, code) in self._places.items() if names_match(wanted, names, code)])
        if filters.near is not None:
            keep &= _within_km(c["latitude"], c["longitude"], *filters.near, filters.radius_km)
        return c["ids"][keep]


def _empty() -> list[np.ndarray]:
    return [np.zeros(0, dtype) for dtype in (np.int64, np.float64, np.int32, np.int32, np.int32, np.float32, np.float32)]


def _member(codes: np.ndarray, wanted: list[int]) -> np.ndarray:
    """codes[i] in wanted, by one table look-up per row (codes are small ids; -1 is none)."""
    table = np.zeros(max(wanted + [int(codes.max(initial=0))]) + 2, dtype=bool)
    table[np.asarray(wanted, dtype=np.int64) + 1] = True
    members: np.ndarray = table[codes + 1]  # (NumPy's stubs type fancy indexing as Any)
    return members


def _within_km(lat: np.ndarray, lon: np.ndarray, lat0: float, lon0: float, radius_km: float) -> np.ndarray:
    """Haversine distance <= radius (NaN positions never pass), computed only for the rows in
    the latitude band the circle spans."""
    band = radius_km / EARTH_RADIUS_KM * 180 / np.pi
    with np.errstate(invalid="ignore"):
        rows = np.flatnonzero((lat >= lat0 - band) & (lat <= lat0 + band))
    p1, p2 = np.radians(lat0), np.radians(lat[rows].astype(np.float64))
    dp, dl = p2 - p1, np.radians(lon[rows].astype(np.float64) - lon0)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    inside = np.zeros(len(lat), dtype=bool)
    inside[rows] = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a))) <= radius_km
    return inside
