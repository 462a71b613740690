"""Reading a run's text ahead, on the cores its vector pass leaves idle.

The vector pass keeps 1.2-1.4 of 2 cores busy (its Python holds the interpreter lock), so the
text pass that follows it would find most of a core unused meanwhile. While the vectors are
computed, `ReadAhead` reads the text of the run's new and changed photos on threads of a lower
OS priority (Linux: a thread's own nice value), so the vector pass, and search, are not slowed;
the text pass then stores what was read ahead and reads only the rest. Nothing read ahead is
stored before the text pass stores it (one transaction a batch, as ever), and at most AHEAD
photos' text is held in memory: a larger run reads its first AHEAD photos ahead and the rest in
the pass.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from pixseek.files import FileEntry

AHEAD = 20_000  # photos read ahead at most (their text held until the pass stores it: a few MB)
NICENESS = 10  # how much lower the reading threads' priority is than the process's
T = TypeVar("T")
Key = tuple[str, int, int]  # (path, size, mtime_ns): a file as it was when read


class ReadAhead(Generic[T]):
    """Reads `entries` with `read` on `workers` low-priority threads, a few at a time in their
    order, until `stop`; `take` hands over one entry's result (waiting if it is being read)."""

    def __init__(self, entries: Sequence[FileEntry], read: Callable[[FileEntry], T], workers: int):
        self._read = read
        self._todo = iter(entries[:AHEAD])
        self._reading: dict[Key, Future[T]] = {}
        self._lock = threading.RLock()  # a future already done runs its callback in the submitting thread
        self._stopped = False
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="pixseek-words-ahead", initializer=_lower_priority)
        for _ in range(2 * workers):  # each worker has its next photo waiting
            self._submit_next()

    def _submit_next(self) -> None:
        with self._lock:
            entry = None if self._stopped else next(self._todo, None)
            if entry is None:
                return
            future = self._pool.submit(self._read, entry)
            self._reading[_key(entry)] = future
        future.add_done_callback(lambda _done: self._submit_next())

    def stop(self) -> None:
        """No more reading ahead: what is being read finishes, what waits is dropped."""
        with self._lock:
            self._stopped = True
            for key, future in list(self._reading.items()):
                if future.cancel():
                    del self._reading[key]

    def take(self, entry: FileEntry) -> tuple[bool, T | None]:
        """(True, its result) where `entry`, as it is now, was read ahead; (False, None) otherwise."""
        with self._lock:
            future = self._reading.pop(_key(entry), None)
        if future is None or future.cancelled():
            return False, None
        return True, future.result()

    def close(self) -> None:
        self.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._reading.clear()


def _key(entry: FileEntry) -> Key:
    return (entry.path, entry.size, entry.mtime_ns)


def _lower_priority() -> None:
    """This thread's own priority lowered (Linux threads have their own nice value; elsewhere
    setpriority would change the whole process, so it is left alone)."""
    if sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), os.getpriority(os.PRIO_PROCESS, 0) + NICENESS)
        except OSError:  # a sandbox that forbids it: read at the process's priority
            pass
