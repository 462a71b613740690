"""The desktop app's "Says:" field, on a virtual X display: a search by the words written in a
photo alone, its results page listing the lines matched (escaped), over real SQLite text rows."""

from __future__ import annotations

import os

import pytest

from conftest import make_photo
from test_desktop_app import ResultsPage, browser_command, opened_urls, start_app, xvfb  # noqa: F401 (fixtures)
from text_rows import write_text

pytestmark = pytest.mark.gui


def test_the_photo_says_alone_finds_it_and_the_page_lists_the_lines(start_app, tmp_path, opened_urls):  # noqa: F811
    folder = tmp_path / "receipts"
    for seed, name in enumerate(["a.jpg", "b.jpg", "c.jpg"]):
        make_photo(folder / name, seed=seed)
    driver = start_app()
    app = driver.app
    driver.choose_folder(folder)
    driver.wait_idle("indexing")
    write_text(app.index_dir, {folder / "b.jpg": ["Garage <Müller> & Sons", "Total 12.50"]})
    driver.type_into(app.says_entry, "muller")
    app.search_button.invoke()
    driver.wait(lambda: len(opened_urls()) == 1, "the results page")
    page = ResultsPage(opened_urls()[0])
    assert [os.path.basename(p) for p in page.paths()] == ["b.jpg"]
    assert "says “muller”" in page.heading
    assert '<p class="says">Says: “Garage &lt;Müller&gt; &amp; Sons”</p>' in page.raw
