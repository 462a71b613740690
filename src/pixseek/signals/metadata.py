"""The metadata: capture time, camera, lens, GPS position and its place name, pixel size.

Reads the file's bytes (EXIF and the header's size; metadata.py), for every file read, moved
and copied ones too: a photo without a recorded time is dated by its file's mtime. A batch's
GPS positions are named (places.py) in one look-up. Its rows are `photo_meta`, with `cameras` and
`places` as look-up tables; the rows carry their generation, so the filter columns in memory
(store/facets.py) refresh by generation. Rows written before pixseek read metadata (schema 1)
are backfilled: an index run reads those files for it alone.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from pixseek.metadata import PhotoMetadata, read_metadata
from pixseek.places import Place, name_places
from pixseek.signals.base import FileData, Reads, Signal, SignalRows
from pixseek.store.sqlite import rows_for

PHOTO_COLUMNS = ("m.taken_at, m.utc_offset, m.time_source, c.make, c.model, m.lens, m.latitude, m.longitude, "
                 "p.city, p.region, p.country, p.country_code, p.area, f.width, f.height")
PHOTO_JOINS = ("photo_meta m LEFT JOIN cameras c ON c.id = m.camera_id LEFT JOIN places p ON p.id = m.place_id "
               "JOIN files f ON f.id = m.id")


@dataclass(frozen=True)
class Description:
    """What the catalog keeps about a photo's metadata: the fields read and the place named."""

    metadata: PhotoMetadata
    place: Place | None = None


def _description(row: Sequence[Any]) -> Description:
    (taken_at, offset, source, make, model, lens, lat, lon, city, region, country, code, area, width, height) = row
    metadata = PhotoMetadata(taken_at, offset, source, width or None, height or None, make or None, model or None,
                             lens, lat, lon)
    place = Place(city, region, country, code, area) if city is not None else None
    return Description(metadata, place)


