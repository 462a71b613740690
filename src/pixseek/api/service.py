"""What one server shares between requests: the Library that searches use, the index job,
and a bound on how many searches run at once (each one uses every core for its text encoding;
more at once only make each one slower)."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from collections.abc import Iterator

from pixseek.api.settings import ApiSettings
from pixseek.errors import PixseekError
from pixseek.serving.jobs import IndexJob
from pixseek.library import Library


class Service:
    def __init__(self, settings: ApiSettings):
        self.settings = settings
        self.job = IndexJob()
        self._library: Library | None = None
        self._opening = threading.Lock()
        self._searches = threading.BoundedSemaphore(max(2, os.cpu_count() or 2))

    def library(self) -> Library:
        """The shared Library (opened on first use; IndexNotFound while there is no index)."""
        with self._opening:
            if self._library is None:
                self._library = Library.open(self.settings.index_dir, model=self.settings.model,
                                             device=self.settings.device)
            return self._library

    def open_for_indexing(self, check_model: bool = True) -> Library:
        """An index run's own Library (its own connection), creating the index if there is none;
        with `check_model`, refused when the index was built with another model than the server's."""
        return Library.open(self.settings.index_dir, model=self.settings.model, create=True, device=self.settings.device,
                            other_model="refuse" if check_model else "use its own")

    def indexed_folders(self) -> list[str]:
        try:
            return self.library().folders()
        except PixseekError:  # no index yet, or one that cannot be read: an index run says why
            return []

    @contextmanager
    def searching(self) -> Iterator[None]:
        with self._searches:
            yield

    def close(self) -> None:
        self.job.cancel()
        with self._opening:
            if self._library is not None:
                self._library.close()
                self._library = None
