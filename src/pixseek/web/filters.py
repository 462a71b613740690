"""The search filters in the web app: fields under the search box, bound to the page's address
like every other control (so a filtered search can be bookmarked), and shown over the results
as chips that each remove one filter. The words are parsed by the engine's SearchFilters.parse,
as the CLI's options are.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from pixseek.filters import SearchFilters

# (address and widget key, label, placeholder)
FIELDS = (("after", "Taken from", "2023-06"), ("before", "Taken before", "2023-09"),
          ("camera", "Camera", "Pixel 7"), ("place", "Place", "Lisbon"),
          ("near", "Near (latitude, longitude)", "38.72, -9.14"), ("radius", "Within", "5km"))
SORTS = {"score": "Best match first", "date": "Oldest first (date taken)"}
MEDIA = {"": "Photos and videos", "photo": "Photos", "video": "Videos"}  # the address's `type`


def render_fields() -> None:
    """The filter fields and the order."""
    with st.expander("Filters: when, which camera, where; order"):
        columns = st.columns(3)
        for index, (name, label, placeholder) in enumerate(FIELDS):
            columns[index % 3].text_input(label, key=name, placeholder=placeholder, max_chars=200,
                                          bind="query-params")
        st.radio("Order", list(SORTS), format_func=SORTS.get, key="sort", horizontal=True, bind="query-params")
        st.radio("Show", list(MEDIA), format_func=MEDIA.get, key="type", horizontal=True, bind="query-params")


def texts() -> dict[str, str]:
    return {name: (st.session_state.get(name) or "").strip() for name, _, _ in FIELDS}


def current(folder: str | None) -> SearchFilters:
    """The filters typed now, within `folder` (a QueryError says what is wrong with them)."""
    return replace(SearchFilters.parse(**texts(), media=st.session_state.get("type") or None), folder=folder)


def sort() -> str:
    return st.session_state.get("sort") or "score"


def _remove(name: str) -> None:
    """Chip callback: clear one filter (and the radius with its position); the page searches again."""
    st.session_state[name] = ""
    if name == "near":
        st.session_state["radius"] = ""


def chips() -> None:
    """One removable chip per active filter."""
    labels = {name: label for name, label, _ in FIELDS}
    typed = texts()
    active = [(name, value) for name, value in typed.items() if value and not (name == "radius" and not typed["near"])]
    if not active:
        return
    with st.container(horizontal=True, gap="small"):
        for name, value in active:
            st.button(f"{labels[name]}: {value}  ✕", key=f"chip_{name}", on_click=_remove, args=(name,),
                      help="Remove this filter")
