"""The search controls and the query they make: words, words written in the photo ("the photo
says"), an example photo (uploaded, or a result's "More like this"), words to steer away from,
the number of results, a minimum score, and the folder to search within.

The whole search lives in the page's address (q, says, k, not, min, in, like, photo), so a reload or
a bookmark shows the same results, and every control acts at once (no form to submit). Typed
text is always text: unlike the CLI, a typed path never makes the server read a file.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass, replace
from collections.abc import Callable, Iterable

import streamlit as st

from pixseek.errors import PixseekError
from pixseek.serving import uploads
from pixseek.files import image_extensions
from pixseek.library import Library
from pixseek.engine.results import FolderInfo, SearchResult
from pixseek.engine import query
from pixseek.engine.query import (DEFAULT_K, MAX_RESULTS, MAX_TEXT_CHARS, Query, image_term, moment_term, names_typed, shown,
                                  text_term)
from pixseek.web import address, filters, state
from pixseek.web.messages import escape

ALL_FOLDERS = ""  # the "Search in" choice that means every folder
NO_INDEX = "No index yet: type a folder in the sidebar and press **Index images**."
EMPTY_HINT = "Type what you are looking for, words written in the photo, or add an example photo."
UPLOADER_KEY = "uploader"  # the uploader's key is this and a count, raised to empty it
LAST_KEY = "last_outcome"  # shown again while the search box is empty
# The address's parameters besides the bound controls: an example photo, and a photo shown large.
LIKE, PHOTO, VIEW = "like", "photo", "view"
AT = "at"  # with `like` naming a video: its moment, in seconds
VIEW_AT = "t"  # with `view` naming a video: the second it plays from


@dataclass(frozen=True)
class Example:
    """The example photo of a search: an indexed photo ("More like this") or an upload."""

    name: str
    path: str | None = None  # an indexed photo
    data: bytes | None = None  # an upload
    moment: tuple[int, float] | None = None  # a video's moment: (its id, seconds)


@dataclass(frozen=True)
class Outcome:
    title: str  # plain text: escape it before rendering
    results: list[SearchResult]
    min_score: float | None
    filtered: bool = False


def build_query(text: str, negative: str = "", image: str | None = None, says: str = "", people: str = "",
                moment: tuple[int, float] | None = None) -> Query:
    """The query of the search box, the example photo (or video moment), the "Not like" box, "The
    photo says" and "People in the photo" (empty boxes are no terms)."""
    terms = [text_term(text)] if text.strip() else []
    terms += [image_term(image)] if image else []
    terms += [moment_term(*moment)] if moment else []
    terms += [text_term(negative, -1.0)] if negative.strip() else []
    return query.build_query(terms, says=says if says.strip() else None, people=names_typed(people))


def _title(text: str, negative: str, example: Example | None, says: str = "", people: str = "") -> str:
    parts = [f"“{text.strip()}”"] if text.strip() else []
    if example:
        parts.append(f"photos like {example.name}")
    if says.strip():
        parts.append(f"says “{' '.join(says.split())}”")
    if names_typed(people):
        parts.append("with " + " and ".join(names_typed(people)))
    title = " + ".join(parts)
    return title + (f", not “{negative.strip()}”" if negative.strip() else "")


def _param(name: str) -> str | None:
    value = st.query_params.get(name)
    return value or None


def photo_id(value: str | None) -> int | None:
    """A photo id from the address, as written there (ASCII digits); anything else names none."""
    return int(value) if value and value.isascii() and value.isdigit() else None


def link(**changes: str | int | None) -> str:
    """The address of this search with `changes` (None drops a parameter), for links on the page."""
    params = {key: st.session_state.get(key) for key in ("q", "says", "person", "k", "not", "min", "in")}
    params.update({key: st.query_params.get(key) for key in (LIKE, PHOTO, AT)}, **changes)
    return "?" + urllib.parse.urlencode({key: value for key, value in params.items() if value not in (None, "")})


