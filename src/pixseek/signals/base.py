"""The seam every signal fits: what it reads, what rows it keeps, how it is scheduled and read back.

A *signal* is one kind of thing pixseek learns about a file: its CLIP vector, its metadata, its
perceptual hash; next the words written in it or the faces in it. Each is two small classes:

- `Signal`, the indexing side. `reads` says what it needs: the file's bytes (with its path and
  mtime) or the decoded image. The indexer calls `read` on each file in a decode worker thread,
  then `complete` once per batch in the committing thread (one model call for the batch, one
  look-up for the batch's GPS positions). An image signal depends on the content alone: it runs
  only for content no stored row holds, and a file whose content is already stored (a copy)
  takes the stored row's value. A bytes signal runs for every file that is read, moved and
  copied ones too, since its value may depend on the path or the mtime.
- `SignalRows`, the storage and query side: its own tables in the catalog (`schema`), keyed by
  the file row's id and stamped with the batch's generation, written in the batch's one
  transaction (so a crash loses the batch whole, never one signal of it), deleted with the
  file, and read back by id for queries (search, filter, re-rank, confirm).

Register a signal in `pixseek.signals` (see docs/architecture.md for a worked example).
"""

from __future__ import annotations

import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, ClassVar

from PIL import Image

from pixseek.files import FileEntry

if TYPE_CHECKING:  # the model is loaded only where a run encodes
    from pixseek.model import Encoder


class Reads(Enum):
    BYTES = "bytes"  # the file's bytes, path and mtime: read for every file read
    IMAGE = "image"  # the decoded image: read only for content that no stored row holds


@dataclass(frozen=True)
class FileData:
    """What a signal reads about one file."""

    entry: FileEntry
    data: bytes
    image: Image.Image | None = None  # upright RGB, decoded at the largest `min_side` any image signal asks


class SignalRows(ABC):
    """A signal's rows in the catalog, on one connection. Writes run inside the catalog's batch
    transaction; reads run wherever the catalog's connection is (in a snapshot, if the caller
    took one)."""

    schema: ClassVar[str] = ""  # CREATE TABLE/INDEX IF NOT EXISTS statements of its own tables
    # A condition on `files f` for rows that lack this signal and that an index run reads again
    # for it alone (metadata, for rows written before pixseek read it); None: never backfilled.
    backfill: ClassVar[str | None] = None

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    @classmethod
    def tables(cls) -> list[str]:
        return re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", cls.schema)

    @abstractmethod
    def write(self, rows: Sequence[tuple[int, Any]], generation: int) -> None:
        """Store (file id, value) pairs; a file id already present is replaced."""

    @abstractmethod
    def read(self, ids: Iterable[int]) -> dict[int, Any]:
        """The stored values of those of `ids` that have one."""

    @abstractmethod
    def delete(self, ids: Sequence[int]) -> None:
        """Forget the values of files that leave the index."""


class Signal(ABC):
    """The indexing side of a signal (see the module's docstring)."""

    name: ClassVar[str]  # its key in a batch's values and in the catalog's registry
    reads: ClassVar[Reads]
    rows: ClassVar[type[SignalRows]]
    # Every file row must have a value (the CLIP vector: its row id is its FAISS id): a copy
    # whose stored row lacks one is an error rather than a row without it.
    required: ClassVar[bool] = False
    min_side: int = 0  # image signals: the smallest side the decoded image must keep

    @classmethod
    def for_run(cls, encoder: Encoder | None) -> Signal | None:
        """The signal for an index run with `encoder` (None: a run that embeds nothing), or None
        where it cannot run then."""
        return cls()

    @abstractmethod
    def read(self, file: FileData) -> Any:
        """This signal's raw value for one file (a decode worker thread; may raise ImageError,
        which skips the file with its reason)."""

    def complete(self, raw: list[Any]) -> list[Any]:
        """The values to store for a batch's raw values (the committing thread)."""
        return raw
