"""Rebuild a damaged catalog from what SQLite can still read.

The catalog is the source of truth, so a damaged one is never thrown away: it is kept beside
the index as `catalog.sqlite3.damaged-<time>` (with its -wal), and a new catalog receives every
row that can still be read and checks out: a file row with a vector of the right size and unit
length. Rows are read in small id ranges, one by one where a range fails, so one bad page costs
only the rows on it. The vector files, a cache of the old catalog, are deleted and rebuilt from
the new one; files whose rows were lost are new to the next index run, which embeds them again.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import numpy as np

from pixseek.store.catalog import CATALOG_NAME, SCHEMA, SCHEMA_VERSION
from pixseek.store.live_index import drop_derived_files

CHUNK = 512
Row = tuple[Any, ...]  # a row as sqlite3 hands it back
FILE_COLUMNS = "id, path, size, mtime_ns, hash, width, height, indexed_at, gen"


def repair_catalog(folder: Path, reason: str, model_id: str, dim: int) -> str:
    """Replace the damaged catalog in `folder` (the caller holds the write lock); returns what
    happened, for the person. `model_id` and `dim` serve only if the old ones cannot be read."""
    path = Path(folder) / CATALOG_NAME
    fresh = path.with_name(CATALOG_NAME + ".repair")
    for leftover in (fresh, Path(f"{fresh}-journal")):
        leftover.unlink(missing_ok=True)
    old = _open_damaged(path)
    try:
        meta: dict[str, Any] = dict(_read_all(old, "SELECT key, value FROM meta"))
        if "model_id" in meta and meta.get("dim", "").isdigit():
            model_id, dim = meta["model_id"], int(meta["dim"])
        counts = _copy(old, fresh, meta, model_id, dim)
    finally:
        if old is not None:
            old.close()
    aside = path.with_name(f"{CATALOG_NAME}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    _swap(path, fresh, aside)
    drop_derived_files(folder)
    images, folders, skipped = counts
    return (f"the catalog was damaged ({reason}); it is kept as {aside.name}, and a new catalog holds what "
            f"could still be read: {images} images, {folders} folders, {skipped} skipped files. The next "
            "index run reads the rest again")


def _open_damaged(path: Path) -> sqlite3.Connection | None:
    try:
        connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True, isolation_level=None)
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return connection
    except sqlite3.DatabaseError:  # not a database at all: nothing to salvage
        return None


def _read_all(db: sqlite3.Connection | None, sql: str, params: tuple[object, ...] = ()) -> list[Row]:
    """Every row `sql` selects, or none if they cannot be read."""
    try:
        return db.execute(sql, params).fetchall() if db is not None else []
    except sqlite3.DatabaseError:
        return []


def _id_ranges(db: sqlite3.Connection | None) -> Iterator[tuple[int, int]]:
    sources = ("SELECT MAX(id) FROM files", "SELECT MAX(id) FROM vectors",
               "SELECT seq FROM sqlite_sequence WHERE name = 'files'")
    top = max((int(row[0] or 0) for sql in sources for row in _read_all(db, sql)), default=0)
    for low in range(1, top + 1, CHUNK):
        yield low, low + CHUNK - 1


def _rows_between(db: sqlite3.Connection | None, table: str, columns: str, low: int, high: int) -> list[Row]:
    """The readable rows with ids in [low, high]: one query, or one per id if that fails."""
    query = f"SELECT {columns} FROM {table} WHERE id BETWEEN ? AND ?"
    if db is None:
        return []
    try:
        return db.execute(query, (low, high)).fetchall()
    except sqlite3.DatabaseError:
        return [row for id_ in range(low, high + 1) for row in _read_all(db, query, (id_, id_))]


def _sound_vector(blob: object, dim: int) -> bool:
    if not isinstance(blob, bytes) or len(blob) != dim * 4:
        return False
    norm = float(np.linalg.norm(np.frombuffer(blob, dtype=np.float32)))
    return abs(norm - 1.0) < 1e-3  # every stored vector is unit length; garbage is not


def _copy(old: sqlite3.Connection | None, fresh: Path, meta: dict[str, Any], model_id: str, dim: int) -> tuple[int, int, int]:
    generation = int(meta["generation"]) + 1 if meta.get("generation", "").isdigit() else 1
    db = sqlite3.connect(fresh, isolation_level=None)
    try:
        db.executescript(SCHEMA)
        db.execute("BEGIN")
        meta.update(schema_version=SCHEMA_VERSION, model_id=model_id, dim=dim, generation=generation,
                    repaired_at=time.time())
        db.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
        roots = _read_all(old, "SELECT path, added_at FROM roots")
        db.executemany("INSERT OR IGNORE INTO roots VALUES (?, ?)", roots)
        images = 0
        for low, high in _id_ranges(old):
            vectors = {id_: blob for id_, blob in _rows_between(old, "vectors", "id, vector", low, high)
                       if _sound_vector(blob, dim)}
            for row in _rows_between(old, "files", FILE_COLUMNS, low, high):
                if row[0] in vectors and db.execute(f"INSERT OR IGNORE INTO files ({FILE_COLUMNS}) VALUES "
                                                    "(?, ?, ?, ?, ?, ?, ?, ?, ?)", row).rowcount:
                    db.execute("INSERT INTO vectors (id, vector) VALUES (?, ?)", (row[0], vectors[row[0]]))
                    images += 1
        skipped = _read_all(old, "SELECT path, size, mtime_ns, reason FROM skipped")
        db.executemany("INSERT OR IGNORE INTO skipped VALUES (?, ?, ?, ?)", skipped)
        db.execute("COMMIT")
    finally:
        db.close()
    return images, len(roots), len(skipped)


def _swap(path: Path, fresh: Path, aside: Path) -> None:
    """Keep the damaged catalog (and its WAL) as `aside`, then rename the new one into place.

    A crash part way leaves either the damaged catalog, repaired again next time, or the new one."""
    wal, shm = Path(f"{path}-wal"), Path(f"{path}-shm")
    if wal.exists():
        os.replace(wal, f"{aside}-wal")
    shm.unlink(missing_ok=True)
    try:
        os.link(path, aside)
    except OSError:  # a file system without hard links
        shutil.copy2(path, aside)
    os.replace(fresh, path)
