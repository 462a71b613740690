"""What one server process shares between browser sessions: the index it serves, one Library
and one indexing job per index, and short-lived caches of the slower index queries.

`pixseek web` hands the index, model and device down through the engine's own variables
(PIXSEEK_INDEX, PIXSEEK_MODEL, PIXSEEK_DEVICE), so the app and the CLI resolve them alike.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import streamlit as st

from pixseek import paths
from pixseek.library import Library, index_exists
from pixseek.reports import ChangeSummary, Status
from pixseek.jobs import IndexJob

STATUS_TTL_S = 10  # picks up an index updated by another process (the CLI) soon enough
CHANGES_TTL_S = 60  # looking for changed files scans every folder: not on every click


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


def open_library(cfg: Config) -> Library:
    """A new Library on this index, creating the index if there is none (an indexing run's own)."""
    return Library.open(cfg.index_dir, model=cfg.model, create=True, device=cfg.device)


@st.cache_resource(show_spinner=False)
def _shared(cfg: Config) -> Library:
    return open_library(cfg)


def library(cfg: Config) -> Library:
    """The Library every session searches with (call only when the index exists)."""
    return _shared(cfg)


@st.cache_resource(show_spinner=False)
def index_job(index_dir: str) -> IndexJob:
    return IndexJob()


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
