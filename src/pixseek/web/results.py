"""Results as a grid of thumbnails with scores, and a closer look at one photo.

Only photos in the index are ever shown: thumbnails come from the Library (which refuses any
other path) through Streamlit's media endpoint, and the closer look checks `contains` again.
Thumbnails are cached on disk by content hash; the first sight of a grid makes the missing
ones in parallel.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import streamlit as st

from pixseek.errors import PixseekError
from pixseek.library import Library
from pixseek.reports import SearchResult
from pixseek.web import searchbar, state
from pixseek.web.messages import escape

COLUMNS = 5
THUMBNAIL_PX = 320
DETAIL_PX = 1600
SELECTED_KEY = "selected"
# Every tile the same shape whatever the photo's, so the grid's rows line up.
TILE_STYLE = """<style>[data-testid="stMain"] [data-testid="stColumn"] [data-testid="stImage"] img {
  aspect-ratio: 4 / 3; width: 100%; object-fit: contain; background: rgba(128, 128, 128, 0.08); }</style>"""


def _thumbnail(library: Library, path: str, size: int) -> bytes | None:
    try:
        return library.thumbnail(path, size)
    except PixseekError:
        return None  # moved or damaged since it was indexed: the tile says so


def _thumbnails(library: Library, results: list[SearchResult]) -> list[bytes | None]:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="pixseek-thumb") as pool:
        return list(pool.map(partial(_thumbnail, library, size=THUMBNAIL_PX), [r.path for r in results]))


def _select(path: str) -> None:
    st.session_state[SELECTED_KEY] = path


def _tile(result: SearchResult, thumbnail: bytes | None) -> None:
    name = os.path.basename(result.path)
    if thumbnail:
        st.image(thumbnail, width="stretch", alt=name)
    else:
        st.caption("(no preview: the file has moved or changed)")
    st.caption(f"**{result.score:.3f}** · {escape(name)}")
    known = photo_facts(result)
    if known:
        st.caption(escape(known))
    with st.container(horizontal=True, gap="small"):
        st.button("View", key=f"view_{result.id}", type="tertiary", on_click=_select, args=(result.path,))
        st.button("More like this", key=f"like_{result.id}", type="tertiary", on_click=searchbar.more_like,
                  args=(result.path,))


def photo_facts(result: SearchResult) -> str:
    """"2023-06-01 10:00 (UTC+01:00) · Lisbon, Portugal": when and where, as far as known."""
    from pixseek.metadata import describe_time

    parts = []
    if result.metadata is not None:
        m = result.metadata
        parts.append(describe_time(m.local_time, m.time_source, m.utc_offset_min))
    if result.place is not None:
        parts.append(result.place.describe())
    return " · ".join(parts)


def _original(library: Library, path: str) -> bytes:
    try:
        return library.original(path)
    except PixseekError:
        return b""


@st.dialog("Photo", width="large")
def _detail(library: Library, path: str) -> None:
    if not library.contains(path):
        st.error("This photo is no longer in the index.")
        return
    st.code(path, language=None, wrap_lines=True)
    st.download_button("Download original", data=partial(_original, library, path),
                       file_name=os.path.basename(path), on_click="ignore")
    large = _thumbnail(library, path, DETAIL_PX)
    if large:
        st.image(large, width="stretch", alt=os.path.basename(path))


def _empty(outcome: searchbar.Outcome) -> str:
    if outcome.filtered:
        return "No photo matches these filters: remove one above, or widen it."
    if outcome.min_score is not None:
        return f"Nothing scores {outcome.min_score:.2f} or more: lower the minimum score."
    return "No results: the index holds no photos yet. Index a folder in the sidebar."


def render(cfg: state.Config, outcome: searchbar.Outcome | None) -> None:
    if outcome is None:
        return
    if not outcome.results:
        st.info(_empty(outcome))
        return
    library = state.library(cfg)
    count = len(outcome.results)
    st.subheader(escape(outcome.title))
    st.caption(f"{count} result{'s' if count != 1 else ''}, best first; the score is the cosine similarity")
    thumbnails = _thumbnails(library, outcome.results)
    st.html(TILE_STYLE)
    for start in range(0, count, COLUMNS):
        for column, result, thumbnail in zip(st.columns(COLUMNS), outcome.results[start:start + COLUMNS],
                                             thumbnails[start:start + COLUMNS]):
            with column:
                _tile(result, thumbnail)
    selected = st.session_state.pop(SELECTED_KEY, None)
    if selected:
        _detail(library, selected)
