"""What the desktop app asks of the engine. Runs on the app's worker threads, never the UI's.

The app uses one index: the one `--index` names, else the default index that the CLI and the
web app use too (so a folder indexed from any face is ready in all of them; nested folders
share vectors). Choosing a folder adds it to that index, and searches are kept to the chosen
folder with the search filters' folder, so results are the folder the user is looking at.
"""

from __future__ import annotations

import threading
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from pixseek import paths
from pixseek.desktop import results_page
from pixseek.files import check_folder
from pixseek.filters import SearchFilters
from pixseek.library import Library, OtherModel, index_exists
from pixseek.model.bundle import default_model
from pixseek.engine.results import ChangeSummary, IndexReport, ProgressCallback, SearchResult
from pixseek.engine.query import Query


@dataclass(frozen=True)
class FolderState:
    """A chosen folder against the index: `changes` is None when there is no index yet."""

    folder: str
    changes: ChangeSummary | None
    model: str
    index_dir: str

    @property
    def indexed(self) -> bool:
        """Whether any file under the folder has been indexed before."""
        c = self.changes
        return c is not None and bool(c.unchanged or c.changed or c.deleted)


@dataclass(frozen=True)
class SearchPage:
    query: Query
    results: list[SearchResult]
    page: Path
    browser: bool  # whether a web browser was found to hand the page to (it may still fail to show it)


def results_folder() -> Path:
    return paths.cache_dir() / "desktop"


def open_page(page: Path) -> bool:
    """Hand the page to the web browser; False when no browser was found."""
    return webbrowser.open(page.as_uri())


class Session:
    def __init__(self, index_dir: str | None = None, model: str | None = None, device: str | None = None):
        self.index_dir = Path(index_dir).expanduser() if index_dir else paths.default_index_dir()
        self.model = model
        self.device = device
        self._library: Library | None = None
        self._opening = threading.Lock()  # a search and an index job may both ask first

    def model_name(self) -> str:
        """The model a new index would use (an existing index names its own)."""
        return self.model or default_model()

    def library(self, other_model: OtherModel = "refuse") -> Library:
        """The app's Library, opened (and created, with the model, if absent) on first use;
        refused when the index was built with another model, unless `other_model` says so."""
        with self._opening:
            if self._library is None:
                self._library = Library.open(self.index_dir, model=self.model, create=True, device=self.device,
                                             other_model=other_model)
            return self._library

    def inspect(self, folder: str) -> FolderState:
        folder = check_folder(folder)
        if self._library is None and not index_exists(self.index_dir):
            return FolderState(folder, None, self.model_name(), str(self.index_dir))
        library = self.library()
        return FolderState(folder, library.changes([folder]), library.model_id, str(library.index_dir))

    def index(self, folder: str, progress: ProgressCallback, cancel: threading.Event) -> IndexReport:
        folder = check_folder(folder)  # before the index is made: a missing folder leaves none behind
        return self.library().index([folder], progress=progress, cancel=cancel)

    def reindex(self, model: str, progress: ProgressCallback, cancel: threading.Event) -> IndexReport:
        """Rebuild the index (all its folders) for `model`, which the app was started with while the
        index was built with another; the old index answers searches until the new one is done."""
        return self.library(other_model="use its own").reindex(model, progress=progress, cancel=cancel)

    def search(self, query: Query, k: int, filters: SearchFilters) -> SearchPage:
        """Search (`filters.folder` is the chosen folder) and open the results page."""
        library = self.library()
        results = library.search(query, k=k, filters=filters)
        page = results_page.write(results_folder(), query, results, filters, library.thumbnail,
                                  library.video_thumbnail)
        return SearchPage(query, results, page, open_page(page))

    def close(self) -> None:
        if self._library is not None:
            self._library.close()
            self._library = None
