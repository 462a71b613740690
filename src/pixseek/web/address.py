"""The page's address, read with care: it can hold anything (a bookmark, a link, a hand-edited
URL). Streamlit drops or bends a bound value it cannot use without a word; here each value new
to this session (not merely what the last run left there) is checked first, anything the page
cannot use as written is replaced by what it can (k=999 shows 50 results), and a note says so.
The engine's readers decide and word what a number or a text becomes.
"""

from __future__ import annotations

import streamlit as st

from pixseek.filters import MAX_TEXT as MAX_FILTER_CHARS
from pixseek.engine.query import MAX_TEXT_CHARS, cut_note, read_count, read_min_score, shown

SEEN_KEY = "address_seen"  # the address as the last run left it
# Every parameter the app reads from the address.
PARAMS = ("q", "says", "person", "k", "not", "min", "in", "sort", "after", "before", "camera", "place", "near",
          "radius", "like", "photo", "view", "type", "at", "t")
MEDIA = {"photo": "photo", "video": "video", "Photos": "photo", "Videos": "video", "Photos and videos": ""}
TEXTS = {"q": ("query text", MAX_TEXT_CHARS), "says": ("words the photo says", MAX_TEXT_CHARS),
         "person": ("people in the photo", MAX_TEXT_CHARS),
         "not": ("'not like' text", MAX_TEXT_CHARS),
         **{name: (name, MAX_FILTER_CHARS) for name in ("after", "before", "camera", "place", "near", "radius")}}


def _get(name: str) -> str | None:
    return st.query_params.get(name)


def fresh() -> dict[str, str]:
    """The parameters whose value is new since the last run ended (empty ones count as absent)."""
    seen = st.session_state.get(SEEN_KEY, {})
    values = {name: _get(name) for name in PARAMS}
    return {name: value for name, value in values.items() if value and value != seen.get(name)}


def remember() -> None:
    """Called once the page is drawn: the address as this run leaves it."""
    st.session_state[SEEN_KEY] = {name: _get(name) for name in PARAMS}


def settle(values: dict[str, str], max_results: int, sorts: dict[str, str], folders: dict[str, str]) -> list[str]:
    """Before the controls are drawn, set each to what its new value asks for, or to what can be
    shown instead, and return the notes that say so (each naming its parameter). `sorts` and
    `folders` map what the address may hold for a choice (the choice, or its label) to the choice,
    the default first."""
    notes = []
    if "k" in values:
        count, note = read_count(values["k"], max_results)
        st.session_state["k"] = count
        notes += [f"k: {note}"] if note else []
    if "min" in values:
        score, note = read_min_score(values["min"])
        st.session_state["min"] = score
        notes += [f"min: {note}"] if note else []
    for name, (what, most) in TEXTS.items():
        note = cut_note(values[name], what, most) if name in values else None
        notes += [f"{name}: {note}"] if note else []
    unknown = {"sort": "is not an order (score or date): best match first",
               "in": "is not an indexed folder: searching all folders"}
    for name, choices in (("sort", sorts), ("in", folders)):
        if name in values:
            known = values[name] in choices  # a choice, or its label (what Streamlit writes)
            st.session_state[name] = choices[values[name]] if known else next(iter(choices.values()))
            notes += [] if known else [f"{name}: {shown(values[name])} {unknown[name]}"]
    if "type" in values:  # photos, videos or both (a choice, or its label)
        known = values["type"] in MEDIA
        st.session_state["type"] = MEDIA[values["type"]] if known else ""
        notes += [] if known else [f"type: {shown(values['type'])} is not photo or video: showing both"]
    return notes

