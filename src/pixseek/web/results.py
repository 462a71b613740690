"""Results as a grid of thumbnails with scores, and a closer look at one photo.

The grid reflows with the width (three small tiles a row on a phone, more on a desktop). Each
thumbnail is a link to this search's address plus `view=<id>`, which opens the photo large;
"More like this" links to a search by that photo alone (`like=<id>`). Photos are named by their index id, never by a path.
A video's tile is the frame of its best moment; its closer look plays the video from that second
(`view=<id>&t=<seconds>`), read from the file the Library opened inside the indexed folders.
Only photos in the index are ever shown: thumbnails come from the Library (which refuses any
other path) inlined in the page, and the closer look checks `contains` again. Thumbnails are
cached on disk by content hash; the first sight of a grid makes the missing ones in parallel.
"""

from __future__ import annotations

import base64
import html
import mimetypes
import os
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import streamlit as st

from pixseek.errors import PixseekError
from pixseek.library import Library
from pixseek.engine.query import shown
from pixseek.engine.results import SearchResult
from pixseek.metadata import describe_time
from pixseek.web import searchbar, state
from pixseek.web.messages import escape

THUMBNAIL_PX = 320
DETAIL_PX = 1600
MAX_PLAYED = 1 << 30  # bytes of a video the large view plays (Streamlit holds it in memory)
COLUMNS = 5  # tiles a row at most
TILE_MIN_PX = 100  # a tile's narrowest: three a row on a phone
# Every thumbnail the same shape whatever the photo's, so the grid's rows line up.
TILE_STYLE = """<style>a.tile img, a.tile div { display: block; aspect-ratio: 4 / 3; width: 100%;
  object-fit: contain; background: rgba(128, 128, 128, 0.08); border-radius: 4px; }
a.like { font-size: 0.85rem; }
a.tile div { display: flex; align-items: center; justify-content: center; font-size: 0.8rem; color: #888; }</style>"""


def thumbnail_or_none(library: Library, path: str, size: int) -> bytes | None:
    """The photo's thumbnail, or None when it cannot be made (the page shows a placeholder)."""
    try:
        thumbnail: bytes = library.thumbnail(path, size)
        return thumbnail
    except PixseekError:
        return None  # moved or damaged since it was indexed: the tile says so


def moment_or_none(library: Library, result: SearchResult, size: int) -> bytes | None:
    """A result's thumbnail: a photo's, or the frame of a video's best moment; None when it cannot be made."""
    if result.seconds is None:
        return thumbnail_or_none(library, result.path, size)
    try:
        return library.video_thumbnail(result.id, result.seconds, size)
    except PixseekError:
        return None


def _thumbnails(library: Library, results: list[SearchResult]) -> list[bytes | None]:
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="pixseek-thumb") as pool:
        return list(pool.map(partial(moment_or_none, library, size=THUMBNAIL_PX), results))


def tile_html(result: SearchResult, thumbnail: bytes | None) -> str:
    """The clickable thumbnail; the name is text (alt and title), escaped for HTML."""
    name = html.escape(os.path.basename(result.path))
    href = html.escape(searchbar.link(view=result.id, **{searchbar.VIEW_AT: _at(result)}))
    if thumbnail:
        picture = f'<img src="data:image/jpeg;base64,{base64.b64encode(thumbnail).decode()}" alt="{name}">'
    else:
        picture = "<div>no preview: the file has moved or changed</div>"
    return f'<a class="tile" href="{href}" title="{name}" target="_self">{picture}</a>'


def _at(result: SearchResult) -> str | None:
    return f"{result.seconds:.1f}" if result.seconds is not None else None


