"""The catalog: one SQLite database that is the source of truth for an index.

It holds every indexed file (path, size, mtime, content hash, pixel size), its vector, its
metadata (capture time, camera, lens, position and place, perceptual hash), the files skipped
and why, the indexed folders, and the model and schema that wrote it. Every change happens in
a transaction, so a crash at any moment leaves the last committed state. WAL mode lets
searches read the last committed state while an indexer writes.

Each committed batch bumps a generation number. Rows carry the generation that added them and
deletions leave a tombstone with theirs, so a FAISS file saved at generation G can be brought
up to date by replaying only what came after G. Row ids are never reused (AUTOINCREMENT) and
are the FAISS ids, so ids and paths cannot drift apart.

Paths are stored as bytes (os.fsencode) so that names that are not valid UTF-8 survive.

Schema 2 added the metadata tables. Opening a schema 1 catalog where it can be written adds
them (nothing else changes: every row and vector stays); the next index run fills them in from
the files without embedding any photo again (see indexer.py).
"""

from __future__ import annotations

import itertools
import os
import shutil
import sqlite3
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterable, Iterator

import numpy as np

from pixseek.environment import number
from pixseek.errors import IndexCorrupt, IndexIncompatible, IndexLocked, IndexNotFound, PixseekError, StorageError
from pixseek.metadata import PhotoMetadata
from pixseek.places import Place

SCHEMA_VERSION = 2
CATALOG_NAME = "catalog.sqlite3"
DEFAULT_BUSY_TIMEOUT_S = 30.0  # waiting for another writer's batch (PIXSEEK_BUSY_TIMEOUT)
OPEN_MODES = ("rwc", "ro", "ro&immutable=1")
ID_CHUNK = 10_000  # ids bound in one query (SQLite allows 32,766)

SCHEMA = """
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
CREATE TABLE IF NOT EXISTS vectors (id INTEGER PRIMARY KEY, vector BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS removed (id INTEGER PRIMARY KEY, gen INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS removed_gen ON removed (gen);
CREATE TABLE IF NOT EXISTS skipped (
    path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, reason TEXT NOT NULL
);
""" + """
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
PHOTO_COLUMNS = ("m.taken_at, m.utc_offset, m.time_source, c.make, c.model, m.lens, m.latitude, m.longitude, "
                 "p.city, p.region, p.country, p.country_code, p.area, m.phash, f.width, f.height")
PHOTO_JOINS = ("photo_meta m LEFT JOIN cameras c ON c.id = m.camera_id LEFT JOIN places p ON p.id = m.place_id "
               "JOIN files f ON f.id = m.id")


def encode_path(path: str) -> bytes:
    return os.fsencode(path)


def decode_path(raw: bytes) -> str:
    return os.fsdecode(raw)


def folder_range(folder: str) -> tuple[bytes, bytes]:
    """Byte bounds [low, high) of every path strictly inside `folder` ('/a/' .. '/a0')."""
    prefix = encode_path(os.path.join(folder, ""))
    return prefix, prefix[:-1] + bytes([prefix[-1] + 1])


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


@dataclass(frozen=True)
class FileRecord:
    id: int
    path: str
    size: int
    mtime_ns: int
    hash: bytes
    described: bool = True  # whether its metadata has been read (not yet, for rows from schema 1)


@dataclass(frozen=True)
class Description:
    """What the catalog keeps about a photo beside its vector."""

    metadata: PhotoMetadata
    place: Place | None = None
    phash: int | None = None  # 64-bit perceptual hash, None where not computed


@dataclass(frozen=True)
class NewFile:
    path: str
    size: int
    mtime_ns: int
    hash: bytes
    width: int
    height: int
    vector: np.ndarray
    description: Description | None = None


def _signed64(value: int | None) -> int | None:
    """SQLite integers are signed: a 64-bit hash is stored as its two's complement."""
    return value - (1 << 64) if value is not None and value >= 1 << 63 else value


def _unsigned64(value: int | None) -> int | None:
    return value + (1 << 64) if value is not None and value < 0 else value


def _description(row: tuple) -> Description:
    (taken_at, offset, source, make, model, lens, lat, lon, city, region, country, code, area, phash, width,
     height) = row
    metadata = PhotoMetadata(taken_at, offset, source, width or None, height or None, make or None, model or None,
                             lens, lat, lon)
    place = Place(city, region, country, code, area) if city is not None else None
    return Description(metadata, place, _unsigned64(phash))


