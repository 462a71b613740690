"""Indexing in a background thread, so a server (the web app, the HTTP API) stays live, shows
progress and can cancel.

One job per index, shared by every browser session or client of a server: a reloaded page finds
the run still going. The run opens its own Library (its own SQLite connection): the catalog's
connection is not shared between a writer and readers, and searches in the meantime see the
last committed batch. The Library's write lock keeps any other writer out.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from collections.abc import Callable

from pixseek.errors import PixseekError
from pixseek.library import Library
from pixseek.engine.results import IndexReport, Progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobState:
    running: bool
    cancelling: bool
    progress: Progress | None
    report: IndexReport | None  # of the last finished run
    error: str | None  # why the last run failed
    runs: int  # finished runs: a cache key for whatever a run may have changed


class IndexJob:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._cancel = threading.Event()
        self._running = False
        self._progress: Progress | None = None
        self._report: IndexReport | None = None
        self._error: str | None = None
        self._runs = 0

    def start(self, open_library: Callable[[], Library], folders: list[str] | None, rebuild_for: str | None = None,
              read_text: bool | None = None) -> bool:
        """Index `folders` (None: those already indexed) in the background, or with `rebuild_for`
        rebuild the index for that model (`Library.reindex`); False if a run is going.
        `read_text` is `Library.index`'s: the index's text setting from this run on (None keeps it)."""
        with self._guard:
            if self._running:
                return False
            self._running = True
            self._cancel = threading.Event()
            self._progress = self._report = self._error = None
        threading.Thread(target=self._run, args=(open_library, folders, rebuild_for, read_text, self._cancel),
                         name="pixseek-index", daemon=True).start()
        return True

    def cancel(self) -> None:
        """Stop after the batch in flight is committed (the index keeps everything done so far)."""
        self._cancel.set()

    def _on_progress(self, progress: Progress) -> None:
        self._progress = progress

    def _run(self, open_library: Callable[[], Library], folders: list[str] | None, rebuild_for: str | None,
             read_text: bool | None, cancel: threading.Event) -> None:
        report = error = None
        try:
            with open_library() as library:
                if rebuild_for:
                    report = library.reindex(rebuild_for, folders, progress=self._on_progress, cancel=cancel)
                else:
                    report = library.index(folders, progress=self._on_progress, cancel=cancel, read_text=read_text)
        except PixseekError as exc:
            error = str(exc)
        except Exception as exc:  # the thread is the boundary: the page gets one line, the log the rest
            log.exception("indexing failed")
            error = f"indexing stopped by an unexpected error: {exc}"
        with self._guard:
            self._report, self._error = report, error
            self._running = False
            self._runs += 1

    def state(self) -> JobState:
        with self._guard:
            return JobState(self._running, self._running and self._cancel.is_set(), self._progress,
                            self._report, self._error, self._runs)
