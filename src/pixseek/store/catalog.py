"""The catalog: one SQLite database that is the source of truth for an index.

It holds every indexed file (path, size, mtime, content hash, pixel size), the files skipped
and why, the indexed folders, the model and schema that wrote it, and the rows of every signal
(pixseek.signals: the vector, the metadata, the perceptual hash), each in its own tables keyed
by the file's id. Every change happens in a transaction, so a crash at any moment leaves the
last committed state. WAL mode lets searches read the last committed state while an indexer
writes.

Each committed batch bumps a generation number. Rows carry the generation that added them and
deletions leave a tombstone with theirs, so a FAISS file saved at generation G can be brought
up to date by replaying only what came after G. Row ids are never reused (AUTOINCREMENT) and
are the FAISS ids, so ids and paths cannot drift apart.

Paths are stored as bytes (os.fsencode) so that names that are not valid UTF-8 survive.

Schema 2 added the metadata tables. Opening a schema 1 catalog where it can be written adds
them (nothing else changes: every row and vector stays); the next index run fills them in from
the files without embedding any photo again (see indexer.py). A signal added later has its
tables made the same way, when a catalog that lacks them is opened where it can be written.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixseek.errors import IndexNotFound, StorageError
from pixseek.places import Place
from pixseek.signals import SIGNALS, Description, MetadataRows, PhashRows, SignalRows, VectorRows
from pixseek.signals.metadata import columns_of
from pixseek.signals.words import WordRows
from pixseek.store.schema import SCHEMA, SCHEMA_VERSION, prepare, tables, write_meta
from pixseek.store.sqlite import connect, decode_path, encode_path, folder_range, rows_for, storage_error

CATALOG_NAME = "catalog.sqlite3"

__all__ = ["CATALOG_NAME", "SCHEMA", "SCHEMA_VERSION", "Catalog", "Description", "FileRecord", "NewFile",
           "folder_range", "storage_error"]


@dataclass(frozen=True)
class FileRecord:
    id: int
    path: str
    size: int
    mtime_ns: int
    hash: bytes
    lacking: frozenset[str] = frozenset()  # signals whose rows it lacks and that an index run reads again


@dataclass(frozen=True)
class NewFile:
    path: str
    size: int
    mtime_ns: int
    hash: bytes
    width: int
    height: int
    values: Mapping[str, Any] = field(default_factory=dict)  # signal name -> its value for this file


class Catalog:
    def __init__(self, connection: sqlite3.Connection, path: Path):
        self._db = connection
        self.path = path
        self._signal_rows: dict[str, SignalRows] = {signal.name: signal.rows(connection) for signal in SIGNALS}
        self._vectors = VectorRows(connection)
        self._metadata = MetadataRows(connection)
        self._phashes = PhashRows(connection)
        self._words = WordRows(connection)

    @property
    def connection(self) -> sqlite3.Connection:
        """The connection, for the schema's upgrade (store/schema.py); the catalog's methods are the API."""
        return self._db

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
            prepare(catalog, create, model_id, dim)
        except BaseException as exc:
            catalog.close()
            if isinstance(exc, sqlite3.Error):
                raise storage_error(exc, path) from None
            raise
        return catalog

    @property
    def has_metadata(self) -> bool:
        """False only for a schema 1 catalog that could not be migrated (opened read-only)."""
        return int(self.meta("schema_version", "0") or 0) >= 2

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

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: takes the write lock up front)."""
        return self._transaction("BEGIN IMMEDIATE")

    def snapshot(self) -> AbstractContextManager[sqlite3.Connection]:
        """A read transaction: every query inside sees one committed state."""
        return self._transaction("BEGIN")

    def meta(self, key: str, default: str | None = None) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def _set_meta(self, **values: object) -> None:
        write_meta(self._db, **values)

    @property
    def model_id(self) -> str:
        return str(self.meta("model_id"))

    @property
    def dim(self) -> int:
        return int(self.meta("dim") or 0)

    @property
    def generation(self) -> int:
        return int(self.meta("generation", "0") or 0)

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
        return int(self._db.execute("SELECT COUNT(*) FROM files").fetchone()[0])

    def count_under(self, folder: str) -> int:
        low, high = folder_range(folder)
        return int(self._db.execute("SELECT COUNT(*) FROM files WHERE path >= ? AND path < ?",
                                    (low, high)).fetchone()[0])

    def count_skipped(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM skipped").fetchone()[0])

    def file_info(self, id_: int) -> tuple[Any, ...] | None:
        """(path, size, mtime_ns, width, height, indexed_at) of one row, or None."""
        row = self._db.execute("SELECT path, size, mtime_ns, width, height, indexed_at FROM files WHERE id = ?",
                               (int(id_),)).fetchone()
        return (decode_path(row[0]), *row[1:]) if row else None

    def files_under(self, folders: Iterable[str]) -> Iterator[FileRecord]:
        """The rows under `folders`, each with the signals it lacks that a run reads again."""
        backfills = [(s.name, s.rows.backfill) for s in SIGNALS if s.rows.backfill and self._holds(s.rows)]
        lacks = "".join(f", {condition}" for _, condition in backfills)
        for folder in folders:
            low, high = folder_range(folder)
            rows = self._db.execute(f"SELECT f.id, f.path, f.size, f.mtime_ns, f.hash{lacks} FROM files f "
                                    "WHERE f.path >= ? AND f.path < ?", (low, high))
            for id_, path, size, mtime_ns, hash_, *lacking in rows:
                yield FileRecord(id_, decode_path(path), size, mtime_ns, hash_,
                                 frozenset(name for (name, _), lacks_it in zip(backfills, lacking) if lacks_it))

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
        return int(row[0]) if row else None

    def skip_record(self, path: str) -> tuple[int, int, str] | None:
        """(size, mtime_ns, reason) of a skipped file, or None."""
        row = self._db.execute("SELECT size, mtime_ns, reason FROM skipped WHERE path = ?", (encode_path(path),)).fetchone()
        return (row[0], row[1], row[2]) if row else None

    def content_hashes(self) -> Iterator[bytes]:
        """Every stored content hash (a cluster job ships them, so nodes skip content already embedded)."""
        for (content,) in self._db.execute("SELECT hash FROM files"):
            yield content

    def clone(self) -> Catalog:
        """A second connection to this catalog. A connection's transactions are shared by every
        thread that uses it, so a thread that writes (or reads in parallel) needs its own."""
        return Catalog(connect(self.path), self.path)

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
                rows_for(self._db, "SELECT id, path, size, width, height, hash FROM files WHERE id IN ({})", ids)}

    def skipped(self) -> list[tuple[str, str]]:
        return [(decode_path(p), r) for p, r in self._db.execute("SELECT path, reason FROM skipped ORDER BY path")]

    # -- reading signals (the vector's and the metadata's readers the query side uses) ---------

    def values(self, signal: str, ids: Iterable[int]) -> dict[int, Any]:
        """The stored values of `signal` for those of `ids` that have one (none where this
        catalog has no tables for it: an older index opened read-only)."""
        rows = self._signal_rows[signal]
        return rows.read(ids) if self._holds(rows) else {}

    def _holds(self, rows: type[SignalRows] | SignalRows) -> bool:
        """Whether this catalog has the tables of a signal (an older index opened read-only may not)."""
        present = tables(self._db)
        return all(table in present for table in rows.tables())

    def vectors_for(self, ids: Iterable[int]) -> np.ndarray:
        ids = [int(i) for i in ids]
        found, vectors = self._vectors.stored(ids)
        if len(found) != len(ids):
            raise KeyError(next(i for i in ids if i not in set(found)))
        return vectors

    def stored_vectors(self, ids: list[int]) -> tuple[list[int], np.ndarray]:
        """The ids among `ids` that still have a row, in the given order, and their vectors."""
        return self._vectors.stored(ids)

    def all_vectors(self, batch: int = 65536) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids, vectors) for every file, in batches, for rebuilding the vector index."""
        return self._vectors.every(batch)

    def sample_vectors(self, generation: int, count: int) -> list[tuple[int, np.ndarray]]:
        """Up to `count` (id, vector) pairs spread over the ids that existed at `generation`."""
        return self._vectors.sample(generation, count)

    def changes_since(self, generation: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(removed ids, added ids, added vectors) after `generation`; call inside snapshot()."""
        return (self.removed_since(generation), *self._vectors.added_since(generation))

    def descriptions(self, ids: Iterable[int]) -> dict[int, Description]:
        """The stored metadata of those of `ids` that have it."""
        return self._metadata.read(ids) if self.has_metadata else {}

    def phashes(self, ids: Iterable[int]) -> dict[int, int]:
        return self._phashes.read(ids) if self.has_metadata else {}

    @property
    def words(self) -> WordRows:
        """The text read in photos: for the text pass and the word search."""
        return self._words

    def text_counts(self) -> tuple[int, int]:
        """(photos read for text by the current reader, those with any text); none where this
        catalog has no text tables (an older index opened read-only)."""
        return self._words.counts() if self._holds(self._words) else (0, 0)

    def cameras(self) -> dict[int, tuple[str | None, str | None]]:
        """Every camera named in the catalog: id -> (make, model)."""
        return self._metadata.cameras() if self.has_metadata else {}

    def places(self) -> dict[int, Place]:
        return self._metadata.places() if self.has_metadata else {}

    def metadata_columns(self, after_generation: int = -1) -> tuple[np.ndarray, ...]:
        """(ids, taken_at, utc_offset, camera_id, place_id, latitude, longitude) of the metadata
        written after `after_generation`, as arrays (missing ids -1, missing positions NaN)."""
        return self._metadata.columns(after_generation) if self.has_metadata else columns_of([])

    # -- writing ----------------------------------------------------------------------------

    def commit_batch(self, added: Sequence[NewFile] = (), removed_ids: Iterable[int] = (),
                     moved: Iterable[tuple[int, str, int]] = (), skipped: Iterable[tuple[str, int, int, str]] = (),
                     forget_skipped: Iterable[str] = (),
                     values: Mapping[str, Sequence[tuple[int, Any]]] | None = None) -> list[int]:
        """Apply one batch of changes in one transaction and return the new rows' ids.

        `moved` is (id, new path, new mtime_ns): the row and its signals' rows are kept.
        `values` (signal name -> (id, value) pairs) sets signals of rows that stay (moved ones,
        rows read again for a signal they lack); the new rows bring theirs in `NewFile.values`.
        """
        values = values or {}
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
                new_ids.append(int(cursor.lastrowid or 0))
            for name, rows in self._signal_rows.items():  # in SIGNALS' order
                fresh = [(i, item.values[name]) for i, item in zip(new_ids, added) if item.values.get(name) is not None]
                if fresh or values.get(name):
                    rows.write(fresh + list(values.get(name, ())), generation)
            touched = [encode_path(item.path) for item in added] + [encode_path(p) for p in forget_skipped]
            db.executemany("DELETE FROM skipped WHERE path = ?", [(p,) for p in touched])
            db.executemany("INSERT OR REPLACE INTO skipped (path, size, mtime_ns, reason) VALUES (?, ?, ?, ?)",
                           [(encode_path(p), s, m, r) for p, s, m, r in skipped])
        return new_ids

    def _next_generation(self) -> int:
        generation = self.generation + 1
        self._set_meta(generation=generation, updated_at=time.time())
        return generation

    def _remove(self, db: sqlite3.Connection, ids: Iterable[int], generation: int) -> None:
        """Delete rows and their signals' rows, leaving tombstones for vector-index replay."""
        ids = [int(i) for i in ids]
        db.executemany("DELETE FROM files WHERE id = ?", [(i,) for i in ids])
        for rows in self._signal_rows.values():
            if ids and self._holds(rows):
                rows.delete(ids)
        db.executemany("INSERT OR REPLACE INTO removed (id, gen) VALUES (?, ?)", [(i, generation) for i in ids])

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