def clock(seconds: float) -> str:
    """42.0 -> "0:42", 3725 -> "1:02:05"."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _tile(result: SearchResult, thumbnail: bytes | None) -> None:
    st.html(tile_html(result, thumbnail))
    moment = f" · ▶ {clock(result.seconds)}" if result.seconds is not None else ""
    st.caption(f"**{result.score:.3f}** · {escape(os.path.basename(result.path))}{moment}")
    known = photo_facts(result)
    if known:
        st.caption(escape(known))
    if result.people:
        st.caption("With " + ", ".join(escape(name) for name in result.people))
    if result.text:
        st.caption("Says: " + " · ".join(f"“{escape(line.text)}”" for line in result.text))
    alone = searchbar.link(like=result.id, at=_at(result), photo=None, q=None, says=None, person=None,
                           **{"not": None})  # by that photo (or video moment) alone
    st.html(f'<a class="like" href="{html.escape(alone)}" target="_self">More like this</a>')


def photo_facts(result: SearchResult) -> str:
    """"2023-06-01 10:00 (UTC+01:00) · Lisbon, Portugal": when and where, as far as known."""
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


def _close_view() -> None:
    st.query_params.pop(searchbar.VIEW, None)
    st.query_params.pop(searchbar.VIEW_AT, None)


@st.dialog("Photo", width="large", on_dismiss=_close_view)
def _detail(library: Library, path: str | None) -> None:
    if path is None or not library.contains(path):
        st.error("This photo is no longer in the index.")
        return
    st.code(path, language=None, wrap_lines=True)
    st.download_button("Download original", data=partial(_original, library, path),
                       file_name=os.path.basename(path), on_click="ignore")
    large = thumbnail_or_none(library, path, DETAIL_PX)
    if large:
        st.image(large, width="stretch", alt=os.path.basename(path))


@st.dialog("Video", width="large", on_dismiss=_close_view)
def _video_detail(library: Library, video_id: int, at: float) -> None:
    found = library.video(video_id)
    if found is None:
        st.error("This video is no longer in the index.")
        return
    st.code(found.path, language=None, wrap_lines=True)
    try:
        opened = library.open_video(video_id)  # inside the indexed folders, checked on the file opened
    except PixseekError as error:
        st.error(escape(str(error)))
        return
    with opened:
        if found.size > MAX_PLAYED:  # Streamlit serves what it is given from memory
            st.info(f"This video is {found.size / 2**30:.1f} GB, too large to play here: open it from its folder "
                    f"and go to {clock(at)}.")
            return
        kind = mimetypes.guess_type(found.path)[0] or "video/mp4"
        st.video(opened.read(), format=kind, start_time=int(at))
    st.caption(f"from {clock(at)}")


def _empty(outcome: searchbar.Outcome) -> str:
    if outcome.filtered:
        return "No photo matches these filters: remove one above, or widen it."
    if outcome.min_score is not None:
        return f"Nothing scores {outcome.min_score:.2f} or more: lower the minimum score."
    return "No results: no photo of these folders is indexed yet. Index a folder in the sidebar."


def render(cfg: state.Config, outcome: searchbar.Outcome | None, fresh: dict[str, str] | None = None) -> None:
    """The results of `outcome`, and the photo the address's `view` names (`fresh`: the address's
    values new to this session: a `view` that names no photo is said to)."""
    view = searchbar.photo_id(st.query_params.get(searchbar.VIEW))
    at = searchbar.seconds(st.query_params.get(searchbar.VIEW_AT))
    if cfg.has_index and view is not None and at is not None and state.library(cfg).video(view) is not None:
        _video_detail(state.library(cfg), view, at)
    elif cfg.has_index and view is not None:
        library = state.library(cfg)
        _detail(library, library.photo_path(view))
    elif fresh is not None and searchbar.VIEW in fresh:
        st.warning(f"view: {escape(shown(fresh[searchbar.VIEW]))} names no photo in the index")
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
    grid = st.grid(COLUMNS, min_column_width=TILE_MIN_PX, key="results")
    for result, thumbnail in zip(outcome.results, thumbnails):
        with grid.cell():
            _tile(result, thumbnail)
