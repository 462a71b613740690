"""The web app's "The photo says" field through Streamlit's AppTest: real Library, real SQLite
text rows, the tiny test model; the matched lines listed under each result."""

from __future__ import annotations

import re
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from pixseek.library import Library
from pixseek.web import launch, searchbar
from text_rows import write_text

TILE = re.compile(r"^\*\*(-?\d+\.\d{3})\*\* · (.*)$")


def _app(**params) -> AppTest:
    at = AppTest.from_file(str(launch.APP), default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = str(value)
    return at.run()


def _names(at: AppTest) -> list[str]:
    found = [TILE.match(c.value) for c in at.main.caption]
    return [re.sub(r"\\(.)", r"\1", m.group(2)) for m in found if m]


def _says(at: AppTest) -> list[str]:
    return [re.sub(r"\\(.)", r"\1", c.value) for c in at.main.caption if c.value.startswith("Says: ")]


@pytest.fixture
def indexed(pixseek_home, photo_dir):
    st.cache_resource.clear()
    st.cache_data.clear()
    at = _app()
    at.sidebar.text_area(key="folders").input(str(photo_dir))
    at.sidebar.button(key="index_images").click().run()
    deadline = time.monotonic() + 60
    while at.sidebar.get("progress"):
        assert time.monotonic() < deadline, "indexing did not finish"
        time.sleep(0.1)
        at.run()
    with Library.open() as library:
        index_dir = library.index_dir
    write_text(index_dir, {photo_dir / "trip" / "photo 3.png": ["GARAGE MÜLLER", "INVOICE 2023"],
                           photo_dir / "home" / "photo 5.JPG": ["WiFi password: sunflower"]})
    return at


def test_the_photo_says_finds_its_words_and_lists_the_lines_matched(indexed):
    at = indexed.text_input(key="says").input("muller invoice").run()
    assert _names(at) == ["photo 3.png"]
    assert _says(at) == ["Says: “GARAGE MÜLLER” · “INVOICE 2023”"]
    assert "says “muller invoice”" in at.main.subheader[0].value
    with_words = at.text_input(key="q").input("a red car").run()  # with a CLIP query: still only that photo
    assert _names(with_words) == ["photo 3.png"]
    nothing = at.text_input(key="says").input("zeppelin").run()
    assert _names(nothing) == [] and not nothing.exception
    assert nothing.main.info, "an empty result says so"


def test_the_words_come_back_from_the_address_and_match_the_engine(indexed):
    at = _app(says="sunflower", k=5)
    with Library.open() as library:
        expected = [r.path.rsplit("/", 1)[1] for r in library.search(searchbar.build_query("", says="sunflower"), k=5)]
    assert _names(at) == expected == ["photo 5.JPG"]
    assert _says(at) == ["Says: “WiFi password: sunflower”"]

