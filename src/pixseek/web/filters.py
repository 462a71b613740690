"""The search filters in the web app: fields under the search box, kept in the page's URL (so a
filtered search can be bookmarked or shared), and shown over the results as chips that remove
one filter each and search again. The words are parsed by the engine's SearchFilters.parse, as
the CLI's options are.
"""

from __future__ import annotations

import streamlit as st

from pixseek.filters import SearchFilters

# (URL and field name, label, placeholder)
FIELDS = (("after", "Taken from", "2023-06"), ("before", "Taken before", "2023-09"),
          ("camera", "Camera", "Pixel 7"), ("place", "Place", "Lisbon"),
          ("near", "Near (latitude, longitude)", "38.72, -9.14"), ("radius", "Within", "5km"))
SORTS = {"score": "Best match first", "date": "Oldest first (date taken)"}
PREFIX = "filter_"
SEARCH_AGAIN_KEY = "search_again"


def load_from_url() -> None:
    """Fill the fields from the URL the first time a session draws them."""
    for name, _, _ in FIELDS + (("sort", "", ""),):
        if PREFIX + name not in st.session_state and name in st.query_params:
            value = st.query_params[name]
            st.session_state[PREFIX + name] = value if name != "sort" or value in SORTS else "score"


def render_fields() -> None:
    """The filter fields (inside the search form)."""
    with st.expander("Filters: when, which camera, where; sort"):
        columns = st.columns(3)
        for index, (name, label, placeholder) in enumerate(FIELDS):
            columns[index % 3].text_input(label, key=PREFIX + name, placeholder=placeholder, max_chars=200)
        st.radio("Order", list(SORTS), format_func=SORTS.get, key=PREFIX + "sort", horizontal=True)


def texts() -> dict[str, str]:
    return {name: (st.session_state.get(PREFIX + name) or "").strip() for name, _, _ in FIELDS}


def current() -> SearchFilters:
    """The filters typed now (a QueryError says what is wrong with them)."""
    return SearchFilters.parse(**texts())


def sort() -> str:
    return st.session_state.get(PREFIX + "sort") or "score"


def keep_in_url() -> None:
    for name, value in list(texts().items()) + [("sort", sort() if sort() != "score" else "")]:
        if value:
            st.query_params[name] = value
        elif name in st.query_params:
            del st.query_params[name]


def _remove(name: str) -> None:
    """Chip callback: clear one filter and search again."""
    st.session_state[PREFIX + name] = ""
    if name == "near":
        st.session_state[PREFIX + "radius"] = ""
    st.session_state[SEARCH_AGAIN_KEY] = True


def chips() -> None:
    """One removable chip per active filter."""
    labels = {name: label for name, label, _ in FIELDS}
    active = [(name, value) for name, value in texts().items() if value and not (name == "radius" and not texts()["near"])]
    if not active:
        return
    with st.container(horizontal=True, gap="small"):
        for name, value in active:
            st.button(f"{labels[name]}: {value}  ✕", key=f"chip_{name}", on_click=_remove, args=(name,),
                      help="Remove this filter")


def search_again() -> bool:
    """Whether a chip was removed since the last run (the search is then made again)."""
    return bool(st.session_state.pop(SEARCH_AGAIN_KEY, False))
