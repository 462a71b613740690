"""The catalog's tables, and making or upgrading them when a catalog is opened.

The catalog's own tables (files, folders, skipped files, tombstones, settings) are here; every
signal brings its own (pixseek.signals). Schema 2 added the metadata tables: opening a schema 1
catalog where it can be written adds them (every row and vector stays) and the next index run
fills them in from the files. A signal added later has its tables made the same way, when a
catalog that lacks them is opened where it can be written; an index opened read-only goes
without, and reads as having no rows of it.
"""

from __future__ import annotations

import sqlite3
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from pixseek.errors import IndexCorrupt, IndexIncompatible, IndexNotFound
from pixseek.signals import SIGNALS

SCHEMA_VERSION = 2

CORE_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS roots (path BLOB PRIMARY KEY, added_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS files (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    path BLOB NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash BLOB NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    indexed_at REAL NOT NULL,
    gen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS files_gen ON files (gen);
CREATE INDEX IF NOT EXISTS files_hash ON files (hash);
CREATE TABLE IF NOT EXISTS removed (id INTEGER PRIMARY KEY, gen INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS removed_gen ON removed (gen);
CREATE TABLE IF NOT EXISTS skipped (
    path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, reason TEXT NOT NULL
);
"""


def schema() -> str:
    """Every table: the catalog's own and those of each registered signal."""
    return CORE_SCHEMA + "".join(signal.rows.schema for signal in SIGNALS)


SCHEMA = schema()  # as pixseek ships (a repair rebuilds a catalog with it)


class Opening(Protocol):
    """What making or upgrading the tables needs of the catalog being opened (store/catalog.py)."""

    path: Path

    @property
    def connection(self) -> sqlite3.Connection: ...

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

    def meta(self, key: str, default: str | None = None) -> str | None: ...


def tables(db: sqlite3.Connection) -> set[str]:
    return {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def write_meta(db: sqlite3.Connection, **values: object) -> None:
    db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [(k, str(v)) for k, v in values.items()])


def _run(db: sqlite3.Connection, sql: str) -> None:
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def prepare(catalog: Opening, create: bool, model_id: str | None, dim: int | None) -> None:
    """Make a new catalog's tables (`create`), or check an existing one's schema and upgrade it."""
    db = catalog.connection
    folder = catalog.path.parent
    if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        try:
            db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError:
            pass  # a read-only folder keeps the mode it has
    db.execute("PRAGMA synchronous = NORMAL")
    if "meta" not in tables(db):
        if not create or model_id is None or dim is None:
            raise IndexNotFound(f"no index at {folder} yet; indexing a folder makes one")
        with catalog.transaction():
            _run(db, schema())
            if db.execute("SELECT 1 FROM meta").fetchone() is None:  # else another process just made it
                write_meta(db, schema_version=SCHEMA_VERSION, model_id=model_id, dim=dim, generation=0,
                           created_at=time.time(), updated_at=0)
    version = int(catalog.meta("schema_version", "0") or 0)
    if version > SCHEMA_VERSION:
        raise IndexIncompatible(
            f"the index at {folder} was written by a newer pixseek (schema {version}, "
            f"this one reads {SCHEMA_VERSION}); upgrade pixseek or use another index folder")
    if version < 1:
        raise IndexCorrupt(f"the catalog at {catalog.path} has no schema version")
    if version < SCHEMA_VERSION:
        _migrate(catalog, version)
    else:
        _add_signal_tables(catalog)


def _migrate(catalog: Opening, version: int) -> None:
    """Schema 1 -> 2: add the (empty) metadata tables; rows and vectors stay as they are.
    A catalog that cannot be written here stays at its schema and is read without metadata."""
    try:
        with catalog.transaction() as db:
            if int(catalog.meta("schema_version", "0") or 0) == version:  # else another process just did it
                _run(db, schema())
                write_meta(db, schema_version=SCHEMA_VERSION, migrated_from=version)
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc).lower():
            raise


def _add_signal_tables(catalog: Opening) -> None:
    """Make the tables of a signal newer than this catalog. Nothing is written when none is
    missing, so opening never waits for a writer; a read-only catalog goes without."""
    present = tables(catalog.connection)
    missing = [s.rows.schema for s in SIGNALS if any(t not in present for t in s.rows.tables())]
    if not missing:
        return
    try:
        with catalog.transaction() as db:
            _run(db, "".join(missing))
    except sqlite3.OperationalError as exc:
        if "readonly" not in str(exc).lower():
            raise