def _example(library: Library) -> Example | None:
    """The example photo the address names, if it is still there."""
    like, photo = _param(LIKE), _param(PHOTO)
    liked = photo_id(like)
    at = seconds(_param(AT))
    video = library.video(liked) if liked is not None and at is not None else None
    if video is not None and at is not None:  # "More like this" from a video's moment
        return Example(f"{os.path.basename(video.path)} at {at:g} s", moment=(video.id, at))
    if liked is not None:
        path = library.photo_path(liked)
        if path:
            return Example(os.path.basename(path), path=path)
    if photo:
        upload = state.uploads().get(photo)
        if upload:
            return Example(upload.name, data=upload.data)
    return None


def seconds(value: str | None) -> float | None:
    """A moment's time from the address (a number of seconds from 0); anything else names none."""
    try:
        found = float(value) if value and value.isascii() else None
    except ValueError:
        return None
    return found if found is not None and 0 <= found < 1e9 else None


def _drop_example() -> None:
    for name in (LIKE, PHOTO, AT):
        st.query_params.pop(name, None)


def _uploader_key() -> str:
    return f"{UPLOADER_KEY}-{st.session_state.get(UPLOADER_KEY, 0)}"


def _take_upload() -> None:
    """Uploader callback: the photo becomes the search's example (named in the address), and the
    uploader is emptied (a new one replaces it), so the example shows in one place, with its own
    Remove button."""
    upload = st.session_state.get(_uploader_key())
    st.session_state[UPLOADER_KEY] = st.session_state.get(UPLOADER_KEY, 0) + 1
    if upload is None:
        return
    try:
        key = state.uploads().keep(upload.name, upload.getvalue())
    except PixseekError as error:
        st.session_state["upload_error"] = str(error)
        return
    st.query_params.pop(LIKE, None)
    st.query_params[PHOTO] = key


def _folder_label(folders: dict[str, FolderInfo], path: str) -> str:
    if path == ALL_FOLDERS:
        return "All folders"
    info = folders.get(path)
    if info is None:
        return path
    return f"{path} ({info.images:,}{'' if info.present else ', missing'})"


def _search(library: Library, text: str, k: int, negative: str, min_score: float | None, within: str | None,
            example: Example | None, says: str, people: str = "") -> Outcome:
    wanted, order = filters.current(within), filters.sort()
    if example is not None and example.data is not None:
        with uploads.as_file(example.name, example.data) as image:
            results = library.search(build_query(text, negative, image, says, people), k=k, min_score=min_score,
                                     filters=wanted, sort=order)
    else:
        query = build_query(text, negative, example.path if example else None, says, people,
                            example.moment if example else None)
        results = library.search(query, k=k, min_score=min_score, filters=wanted, sort=order)
    return Outcome(_title(text, negative, example, says, people), results, min_score,
                   replace(wanted, folder=None).active)


def _example_notes(fresh: dict[str, str], library: Library | None, example: Example | None) -> list[str]:
    """What an example photo named in the address but not found becomes: no example."""
    notes = []
    if LIKE in fresh and (example is None or (example.path is None and example.moment is None)):
        notes.append(f"{LIKE}: {shown(fresh[LIKE])} names no photo in the index: no example photo")
    if PHOTO in fresh and (example is None or example.data is None) and not (LIKE in fresh and example):
        notes.append(f"{PHOTO}: the example photo is gone (forgotten by a restarted server)")
    return notes


def _choices(options: Iterable[str], label: Callable[[str], str | None]) -> dict[str, str]:
    """What the address may hold for one of `options`: the option itself, or its label."""
    options = list(options)
    labelled = {label(option): option for option in options}
    return {**{text: option for text, option in labelled.items() if text is not None}, **{o: o for o in options}}


def _check_filters(within: str | None) -> None:
    """Filters typed with nothing to search for yet: what is wrong with them is said now."""
    try:
        filters.current(within or None)
    except PixseekError as error:
        st.error(str(error))


