"""File system events, gathered as the set of paths that changed since the last batch.

The handler runs on watchdog's thread and only records paths, so the kernel's event queue is
drained fast even during a burst. Events that cannot change the index are dropped here: reads,
a folder's own "modified" (every file created in it causes one), files that are not images.
If the kernel's queue overflows anyway, events were lost: the watcher then rescans everything.
"""

from __future__ import annotations

import logging
import os
import threading
import time

from watchdog.events import FileSystemEvent, FileSystemEventHandler

from pixseek.files import VIDEO_EXTENSIONS, image_extensions, is_image_name

CHANGES = frozenset({"created", "deleted", "moved", "modified", "closed"})
OVERFLOW_LOGGER = "watchdog.observers.inotify_c"  # says so when the kernel dropped events


class ChangeCollector(FileSystemEventHandler):
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._paths: set[str] = set()
        self._first = self._last = 0.0
        self._extensions = image_extensions() | VIDEO_EXTENSIONS  # videos too (engine/video_pass.py)
        self.overflowed = threading.Event()

    def _relevant(self, path: str, is_directory: bool) -> bool:
        return bool(path) and (is_directory or is_image_name(path, self._extensions))

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in CHANGES or (event.is_directory and event.event_type == "modified"):
            return
        paths = [os.fsdecode(p) for p in (event.src_path, getattr(event, "dest_path", "")) if p]
        self.add([p for p in paths if self._relevant(p, event.is_directory)])

    def add(self, paths: list[str]) -> None:
        if not paths:
            return
        now = time.monotonic()
        with self._guard:
            if not self._paths:
                self._first = now
            self._paths.update(paths)
            self._last = now

    def take(self, quiet_s: float, max_wait_s: float) -> list[str]:
        """The paths changed so far, once no event came for `quiet_s` (a copy has finished) or
        the oldest has waited `max_wait_s` (a long burst is applied in parts); else nothing."""
        now = time.monotonic()
        with self._guard:
            if not self._paths or (now - self._last < quiet_s and now - self._first < max_wait_s):
                return []
            paths, self._paths = sorted(self._paths), set()
            return paths


class OverflowAlarm(logging.Handler):
    """watchdog rebuilds its watches after an overflow but tells only its log: listen there."""

    def __init__(self, collector: ChangeCollector):
        super().__init__(logging.WARNING)
        self.collector = collector

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in record.getMessage().lower():
            self.collector.overflowed.set()
