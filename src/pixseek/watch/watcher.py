"""The watch loop: catch up with a full rescan, then apply debounced batches of changes.

A watched folder that disappears, or is left empty while the index holds photos from it, is
taken for an unmounted disk: its photos stay in the index and it is looked at again every few
seconds; when it is back it is rescanned whole and watched again. (Deleting every photo of a
watched folder therefore needs `pixseek index` or `pixseek remove` to show in the index.)

Stopping (the `stop` event, set on Ctrl-C) cancels a batch in flight after its commit: the
index stays consistent and the next start's rescan finishes the job.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable

from watchdog.events import (DirCreatedEvent, DirDeletedEvent, DirMovedEvent, FileClosedEvent, FileCreatedEvent,
                             FileDeletedEvent, FileModifiedEvent, FileMovedEvent, FileSystemEvent)
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from pixseek import containment
from pixseek.errors import IndexLocked, PixseekError
from pixseek.files import check_folder
from pixseek.library import Library
from pixseek.engine.results import IndexReport
from pixseek.watch.events import OVERFLOW_LOGGER, ChangeCollector, OverflowAlarm

log = logging.getLogger(__name__)
TICK_S = 0.2
# Linux reports a finished write as "closed" (once per file, where "modified" comes per write).
EVENT_KINDS: list[type[FileSystemEvent]] = [
    FileCreatedEvent, FileDeletedEvent, FileMovedEvent, DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
    FileClosedEvent if sys.platform.startswith("linux") else FileModifiedEvent]


def _empty(folder: str) -> bool:
    try:
        with os.scandir(folder) as entries:
            return next(entries, None) is None
    except OSError:
        return True


class Watcher:
    def __init__(self, library: Library, folders: list[str] | None = None, quiet_s: float = 2.0,
                 max_wait_s: float = 30.0, recheck_s: float = 5.0, say: Callable[[str], None] = log.info):
        self.library = library
        self.folders = [containment.absolute(f) for f in folders or []]
        self.quiet_s = quiet_s
        self.max_wait_s = max_wait_s
        self.recheck_s = recheck_s
        self.say = say
        self.changes = ChangeCollector()
        self._observer = Observer()
        self._watches: dict[str, ObservedWatch] = {}
        self._offline: set[str] = set()
        self._rescan: set[str] = set()  # roots to index whole before anything else

    # -- folders ----------------------------------------------------------------------------

    def _offline_now(self, root: str) -> bool:
        return not os.path.isdir(root) or (_empty(root) and self.library.count(root) > 0)

    def _go_online(self, root: str) -> None:
        try:
            self._watches[root] = self._observer.schedule(self.changes, root, recursive=True, event_filter=EVENT_KINDS)
        except OSError as error:
            self.say(f"cannot watch {root} ({error.strerror}); trying again in {self.recheck_s:g} s")
            self._offline.add(root)
            return
        self._offline.discard(root)
        self._rescan.add(root)  # whatever happened while it was not watched

    def _go_offline(self, root: str) -> None:
        watch = self._watches.pop(root, None)
        if watch is not None:
            try:
                self._observer.unschedule(watch)
            except (KeyError, OSError):
                pass  # the watch ended with its folder
        self._offline.add(root)
        self.say(f"{root} is gone or empty (unmounted?): its {self.library.count(root)} photos stay in the index "
                 "until it is back")

    def _check_folders(self, roots: list[str]) -> None:
        for root in roots:
            offline = self._offline_now(root)
            if offline and root not in self._offline:
                self._go_offline(root)
            elif not offline and root in self._offline:
                self.say(f"{root} is back: rescanning it")
                self._go_online(root)

    # -- applying changes ---------------------------------------------------------------------

    def _apply(self, work: Callable[[], IndexReport], what: str) -> bool:
        """Run one index call; False if it must be tried again later (another writer, an error)."""
        try:
            report = work()
        except IndexLocked as error:
            log.info("%s", error)
            return False
        except PixseekError as error:
            self.say(f"{what} failed: {error}; trying again in {self.recheck_s:g} s")
            return False
        if report.indexed or report.reused or report.removed or report.skipped or report.cancelled:
            self.say(f"{what}: {report.describe()}")
        return True

    def _step(self, stop: threading.Event) -> bool:
        """One round; False when it should wait `recheck_s` before the next one."""
        if self.changes.overflowed.is_set():
            self.changes.overflowed.clear()
            self.say("the system dropped file events (a very large burst): rescanning every watched folder")
            self._rescan.update(self._watches)
        if self._rescan:
            roots = sorted(r for r in self._rescan if r not in self._offline)
            self._rescan.clear()
            if roots and not self._apply(lambda: self.library.index(roots, cancel=stop), "rescan"):
                self._rescan.update(roots)
                return False
        changed = self.changes.take(self.quiet_s, self.max_wait_s)
        if changed and not self._apply(lambda: self.library.update(changed, cancel=stop), "update"):
            self.changes.add(changed)
            return False
        return True

    def run(self, stop: threading.Event) -> None:
        """Watch until `stop` is set."""
        roots = self.folders or self.library.folders()
        if not roots:
            raise PixseekError("no folder to watch: name one, or index one first")
        for folder in self.folders:
            check_folder(folder)
        alarm = OverflowAlarm(self.changes)
        logging.getLogger(OVERFLOW_LOGGER).addHandler(alarm)
        self._observer.start()
        try:
            for root in roots:
                if self._offline_now(root):
                    self._go_offline(root)
                else:
                    self._go_online(root)  # watched first, then rescanned: nothing falls between
            self.say(f"watching {len(self._watches)} folder(s); Ctrl-C to stop")
            last_check = 0.0
            while not stop.is_set():
                if not self._step(stop):
                    stop.wait(self.recheck_s)
                    continue
                if time.monotonic() - last_check >= self.recheck_s:
                    last_check = time.monotonic()
                    self._check_folders(roots)
                stop.wait(TICK_S)
        finally:
            logging.getLogger(OVERFLOW_LOGGER).removeHandler(alarm)
            self._observer.stop()
            self._observer.join()