class MetadataRows(SignalRows):
    # The phash column belongs to the perceptual hash signal (signals/phash.py): schema 2 put
    # it in this table, and existing indexes keep that layout.
    schema = """
CREATE TABLE IF NOT EXISTS photo_meta (
    id INTEGER PRIMARY KEY,
    taken_at REAL NOT NULL,
    utc_offset INTEGER NOT NULL,
    time_source TEXT NOT NULL,
    camera_id INTEGER,
    lens TEXT,
    latitude REAL,
    longitude REAL,
    place_id INTEGER,
    phash INTEGER,
    gen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS photo_meta_gen ON photo_meta (gen);
CREATE TABLE IF NOT EXISTS cameras (
    id INTEGER PRIMARY KEY, make TEXT NOT NULL, model TEXT NOT NULL, UNIQUE (make, model)
);
CREATE TABLE IF NOT EXISTS places (
    id INTEGER PRIMARY KEY, city TEXT NOT NULL, area TEXT NOT NULL, region TEXT NOT NULL, country TEXT NOT NULL,
    country_code TEXT NOT NULL, UNIQUE (city, area, region, country, country_code)
);
"""
    backfill = "f.id NOT IN (SELECT id FROM photo_meta)"

    def write(self, rows: Sequence[tuple[int, Any]], generation: int) -> None:
        """Upsert each (id, Description); the header's pixel size, where known, is the file row's."""
        values, sizes = [], []
        for id_, description in rows:
            m = description.metadata
            camera = self._camera_id(m.make, m.model)
            place = self._place_id(description.place)
            values.append((id_, m.taken_at, m.utc_offset_min, m.time_source, camera, m.lens, m.latitude, m.longitude,
                           place, generation))
            if m.width and m.height:
                sizes.append((m.width, m.height, id_))
        self.db.executemany(
            "INSERT INTO photo_meta (id, taken_at, utc_offset, time_source, camera_id, lens, latitude, longitude, "
            "place_id, gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET taken_at = "
            "excluded.taken_at, utc_offset = excluded.utc_offset, time_source = excluded.time_source, camera_id = "
            "excluded.camera_id, lens = excluded.lens, latitude = excluded.latitude, longitude = excluded.longitude, "
            "place_id = excluded.place_id, gen = excluded.gen", values)
        self.db.executemany("UPDATE files SET width = ?, height = ? WHERE id = ?", sizes)

    def read(self, ids: Iterable[int]) -> dict[int, Any]:
        rows = rows_for(self.db, f"SELECT m.id, {PHOTO_COLUMNS} FROM {PHOTO_JOINS} WHERE m.id IN ({{}})", ids)
        return {row[0]: _description(row[1:]) for row in rows}

    def delete(self, ids: Sequence[int]) -> None:
        self.db.executemany("DELETE FROM photo_meta WHERE id = ?", [(i,) for i in ids])

    def cameras(self) -> dict[int, tuple[str | None, str | None]]:
        """Every camera named in the catalog: id -> (make, model)."""
        return {i: (make or None, model or None) for i, make, model in
                self.db.execute("SELECT id, make, model FROM cameras")}

    def places(self) -> dict[int, Place]:
        return {row[0]: Place(*row[1:]) for row in
                self.db.execute("SELECT id, city, region, country, country_code, area FROM places")}

    def columns(self, after_generation: int) -> tuple[np.ndarray, ...]:
        """(ids, taken_at, utc_offset, camera_id, place_id, latitude, longitude) of the rows
        written after `after_generation`, as arrays (missing ids -1, missing positions NaN)."""
        rows = self.db.execute(
            "SELECT id, taken_at, utc_offset, IFNULL(camera_id, -1), IFNULL(place_id, -1), IFNULL(latitude, 'nan'), "
            "IFNULL(longitude, 'nan') FROM photo_meta WHERE gen > ? ORDER BY id", (after_generation,))
        return columns_of(rows)

    def _camera_id(self, make: str | None, model: str | None) -> int | None:
        if not make and not model:
            return None
        self.db.execute("INSERT OR IGNORE INTO cameras (make, model) VALUES (?, ?)", (make or "", model or ""))
        return int(self.db.execute("SELECT id FROM cameras WHERE make = ? AND model = ?",
                                   (make or "", model or "")).fetchone()[0])

    def _place_id(self, place: Place | None) -> int | None:
        if place is None:
            return None
        key = (place.city, place.area, place.region, place.country, place.country_code)
        self.db.execute("INSERT OR IGNORE INTO places (city, area, region, country, country_code) "
                        "VALUES (?, ?, ?, ?, ?)", key)
        return int(self.db.execute("SELECT id FROM places WHERE city = ? AND area = ? AND region = ? AND country = ? "
                                   "AND country_code = ?", key).fetchone()[0])


def columns_of(rows: Iterable[tuple[Any, ...]] | sqlite3.Cursor) -> tuple[np.ndarray, ...]:
    """Metadata rows (see MetadataRows.columns) as typed columns; no rows: empty columns."""
    table = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64).reshape(-1, 7)
    return (table[:, 0].astype(np.int64), table[:, 1], table[:, 2].astype(np.int32), table[:, 3].astype(np.int32),
            table[:, 4].astype(np.int32), table[:, 5].astype(np.float32), table[:, 6].astype(np.float32))


class Metadata(Signal):
    name = "metadata"
    reads = Reads.BYTES
    rows = MetadataRows

    def read(self, file: FileData) -> PhotoMetadata:
        return read_metadata(file.data, file.entry.path, file.entry.mtime_ns)

    def complete(self, raw: list[Any]) -> list[Any]:
        """Descriptions, the batch's GPS positions named in one look-up."""
        positions = {(m.latitude, m.longitude) for m in raw if m.has_position}
        places = dict(zip(positions, name_places(positions)))
        return [Description(m, places.get((m.latitude, m.longitude))) for m in raw]