def render(cfg: state.Config, fresh: dict[str, str] | None = None) -> Outcome | None:
    """Draw the controls and return the search they describe, run (None when there is none);
    `fresh`: the address's values new to this session, checked before the controls take them."""
    fresh = fresh or {}
    folders = {f.path: f for f in state.folders(state.library(cfg), cfg.index_dir, state.runs(cfg))} \
        if cfg.has_index else {}
    notes = address.settle(fresh, MAX_RESULTS, _choices(filters.SORTS, filters.SORTS.get),
                           _choices([ALL_FOLDERS, *folders], lambda path: _folder_label(folders, path)))
    if st.session_state.get("in", ALL_FOLDERS) not in (ALL_FOLDERS, *folders):
        st.session_state["in"] = ALL_FOLDERS  # a folder no longer in the index
    left, right = st.columns([6, 1], vertical_alignment="bottom")
    text = left.text_input("Search your photos", key="q", max_chars=MAX_TEXT_CHARS, bind="query-params",
                           placeholder="a dog on a beach at sunset") or ""
    right.button("Search", type="primary", width="stretch", key="search")  # Enter does the same
    said, seen = st.columns(2)  # labels in the placeholders: ten results still fit a few phone screens
    says = said.text_input("The photo says", key="says", max_chars=MAX_TEXT_CHARS, bind="query-params",
                           label_visibility="collapsed",
                           placeholder="The photo says: words written in it (a sign, a receipt)") or ""
    people = seen.text_input("People in the photo", key="person", max_chars=MAX_TEXT_CHARS, bind="query-params",
                             label_visibility="collapsed", placeholder="People in the photo: Anna, Ben") or ""
    library = state.library(cfg) if cfg.has_index else None
    example = _example(library) if library else None
    if example:
        with st.container(horizontal=True, vertical_alignment="center"):
            st.caption(f"Example photo: **{escape(example.name)}**")
            st.button("Remove example photo", key="drop_example", type="tertiary", on_click=_drop_example)
    with st.container(horizontal=True):
        k = st.slider("Number of results", 1, MAX_RESULTS, DEFAULT_K, key="k", bind="query-params")
        within = st.selectbox("Search in", [ALL_FOLDERS, *folders], key="in", bind="query-params",
                              format_func=lambda path: _folder_label(folders, path))
    with st.expander("Search by a photo, steer away, minimum score"):
        st.file_uploader("Example photo", key=_uploader_key(), max_upload_size=uploads.MAX_UPLOAD_MB,
                         type=sorted(e.lstrip(".") for e in image_extensions()), on_change=_take_upload)
        negative = st.text_input("Not like", key="not", max_chars=MAX_TEXT_CHARS, bind="query-params",
                                 placeholder="words to steer away from, e.g. people") or ""
        min_score = st.number_input("Minimum score", min_value=-1.0, max_value=1.0, value=None, step=0.05,
                                    key="min", placeholder="none", bind="query-params")
    filters.render_fields()
    filters.chips()
    notes += _example_notes(fresh, library, example)
    if notes:
        st.warning("The address asked for what this page cannot show as written:  \n"
                   + "  \n".join(escape(note) for note in notes))
    upload_error = st.session_state.pop("upload_error", None)
    if upload_error:
        st.error(upload_error)
    if not (text.strip() or says.strip() or names_typed(people) or example):
        if (_param(LIKE) or _param(PHOTO)) and not (LIKE in fresh or PHOTO in fresh):
            st.info("The example photo is gone (no longer indexed, or forgotten by a restarted server).")
        elif not (LIKE in fresh or PHOTO in fresh):
            st.caption(EMPTY_HINT)
        _check_filters(within)
        return st.session_state.get(LAST_KEY)  # an emptied box keeps the last results on the page
    if library is None:
        st.info(NO_INDEX)
        return None
    try:
        outcome = _search(library, text, k, negative, min_score, within or None, example, says, people)
    except PixseekError as error:
        st.error(str(error))
        return None
    st.session_state[LAST_KEY] = outcome
    return outcome

