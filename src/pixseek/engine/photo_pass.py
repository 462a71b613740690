"""What the passes after the vectors share (the text pass, the face pass): each reads the photos
that lack its signal one at a time, in batches committed one transaction each (a crash or
Ctrl-C loses one batch at most), with progress and time left through the run's callback; a
photo that changed or went since it was indexed is left to the next run. Each pass is kept on
or off per index by a setting of its own."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from PIL import Image

from pixseek.engine.index import OpenIndex
from pixseek.engine.results import IndexReport, Progress, ProgressCallback
from pixseek.engine.storage import writing
from pixseek.files import FileEntry
from pixseek.images import decode, read_file
from pixseek.store.catalog import Catalog

T = TypeVar("T")
Unread = tuple[int, str, int, int]  # a photo to read: (id, path, size, mtime_ns) as indexed


def choose(index: OpenIndex, setting: str, on: bool) -> None:
    """Turn a pass on or off for this index (kept for later runs); what it read stays."""
    with writing(index.index_dir), index.writer() as writer:
        writer.set_setting(setting, "yes" if on else "no")


def still_there(entry: FileEntry, min_side: int = 0) -> tuple[bytes, Image.Image] | None:
    """The photo's bytes and decoded image, or None where its file changed or went since it was
    indexed; ImageError where it cannot be decoded."""
    try:
        info = os.stat(entry.path)
    except OSError:
        return None
    if (info.st_size, info.st_mtime_ns) != (entry.size, entry.mtime_ns):
        return None
    data = read_file(entry.path)
    return data, decode(data, min_side=min_side, name=entry.path)


def read_in_batches(writer: Catalog, todo: Sequence[Unread], signal: str, size: int, stage: str,
                    read: Callable[[FileEntry], T | None], report: IndexReport, progress: ProgressCallback | None,
                    cancel: threading.Event | None, workers: int = 1) -> Iterator[list[tuple[int, T]]]:
    """Each batch of `todo`'s values of `signal` (None: nothing to store), once committed; a
    cancel ends the pass between batches and marks the report cancelled. `workers` photos are
    read at once (threads: decoding and ONNX Runtime release the interpreter lock), the next
    batch's while one is committed."""
    start = time.monotonic()
    saved, saved_at = 0, 0.0
    with ThreadPoolExecutor(workers, thread_name_prefix=f"pixseek-{signal}") as pool:

        def started(first: int) -> list[tuple[Unread, Future[T | None]]]:
            return [(photo, pool.submit(read, FileEntry(*photo[1:]))) for photo in todo[first:first + size]]

        ahead = started(0)
        for first in range(0, len(todo), size):
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                for _photo, future in ahead:
                    future.cancel()
                return
            current, ahead = ahead, started(first + size)  # the next batch is read while this one commits
            batch: list[tuple[int, T]] = []
            for done, ((id_, path, _size, _mtime), future) in enumerate(current, first + 1):
                value = future.result()
                if value is not None:
                    batch.append((id_, value))
                if progress:
                    progress(Progress(done, len(todo), 0, 0, 0, time.monotonic() - start,
                                      saved / saved_at if saved_at > 0 else 0.0, path, stage=stage))
            writer.commit_batch(values={signal: batch})
            saved, saved_at = first + len(current), time.monotonic() - start
            yield batch
