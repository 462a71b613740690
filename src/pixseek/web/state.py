"""What one server process shares between browser sessions: the index it serves, one Library
and one indexing job per index, the uploaded example photos, and short-lived caches of the
slower index queries.

`pixseek web` hands the index, model and device down through the engine's own variables
(PIXSEEK_INDEX, PIXSEEK_MODEL, PIXSEEK_DEVICE), so the app and the CLI resolve them alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from pixseek import paths
from pixseek.library import Library, index_exists
from pixseek.engine.results import ChangeSummary, FolderInfo, Status
from pixseek.serving.jobs import IndexJob
from pixseek.serving.uploads import UploadStore

STATUS_TTL_S = 10  # picks up an index updated by another process (the CLI) soon enough
CHANGES_TTL_S = 30  # looking for changed files scans every folder: not on every redraw


@dataclass(frozen=True)
class Config:
    index_dir: str
    model: str | None
    device: str | None

    @property
    def has_index(self) -> bool:
        return index_exists(self.index_dir)


def config() -> Config:
    return Config(str(paths.default_index_dir().expanduser().absolute()),
                  os.environ.get("PIXSEEK_MODEL") or None, os.environ.get("PIXSEEK_DEVICE") or None)


def open_library(cfg: Config, check_model: bool = True) -> Library:
    """A new Library on this index, creating the index if there is none (an indexing run's own);
    with `check_model`, refused when the index was built with another model than the app's."""
    return Library.open(cfg.index_dir, model=cfg.model, create=True, device=cfg.device,
                        other_model="refuse" if check_model else "use its own")


@st.cache_resource(show_spinner=False, validate=Library.is_current)
def _shared(cfg: Config) -> Library:
    """An index built with another model than the app was started with is searched with its own
    model until it is rebuilt (the sidebar says so and offers the rebuild: `rebuild_for`)."""
    return open_library(cfg, check_model=False)


def library(cfg: Config) -> Library:
    """The Library every session searches with (call only when the index exists); a new one
    when the catalog file has been replaced (rebuilt, or made again) since it was opened."""
    return _shared(cfg)


@st.cache_resource(show_spinner=False)
def index_job(index_dir: str) -> IndexJob:
    return IndexJob()


@st.cache_resource(show_spinner=False)
def uploads() -> UploadStore:
    return UploadStore()


# The caches below are keyed by the job's count of finished runs, so a run's end refreshes them.

@st.cache_data(ttl=STATUS_TTL_S, show_spinner=False)
def status(_library: Library, index_dir: str, runs: int) -> Status:
    return _library.status()


@st.cache_data(ttl=STATUS_TTL_S, show_spinner=False)
def skipped(_library: Library, index_dir: str, runs: int) -> list[tuple[str, str]]:
    return _library.skipped()


@st.cache_data(ttl=CHANGES_TTL_S, show_spinner=False)
def changes(_library: Library, index_dir: str, runs: int) -> ChangeSummary:
    return _library.changes()


@st.cache_data(ttl=STATUS_TTL_S, show_spinner=False)
def folders(_library: Library, index_dir: str, runs: int) -> list[FolderInfo]:
    return _library.folder_details()


def forget() -> None:
    """Drop the cached answers, after a change that is no indexing run (a folder removed)."""
    for cached in (status, skipped, changes, folders):
        cached.clear()


def runs(cfg: Config) -> int:
    """Finished indexing runs on this index: the caches' key for whatever a run may change."""
    return index_job(cfg.index_dir).state().runs