class Catalog:
    def __init__(self, connection: sqlite3.Connection, path: Path):
        self._db = connection
        self.path = path

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: Path, create: bool, model_id: str | None = None, dim: int | None = None) -> Catalog:
        path = Path(folder) / CATALOG_NAME
        if not path.exists():
            if not create:
                raise IndexNotFound(f"no index at {folder} yet; indexing a folder makes one")
            try:
                Path(folder).mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                why = "a file of that name is in the way" if isinstance(exc, FileExistsError) else exc.strerror
                raise StorageError(f"cannot make an index folder at {folder}: {why}") from None
        try:
            catalog = cls(connect(path), path)
        except sqlite3.Error as exc:
            raise storage_error(exc, path) from None
        try:
            catalog._prepare(create, model_id, dim)
        except BaseException as exc:
            catalog.close()
            if isinstance(exc, sqlite3.Error):
                raise storage_error(exc, path) from None
            raise
        return catalog

    def _prepare(self, create: bool, model_id: str | None, dim: int | None) -> None:
        db = self._db
        if db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                db.execute("PRAGMA journal_mode = WAL")
            except sqlite3.OperationalError:
                pass  # a read-only folder keeps the mode it has
        db.execute("PRAGMA synchronous = NORMAL")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "meta" not in tables:
            if not create or model_id is None or dim is None:
                raise IndexNotFound(f"no index at {self.path.parent} yet; indexing a folder makes one")
            with self.transaction():
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                if db.execute("SELECT 1 FROM meta").fetchone() is None:  # else another process just made it
                    self._set_meta(schema_version=SCHEMA_VERSION, model_id=model_id, dim=dim, generation=0,
                                   created_at=time.time(), updated_at=0)
        version = int(self.meta("schema_version", "0"))
        if version > SCHEMA_VERSION:
            raise IndexIncompatible(
                f"the index at {self.path.parent} was written by a newer pixseek (schema {version}, "
                f"this one reads {SCHEMA_VERSION}); upgrade pixseek or use another index folder")
        if version < 1:
            raise IndexCorrupt(f"the catalog at {self.path} has no schema version")
        if version < SCHEMA_VERSION:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        """Schema 1 -> 2: add the (empty) metadata tables; rows and vectors stay as they are.
        A catalog that cannot be written here stays at its schema and is read without metadata."""
        try:
            with self.transaction() as db:
                if int(self.meta("schema_version", "0")) == version:  # else another process just did it
                    for statement in SCHEMA.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    self._set_meta(schema_version=SCHEMA_VERSION, migrated_from=version)
        except sqlite3.OperationalError as exc:
            if "readonly" not in str(exc).lower():
                raise

    @property
    def has_metadata(self) -> bool:
        """False only for a schema 1 catalog that could not be migrated (opened read-only)."""
        return int(self.meta("schema_version", "0")) >= 2

    def close(self) -> None:
        self._db.close()

    # -- transactions and metadata ----------------------------------------------------------

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        """BEGIN ... COMMIT, rolled back on any error, COMMIT's own included (a full disk), so the
        connection never stays inside a transaction that holds the write lock."""
        self._db.execute(begin)
        try:
            yield self._db
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # SQLite rolls back by itself after some errors
                self._db.execute("ROLLBACK")
            raise

    def transaction(self):
        """A write transaction (BEGIN IMMEDIATE: takes the write lock up front)."""
        return self._transaction("BEGIN IMMEDIATE")

    def snapshot(self):
        """A read transaction: every query inside sees one committed state."""
        return self._transaction("BEGIN")

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else default

    def _set_meta(self, **values) -> None:
        self._db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             [(k, str(v)) for k, v in values.items()])

    @property
    def model_id(self) -> str:
        return self.meta("model_id")

    @property
    def dim(self) -> int:
        return int(self.meta("dim"))

    @property
    def generation(self) -> int:
        return int(self.meta("generation", "0"))

    def set_setting(self, key: str, value: str) -> None:
        with self.transaction():
            self._set_meta(**{key: value})

    # -- folders ----------------------------------------------------------------------------

    def roots(self) -> list[str]:
        return [decode_path(r[0]) for r in self._db.execute("SELECT path FROM roots ORDER BY path")]

    def add_roots(self, roots: Iterable[str]) -> None:
        with self.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO roots (path, added_at) VALUES (?, ?)",
                           [(encode_path(r), time.time()) for r in roots])

    # -- reading files ----------------------------------------------------------------------

    def count(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0]

    def count_under(self, folder: str) -> int:
        low, high = folder_range(folder)
        return self._db.execute("SELECT COUNT(*) FROM files WHERE path >= ? AND path < ?", (low, high)).fetchone()[0]

    def count_skipped(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM skipped").fetchone()[0]

    def file_info(self, id_: int) -> tuple | None:
        """(path, size, mtime_ns, width, height, indexed_at) of one row, or None."""
        row = self._db.execute("SELECT path, size, mtime_ns, width, height, indexed_at FROM files WHERE id = ?",
                               (int(id_),)).fetchone()
        return (decode_path(row[0]), *row[1:]) if row else None

    def files_under(self, folders: Iterable[str]) -> Iterator[FileRecord]:
        described = ("f.id IN (SELECT id FROM photo_meta)" if self.has_metadata else "1")
        for folder in folders:
            low, high = folder_range(folder)
            rows = self._db.execute(f"SELECT f.id, f.path, f.size, f.mtime_ns, f.hash, {described} FROM files f "
                                    "WHERE f.path >= ? AND f.path < ?", (low, high))
            for id_, path, size, mtime_ns, hash_, known in rows:
                yield FileRecord(id_, decode_path(path), size, mtime_ns, hash_, bool(known))

    def skipped_under(self, folders: Iterable[str]) -> dict[str, tuple[int, int, str]]:
        found = {}
        for folder in folders:
            low, high = folder_range(folder)
            for path, size, mtime_ns, reason in self._db.execute(
                    "SELECT path, size, mtime_ns, reason FROM skipped WHERE path >= ? AND path < ?", (low, high)):
                found[decode_path(path)] = (size, mtime_ns, reason)
        return found

    def paths_for(self, ids: Iterable[int]) -> dict[int, str]:
        ids = [int(i) for i in ids]
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return {id_: decode_path(path) for id_, path in
                self._db.execute(f"SELECT id, path FROM files WHERE id IN ({marks})", ids)}

    def lookup(self, path: str) -> FileRecord | None:
        row = self._db.execute("SELECT id, path, size, mtime_ns, hash FROM files WHERE path = ?",
                               (encode_path(path),)).fetchone()
        return FileRecord(row[0], decode_path(row[1]), row[2], row[3], row[4]) if row else None

    def find_by_hash(self, content_hash: bytes) -> int | None:
        row = self._db.execute("SELECT id FROM files WHERE hash = ? LIMIT 1", (content_hash,)).fetchone()
        return row[0] if row else None

    def skip_record(self, path: str) -> tuple[int, int, str] | None:
        """(size, mtime_ns, reason) of a skipped file, or None."""
        row = self._db.execute("SELECT size, mtime_ns, reason FROM skipped WHERE path = ?", (encode_path(path),)).fetchone()
        return tuple(row) if row else None

    def content_hashes(self) -> Iterator[bytes]:
        """Every stored content hash (a cluster job ships them, so nodes skip content already embedded)."""
        for (content,) in self._db.execute("SELECT hash FROM files"):
            yield content

    def clone(self) -> Catalog:
        """A second connection to this catalog. A connection's transactions are shared by every
        thread that uses it, so a thread that writes (or reads in parallel) needs its own."""
        return Catalog(connect(self.path), self.path)

    def vectors_for(self, ids: Iterable[int]) -> np.ndarray:
        ids = [int(i) for i in ids]
        found, vectors = self.stored_vectors(ids)
        if len(found) != len(ids):
            raise KeyError(next(i for i in ids if i not in set(found)))
        return vectors

    def stored_vectors(self, ids: list[int]) -> tuple[list[int], np.ndarray]:
        """The ids among `ids` that still have a row, in the given order, and their vectors."""
        rows = dict(self._rows_for("SELECT id, vector FROM vectors WHERE id IN ({})", ids))
        found = [i for i in ids if i in rows]
        return found, self._as_matrix([rows[i] for i in found])

    def _as_matrix(self, blobs: list[bytes]) -> np.ndarray:
        if not blobs:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), self.dim)

    def all_vectors(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) for every file, in batches, for rebuilding the vector index."""
        cursor = self._db.execute("SELECT id, vector FROM vectors ORDER BY id")
        while rows := cursor.fetchmany(batch):
            yield np.array([r[0] for r in rows], dtype=np.int64), self._as_matrix([r[1] for r in rows])

    def sample_vectors(self, generation: int, count: int) -> list[tuple[int, np.ndarray]]:
        """Up to `count` (id, vector) pairs spread over the ids, from rows that existed at
        `generation` (rowid seeks only: cheap on any size of catalog)."""
        low, high = self._db.execute("SELECT MIN(id), MAX(id) FROM files").fetchone()
        picks = {}
        for point in np.linspace(low, high, count).astype(int) if low is not None else []:
            row = self._db.execute("SELECT f.id, f.gen, v.vector FROM files f JOIN vectors v ON v.id = f.id "
                                   "WHERE f.id >= ? ORDER BY f.id LIMIT 1", (int(point),)).fetchone()
            if row and row[1] <= generation:
                picks[row[0]] = self._as_matrix([row[2]])[0]
        return list(picks.items())

    def changes_since(self, generation: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(removed ids, added ids, added vectors) after `generation`; call inside snapshot()."""
        removed = self.removed_since(generation)
        rows = self._db.execute(
            "SELECT v.id, v.vector FROM files f JOIN vectors v ON v.id = f.id WHERE f.gen > ? ORDER BY v.id",
            (generation,)).fetchall()
        return removed, np.array([r[0] for r in rows], dtype=np.int64), self._as_matrix([r[1] for r in rows])

    # -- reading metadata -------------------------------------------------------------------

    def descriptions(self, ids: Iterable[int]) -> dict[int, Description]:
        """The stored metadata of those of `ids` that have it."""
        if not self.has_metadata:
            return {}
        rows = self._rows_for(f"SELECT m.id, {PHOTO_COLUMNS} FROM {PHOTO_JOINS} WHERE m.id IN ({{}})", ids)
        return {row[0]: _description(row[1:]) for row in rows}

    def phashes(self, ids: Iterable[int]) -> dict[int, int]:
        if not self.has_metadata:
            return {}
        return {i: _unsigned64(h) for i, h in
                self._rows_for("SELECT id, phash FROM photo_meta WHERE phash IS NOT NULL AND id IN ({})", ids)}

    def cameras(self) -> dict[int, tuple[str | None, str | None]]:
        """Every camera named in the catalog: id -> (make, model)."""
        if not self.has_metadata:
            return {}
        return {i: (make or None, model or None) for i, make, model in
                self._db.execute("SELECT id, make, model FROM cameras")}

    def places(self) -> dict[int, Place]:
        if not self.has_metadata:
            return {}
        return {row[0]: Place(*row[1:]) for row in
                self._db.execute("SELECT id, city, region, country, country_code, area FROM places")}

    def metadata_columns(self, after_generation: int = -1) -> tuple[np.ndarray, ...]:
        """(ids, taken_at, utc_offset, camera_id, place_id, latitude, longitude) of the metadata
        written after `after_generation`, as arrays (missing ids -1, missing positions NaN)."""
        rows = self._db.execute(
            "SELECT id, taken_at, utc_offset, IFNULL(camera_id, -1), IFNULL(place_id, -1), IFNULL(latitude, 'nan'), "
            "IFNULL(longitude, 'nan') FROM photo_meta WHERE gen > ? ORDER BY id", (after_generation,)) \
            if self.has_metadata else []
        table = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.float64).reshape(-1, 7)
        return (table[:, 0].astype(np.int64), table[:, 1], table[:, 2].astype(np.int32), table[:, 3].astype(np.int32),
                table[:, 4].astype(np.int32), table[:, 5].astype(np.float32), table[:, 6].astype(np.float32))

    def changed_since(self, generation: int) -> np.ndarray:
        """Ids of files added or changed after `generation` (their vectors are new)."""
        return np.array([r[0] for r in self._db.execute("SELECT id FROM files WHERE gen > ?", (generation,))],
                        dtype=np.int64)

    def removed_since(self, generation: int) -> np.ndarray:
        return np.array([r[0] for r in self._db.execute("SELECT id FROM removed WHERE gen > ?", (generation,))],
                        dtype=np.int64)

    def ids_under(self, folder: str | None = None) -> np.ndarray:
        """Every file's id, or those under `folder`."""
        where, params = ("WHERE path >= ? AND path < ?", folder_range(folder)) if folder else ("", ())
        return np.array([r[0] for r in self._db.execute(f"SELECT id FROM files {where} ORDER BY id", params)],
                        dtype=np.int64)

    def copies(self, folder: str | None = None) -> list[list[int]]:
        """Ids of files with the same content (hash) as another file (under `folder`), per content."""
        inside, params = ("path >= ? AND path < ? AND", folder_range(folder)) if folder else ("", ())
        groups: dict[bytes, list[int]] = {}
        for hash_, id_ in self._db.execute(
                f"SELECT hash, id FROM files WHERE {inside} hash IN "
                "(SELECT hash FROM files GROUP BY hash HAVING COUNT(*) > 1) ORDER BY hash, id", params):
            groups.setdefault(hash_, []).append(id_)
        return [g for g in groups.values() if len(g) > 1]

    def file_details(self, ids: Iterable[int]) -> dict[int, tuple[str, int, int, int, bytes]]:
        """id -> (path, size in bytes, width, height, content hash)."""
        return {id_: (decode_path(path), size, width, height, hash_) for id_, path, size, width, height, hash_ in
                self._rows_for("SELECT id, path, size, width, height, hash FROM files WHERE id IN ({})", ids)}

    def _rows_for(self, sql: str, ids: Iterable[int]) -> Iterator[tuple]:
        """Rows of `sql` (with `IN ({})`) for any number of ids, in chunks SQLite accepts."""
        ids = [int(i) for i in ids]
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            yield from self._db.execute(sql.format(",".join("?" * len(chunk))), chunk)

    def skipped(self) -> list[tuple[str, str]]:
        return [(decode_path(p), r) for p, r in self._db.execute("SELECT path, reason FROM skipped ORDER BY path")]

    # -- writing ----------------------------------------------------------------------------

    def commit_batch(self, added: list[NewFile] = (), removed_ids: Iterable[int] = (),
                     moved: Iterable[tuple[int, str, int]] = (), skipped: Iterable[tuple[str, int, int, str]] = (),
                     forget_skipped: Iterable[str] = (), described: Iterable[tuple[int, Description]] = ()) -> list[int]:
        """Apply one batch of changes in one transaction and return the new rows' ids.

        `moved` is (id, new path, new mtime_ns): the row and its vector are kept. `described`
        (id, description) sets the metadata of rows that stay (moved ones, rows from schema 1).
        """
        with self.transaction() as db:
            generation = self._next_generation()
            self._remove(db, removed_ids, generation)
            db.executemany("UPDATE files SET path = ?, mtime_ns = ? WHERE id = ?",
                           [(encode_path(path), mtime, id_) for id_, path, mtime in moved])
            now = time.time()
            new_ids = []
            for item in added:
                cursor = db.execute(
                    "INSERT INTO files (path, size, mtime_ns, hash, width, height, indexed_at, gen) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (encode_path(item.path), item.size, item.mtime_ns, item.hash, item.width, item.height,
                     now, generation))
                new_ids.append(cursor.lastrowid)
            db.executemany("INSERT INTO vectors (id, vector) VALUES (?, ?)",
                           [(i, np.ascontiguousarray(item.vector, dtype=np.float32).tobytes())
                            for i, item in zip(new_ids, added)])
            descriptions = [(i, item.description) for i, item in zip(new_ids, added) if item.description]
            self._describe(db, descriptions + list(described), generation)
            touched = [encode_path(item.path) for item in added] + [encode_path(p) for p in forget_skipped]
            db.executemany("DELETE FROM skipped WHERE path = ?", [(p,) for p in touched])
            db.executemany("INSERT OR REPLACE INTO skipped (path, size, mtime_ns, reason) VALUES (?, ?, ?, ?)",
                           [(encode_path(p), s, m, r) for p, s, m, r in skipped])
        return new_ids

    def _describe(self, db: sqlite3.Connection, described: list[tuple[int, Description]], generation: int) -> None:
        rows, sizes = [], []
        for id_, description in described:
            m = description.metadata
            camera = self._camera_id(db, m.make, m.model)
            place = self._place_id(db, description.place)
            rows.append((id_, m.taken_at, m.utc_offset_min, m.time_source, camera, m.lens, m.latitude, m.longitude,
                         place, _signed64(description.phash), generation))
            if m.width and m.height:
                sizes.append((m.width, m.height, id_))
        db.executemany("INSERT INTO photo_meta (id, taken_at, utc_offset, time_source, camera_id, lens, latitude, "
                       "longitude, place_id, phash, gen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO "
                       "UPDATE SET taken_at = excluded.taken_at, utc_offset = excluded.utc_offset, time_source = "
                       "excluded.time_source, camera_id = excluded.camera_id, lens = excluded.lens, latitude = "
                       "excluded.latitude, longitude = excluded.longitude, place_id = excluded.place_id, "
                       "phash = IFNULL(excluded.phash, phash), gen = excluded.gen", rows)  # same bytes, same pHash
        db.executemany("UPDATE files SET width = ?, height = ? WHERE id = ?", sizes)

    @staticmethod
    def _camera_id(db: sqlite3.Connection, make: str | None, model: str | None) -> int | None:
        if not make and not model:
            return None
        db.execute("INSERT OR IGNORE INTO cameras (make, model) VALUES (?, ?)", (make or "", model or ""))
        return db.execute("SELECT id FROM cameras WHERE make = ? AND model = ?", (make or "", model or "")).fetchone()[0]

    @staticmethod
    def _place_id(db: sqlite3.Connection, place: Place | None) -> int | None:
        if place is None:
            return None
        key = (place.city, place.area, place.region, place.country, place.country_code)
        db.execute("INSERT OR IGNORE INTO places (city, area, region, country, country_code) VALUES (?, ?, ?, ?, ?)", key)
        return db.execute("SELECT id FROM places WHERE city = ? AND area = ? AND region = ? AND country = ? "
                          "AND country_code = ?", key).fetchone()[0]

    def _next_generation(self) -> int:
        generation = self.generation + 1
        self._set_meta(generation=generation, updated_at=time.time())
        return generation

    def _remove(self, db: sqlite3.Connection, ids: Iterable[int], generation: int) -> None:
        """Delete rows and their vectors, leaving tombstones for vector-index replay."""
        ids = [(int(i),) for i in ids]
        db.executemany("DELETE FROM files WHERE id = ?", ids)
        db.executemany("DELETE FROM vectors WHERE id = ?", ids)
        if self.has_metadata:
            db.executemany("DELETE FROM photo_meta WHERE id = ?", ids)
        db.executemany("INSERT OR REPLACE INTO removed (id, gen) VALUES (?, ?)", [(i, generation) for (i,) in ids])

    def remove_roots(self, folders: Iterable[str]) -> int:
        """Forget folders: their files leave the index (tombstoned) and they stop being roots."""
        folders = list(folders)
        ids = [record.id for record in self.files_under(folders)]
        with self.transaction() as db:
            self._remove(db, ids, self._next_generation())
            for folder in folders:
                low, high = folder_range(folder)
                db.execute("DELETE FROM skipped WHERE path >= ? AND path < ?", (low, high))
                db.execute("DELETE FROM roots WHERE path = ? OR (path >= ? AND path < ?)",
                           (encode_path(folder), low, high))
        return len(ids)

    def check(self) -> list[str]:
        """Problems found in the catalog itself (an empty list means consistent)."""
        try:
            result = self._db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            result = str(exc)
        if result != "ok":
            return [f"SQLite integrity check failed ({result})"]
        problems = []
        orphans = self._db.execute(
            "SELECT (SELECT COUNT(*) FROM files WHERE id NOT IN (SELECT id FROM vectors)),"
            " (SELECT COUNT(*) FROM vectors WHERE id NOT IN (SELECT id FROM files))").fetchone()
        if orphans[0]:
            problems.append(f"{orphans[0]} files without a vector")
        if orphans[1]:
            problems.append(f"{orphans[1]} vectors without a file")
        return problems
