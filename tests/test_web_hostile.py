"""The web app with a hostile address: ids past SQLite's integers or written in other digits
name no photo (no Streamlit error box); values the controls cannot take (k=999) become what they
can, with a note; any address at all (hypothesis) yields no exception, and a bad one is named;
and the random stand-in model is named as such."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from streamlit.testing.v1 import AppTest

from pixseek.errors import QueryError
from pixseek.filters import SearchFilters
from pixseek.library import Library
from pixseek.web import launch
from test_web_app import _app, _index, _links, _messages, _tiles, fresh_caches  # noqa: F401 (an autouse fixture)


@pytest.mark.parametrize("params", [{"view": 2**63}, {"like": 2**63}, {"view": 10**30, "like": 2**64},
                                    {"view": "²"}, {"like": "٣"}, {"view": "-1"}, {"view": "1.5"}])
def test_odd_ids_in_the_address_are_no_crash(pixseek_home, photo_dir, params):
    at = _app()
    _index(at, photo_dir)
    for name, value in params.items():
        at.query_params[name] = str(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_the_sidebar_names_a_random_stand_in(pixseek_home, photo_dir):
    at = _app()
    _index(at, photo_dir)
    shown = [m.replace("\\", "") for m in _messages(at.sidebar.markdown)]  # as markdown-escaped text
    assert any("has random weights, a stand-in for testing" in m for m in shown), shown


def _fresh_app(**params) -> AppTest:
    """A new browser session opening the app at this address (the index already made)."""
    at = AppTest.from_file(str(launch.APP), default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = value
    return at.run()


def _notes(at: AppTest) -> str:
    return " ".join(w.value.replace("\\", "") for w in at.warning)


@pytest.mark.parametrize("asked, shown, note", [("999", 50, "at most 50 results at a time, not '999': showing 50"),
                                                ("1000000000000000000000000", 50, "at most 50 results"),
                                                ("0", 1, "at least 1 result"), ("-3", 1, "at least 1 result"),
                                                ("many", 10, "'many' is not a number of results: showing 10"),
                                                ("12.7", 12, "'12.7' is read as 12"), ("12", 12, None)])
def test_k_outside_the_slider_is_clamped_with_a_note(pixseek_home, photo_dir, asked, shown, note):
    _index(_app(), photo_dir)
    at = _fresh_app(q="a red sports car", k=asked)
    assert at.slider(key="k").value == shown
    assert len(_tiles(at)) == min(shown, 12)  # 12 photos in the index
    if note:
        assert f"k: {note}" in _notes(at)
    else:
        assert not at.warning
    assert all(link["k"] == str(shown) for link in _links(at, "tile"))  # the links carry what is shown


def test_other_values_the_controls_cannot_take_are_named(pixseek_home, photo_dir):
    _index(_app(), photo_dir)
    at = _fresh_app(q="x" * 1200, min="3", sort="newest", camera="c" * 250, **{"in": "/elsewhere"})
    notes = _notes(at)
    for said in ("q: the query text is too long (1,200 characters; at most 1,000): only the first 1,000 are used",
                 "min: the minimum score must be a number from -1 to 1, not '3': no minimum",
                 "sort: 'newest' is not an order (score or date): best match first",
                 "camera: the camera is too long (250 characters; at most 200)",
                 "in: '/elsewhere' is not an indexed folder: searching all folders"):
        assert said in notes, notes
    assert at.number_input(key="min").value is None and at.radio(key="sort").value == "score"


def test_an_address_with_a_folder_and_an_order_keeps_them(pixseek_home, photo_dir):
    """The tiles' links write in=<folder>; a hand-written address sort=date: both are taken as written."""
    _index(_app(), photo_dir)
    at = _fresh_app(q="a red sports car", sort="date", **{"in": str(photo_dir)})
    assert (at.selectbox(key="in").value, at.radio(key="sort").value, at.warning.len) == (str(photo_dir), "date", 0)


def test_filters_typed_before_any_words_are_checked_at_once(pixseek_home, photo_dir):
    _index(_app(), photo_dir)
    at = _fresh_app(after="2023-13", radius="5km")
    errors = " ".join(e.value for e in at.error)
    assert "after '2023-13' is not a date" in errors and "a radius needs a position" in errors


# Values a hand-edited address can hold: extreme and huge numbers, other digits, NUL, long texts.
ODD = hs.one_of(
    hs.integers(min_value=-2**80, max_value=2**80).map(str),
    hs.floats(allow_nan=True, allow_infinity=True).map(repr),
    hs.sampled_from(["", " ", "\x00", "٣", "²", "1e309", "-0", "0x10", "5km", "date", "score", "2023", "2023-06",
                     "38.7,-9.1", "9" * 400, "x" * 3000, "<script>alert(1)</script>", "%00", "../../etc/passwd"]),
    hs.text(hs.characters(blacklist_categories=("Cs",)), max_size=40),
)
PARAMS = ("q", "k", "not", "min", "in", "sort", "after", "before", "camera", "place", "near", "radius",
          "like", "photo", "view")


def _bad(params: dict[str, str], photo_ids: set[int], folder: str) -> bool:
    """Whether the address holds something the page cannot use as written (the test's own reading)."""
    given = {name: value for name, value in params.items() if value}
    ascii_int = {name: int(v) for name, v in given.items() if v.isascii() and v.isdigit()}
    try:
        SearchFilters.parse(**{name: given.get(name, "")[:200].strip()
                               for name in ("after", "before", "camera", "place", "near", "radius")})
        filters_bad = False
    except QueryError:
        filters_bad = True

    def score_bad(v: str) -> bool:
        try:
            return not -1 <= float(v) <= 1
        except ValueError:
            return True

    return (filters_bad
            or ("k" in given and not ("k" in ascii_int and str(ascii_int["k"]) == given["k"] and 1 <= ascii_int["k"] <= 50))
            or ("min" in given and score_bad(given["min"]))
            or any(len(given.get(name, "")) > most for name, most in (("q", 1000), ("not", 1000)))
            or any(len(given.get(name, "")) > 200 for name in ("after", "before", "camera", "place", "near", "radius"))
            or ("sort" in given and given["sort"] not in ("score", "date"))
            or ("in" in given and given["in"] != folder)
            or "photo" in given
            or any(name in given and ascii_int.get(name) not in photo_ids for name in ("like", "view")))


@pytest.mark.slow  # 60 app sessions: left to make test
def test_no_address_yields_a_traceback_and_a_bad_one_is_named(pixseek_home, photo_dir):
    """Any value in any parameter the app reads: never an exception, and a note or an error
    whenever the page cannot use the address as written. Bounded: 60 sessions, about 15 s."""
    _index(_app(), photo_dir)
    with Library.open() as library:
        photo_ids = {r.id for r in library._index.catalog.files_under([str(photo_dir)])}

    @settings(max_examples=int(os.environ.get("PIXSEEK_WEB_FUZZ_EXAMPLES", "60")), deadline=None,
              suppress_health_check=list(HealthCheck), derandomize=True)
    @given(params=hs.dictionaries(hs.sampled_from(PARAMS), ODD, min_size=1, max_size=4))
    def check(params):
        at = _fresh_app(**params)
        assert not at.exception, [e.value for e in at.exception]
        shown = [e.value for e in (*at.warning, *at.error, *at.markdown, *at.caption, *at.info)]
        assert not any("Traceback" in text for text in shown)
        if _bad(params, photo_ids, str(photo_dir)):
            said = [e.value for e in (*at.warning, *at.error)] + [e.value for e in at.info if "gone" in e.value]
            assert said, f"nothing says what is wrong with {params!r}"

    check()
