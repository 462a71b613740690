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



def _wait_for_the_run(at: AppTest) -> None:
    deadline = time.monotonic() + 120
    while at.sidebar.get("progress"):
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.1)
        at.run()


def test_the_toggle_turns_reading_text_on_and_off_for_the_index(indexed):
    """Off by the suite's default: turned on, a run reads every photo with the real OCR; turned
    off, the index keeps that setting for every later run."""
    at = indexed
    assert _text_toggle(at).value is False
    _text_toggle(at).set_value(True).run()
    deadline = time.monotonic() + 120
    while (status := _status()).text_read < status.images:
        assert time.monotonic() < deadline, "turned on, the photos were not read"
        time.sleep(0.1)
    _wait_for_the_run(at.run())
    assert status.reads_text and status.text_read == status.images > 0
    assert f"Text: {status.text_read:,} photos read" in " ".join(c.value for c in at.sidebar.caption)
    _text_toggle(at).set_value(False).run()
    deadline = time.monotonic() + 60  # the run that keeps the setting may not have shown any progress
    while _reads_text():
        assert time.monotonic() < deadline, "turned off, the index still reads text"
        time.sleep(0.1)
    _wait_for_the_run(at.run())
    assert _text_toggle(at).value is False


def _text_toggle(at: AppTest):
    (toggle,) = [t for t in at.sidebar.toggle if t.label == "Read the words in photos"]
    return toggle


def _status():
    with Library.open() as library:
        return library.status()


def _reads_text() -> bool:
    return _status().reads_text
