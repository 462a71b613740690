"""The search form and the query it sends: words, an example photo (uploaded, or "more like
this" on a result), words to steer away from, top-k and a minimum score.

The outcome is kept in the session, so a click on a result redraws the page without searching
again. Typed text is always text: unlike the CLI, a typed path never makes the server read a file.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass

import streamlit as st

from pixseek import uploads
from pixseek.errors import QueryError
from pixseek.files import image_extensions
from pixseek.reports import SearchResult
from pixseek.search import MAX_TEXT_CHARS, Query, Term
from pixseek.web import filters, state
from pixseek.web.messages import user_errors

MAX_RESULTS = 50
DEFAULT_K = 10
OUTCOME_KEY = "outcome"
LIKE_KEY = "more_like"
NO_INDEX = "No index yet: type a folder in the sidebar and press **Index images**."


@dataclass(frozen=True)
class Outcome:
    title: str  # plain text: escape it before rendering
    results: list[SearchResult]
    min_score: float | None
    filtered: bool = False


def build_query(text: str, negative: str = "", image: str | None = None) -> Query:
    terms = [Term(1.0, text=text.strip())] if text.strip() else []
    if image:
        terms.append(Term(1.0, image=image))
    if not terms:
        raise QueryError("empty query: type what you are looking for, or add an example photo")
    if negative.strip():
        terms.append(Term(-1.0, text=negative.strip()))
    return Query(tuple(terms))


def _title(text: str, negative: str, example: str | None) -> str:
    parts = [f"“{text.strip()}”"] if text.strip() else []
    if example:
        parts.append(f"photos like {example}")
    title = " + ".join(parts)
    return title + (f", not “{negative.strip()}”" if negative.strip() else "")


def more_like(path: str) -> None:
    """Callback for a result's "More like this": the next run searches by that photo."""
    st.session_state[LIKE_KEY] = path


def _search(cfg: state.Config, k: int, min_score: float | None, text: str = "", negative: str = "",
            example: str | None = None, upload=None) -> Outcome | None:
    if not cfg.has_index:
        st.info(NO_INDEX)
        return None
    library = state.library(cfg)
    wanted = filters.current()
    filters.keep_in_url()
    image = uploads.as_file(upload.name, upload.getvalue()) if upload is not None else nullcontext(example)
    with image as image_path:
        results = library.search(build_query(text, negative, image_path), k=k, min_score=min_score, filters=wanted,
                                 sort=filters.sort())
    shown = upload.name if upload is not None else example and os.path.basename(example)
    return Outcome(_title(text, negative, shown), results, min_score, wanted.active)


def render(cfg: state.Config) -> Outcome | None:
    """Draw the form, search if asked to, and return the outcome to show (the last one kept)."""
    filters.load_from_url()
    with st.form("search", border=False):
        left, right = st.columns([6, 1], vertical_alignment="bottom")
        text = left.text_input("Search your photos", key="text", max_chars=MAX_TEXT_CHARS,
                               placeholder="a dog on a beach at sunset")
        submitted = right.form_submit_button("Search", type="primary", width="stretch")
        k = st.slider("Number of results", 1, MAX_RESULTS, DEFAULT_K, key="k")
        with st.expander("Search by a photo, steer away, minimum score"):
            upload = st.file_uploader("Example photo", key="upload", max_upload_size=uploads.MAX_UPLOAD_MB,
                                      type=sorted(e.lstrip(".") for e in image_extensions()))
            negative = st.text_input("Not like", key="negative", max_chars=MAX_TEXT_CHARS,
                                     placeholder="words to steer away from, e.g. people")
            min_score = st.number_input("Minimum score", min_value=-1.0, max_value=1.0, value=None, step=0.05,
                                        key="min_score", placeholder="none")
        filters.render_fields()
    filters.chips()
    submitted = filters.search_again() or submitted
    like = st.session_state.pop(LIKE_KEY, None)
    if submitted or like:
        st.session_state[OUTCOME_KEY] = None
        with user_errors():
            st.session_state[OUTCOME_KEY] = (
                _search(cfg, k, min_score, text, negative, upload=upload) if submitted
                else _search(cfg, k, min_score, example=like))
    return st.session_state.get(OUTCOME_KEY)
