"""Opening the catalog's SQLite file, its errors in words, and the helpers every table shares.

Kept apart from `catalog.py` so that the signals' row classes (pixseek.signals), which own
tables in the same database, can use them without importing the catalog.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pixseek.environment import number
from pixseek.errors import IndexCorrupt, IndexLocked, PixseekError, StorageError

DEFAULT_BUSY_TIMEOUT_S = 30.0  # waiting for another writer's batch (PIXSEEK_BUSY_TIMEOUT)
OPEN_MODES = ("rwc", "ro", "ro&immutable=1")
ID_CHUNK = 10_000  # ids bound in one query (SQLite allows 32,766)


def encode_path(path: str) -> bytes:
    return os.fsencode(path)


def decode_path(raw: bytes) -> str:
    return os.fsdecode(raw)


def folder_range(folder: str) -> tuple[bytes, bytes]:
    """Byte bounds [low, high) of every path strictly inside `folder` ('/a/' .. '/a0')."""
    prefix = encode_path(os.path.join(folder, ""))
    return prefix, prefix[:-1] + bytes([prefix[-1] + 1])


def rows_for(db: sqlite3.Connection, sql: str, ids: Iterable[int]) -> Iterator[tuple[Any, ...]]:
    """Rows of `sql` (with `IN ({})`) for any number of ids, in chunks SQLite accepts."""
    ids = [int(i) for i in ids]
    for start in range(0, len(ids), ID_CHUNK):
        chunk = ids[start:start + ID_CHUNK]
        yield from db.execute(sql.format(",".join("?" * len(chunk))), chunk)


def signed64(value: int | None) -> int | None:
    """SQLite integers are signed: a 64-bit hash is stored as its two's complement."""
    return value - (1 << 64) if value is not None and value >= 1 << 63 else value


def unsigned64(value: int | None) -> int | None:
    return value + (1 << 64) if value is not None and value < 0 else value


def connect(path: Path) -> sqlite3.Connection:
    """A connection to the catalog at `path`: read-write where SQLite may write, else read-only
    (a read-only mount, another user's index), else immutable, for a WAL database in a folder
    where SQLite cannot even make its -shm file (it then reads the last checkpointed state)."""
    for mode in OPEN_MODES[:-1]:
        try:
            return _connect(path, mode)
        except sqlite3.OperationalError as exc:
            if not _cannot_write(exc):
                raise
    return _connect(path, OPEN_MODES[-1])


def _connect(path: Path, mode: str) -> sqlite3.Connection:
    connection = sqlite3.connect(f"{path.absolute().as_uri()}?mode={mode}", uri=True,
                                 timeout=number("PIXSEEK_BUSY_TIMEOUT", DEFAULT_BUSY_TIMEOUT_S, kind=float),
                                 isolation_level=None, check_same_thread=False)
    try:
        connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # fails here, not later
    except BaseException:
        connection.close()
        raise
    return connection


def _cannot_write(exc: sqlite3.Error) -> bool:
    """An error opening read-write that a read-only connection may not have: no write access,
    or no room for SQLite's -shm file on a full disk (reported as an I/O error)."""
    text = str(exc).lower()
    return any(words in text for words in ("readonly", "read-only", "unable to open", "disk i/o error"))


def storage_error(exc: sqlite3.Error, path: Path) -> PixseekError:
    """The one-line error a person should see for an SQLite failure on the catalog at `path`."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return IndexLocked(f"the catalog {path} is in use by another program (database is locked); "
                           "try again when it has finished")
    if "full" in text:
        return StorageError(f"the disk holding the index at {path.parent} is full; free some space and run "
                            "again (everything committed before is kept)")
    if "readonly" in text:  # opened read-only: see connect()
        why = ("its disk is full; free some space and run again (everything committed before is kept)"
               if shutil.disk_usage(path.parent).free < 2**20 else "it can only be read here (a read-only folder?)")
        return StorageError(f"cannot write to the index at {path.parent}: {why}")
    if "malformed" in text or "not a database" in text or "corrupt" in text:
        return IndexCorrupt(f"the catalog {path} is damaged ({exc}); indexing again rebuilds it from what "
                            "can still be read", reason=str(exc))
    return StorageError(f"cannot use the catalog {path} ({exc})")
