"""Where the index's storage can fail: the writer lock, and SQLite errors turned into the
one-line PixseekError a person reads (translated once, for every public call of a class)."""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from filelock import FileLock, Timeout

from pixseek.errors import IndexLocked, StorageError
from pixseek.store.catalog import storage_error

LOCK_NAME = "write.lock"
Guarded = TypeVar("Guarded", bound=type)


@contextmanager
def writing(index_dir: Path) -> Iterator[None]:
    """The writer lock: one process at a time changes an index (an fcntl lock, so a process
    that dies, even by SIGKILL, releases it)."""
    lock = FileLock(str(index_dir / LOCK_NAME), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise IndexLocked(f"another pixseek process is updating the index at {index_dir}; "
                          "wait for it to finish") from None
    except OSError as exc:
        raise StorageError(f"cannot write to the index at {index_dir} ({exc.strerror})") from None
    try:
        yield
    finally:
        lock.release()


def storage_errors(catalog_path: Callable[[Any], Path]) -> Callable[[Guarded], Guarded]:
    """A class decorator: every public method and property of the class turns an SQLite failure
    (locked, full, read-only, damaged) into one clear PixseekError about the catalog at
    `catalog_path(self)`, so no method needs to remember to."""

    def guard(function: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(function)
        def guarded(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return function(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise storage_error(exc, catalog_path(self)) from None
        return guarded

    def decorate(cls: Guarded) -> Guarded:
        for name, member in list(vars(cls).items()):
            if name.startswith("_") or isinstance(member, (classmethod, staticmethod)):
                continue
            if isinstance(member, property) and member.fget is not None:
                setattr(cls, name, property(guard(member.fget), member.fset, member.fdel, member.__doc__))
            elif callable(member):
                setattr(cls, name, guard(member))
        return cls

    return decorate


def write_failure(exc: Exception) -> str:
    """The system's words for a failed write: strerror, or the last parenthesis in FAISS's message."""
    strerror = getattr(exc, "strerror", None)
    if strerror:
        return str(strerror)
    found = re.findall(r"\(([^()]+)\)", str(exc))
    return found[-1] if found else str(exc).splitlines()[0]
