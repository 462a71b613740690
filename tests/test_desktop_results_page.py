"""The desktop app's results page and remembered folder, without a display.

The page is written from a real index (tiny random model) and read back with an HTML parser:
every link must lead to its file, however odd the name, and nothing in a name may become markup.
"""

from __future__ import annotations

import base64
import html
import io
import os
import urllib.parse
from html.parser import HTMLParser

import pytest
from PIL import Image

from conftest import make_photo
from pixseek.desktop import results_page
from pixseek.filters import SearchFilters
from pixseek.library import Library
from pixseek.engine.query import parse_query

ODD_NAMES = ["plain.jpg", "with space.jpg", "ünïcødé 写真.png", "<script>alert(1)<script>.jpg",
             "quote\"s and 'apostrophes' & amps.jpg", "100% #1 ?.jpg"]


class Links(HTMLParser):
    def __init__(self, text: str):
        super().__init__()
        self.hrefs: list[str] = []
        self.images: list[str] = []
        self.figures: list[dict] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.hrefs.append(attrs["href"])
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "figure":
            self.figures.append(attrs)


def uri_path(uri: str) -> str:
    parsed = urllib.parse.urlparse(uri)
    assert parsed.scheme == "file" and parsed.netloc == ""
    return urllib.parse.unquote(parsed.path)


@pytest.fixture
def odd_library(pixseek_home, tmp_path):
    folder = tmp_path / "odd folder ß"
    for seed, name in enumerate(ODD_NAMES):
        make_photo(folder / name, seed=seed)
    library = Library.open(create=True)
    library.index([folder])
    yield library, folder
    library.close()


def test_links_scores_and_thumbnails(odd_library, tmp_path):
    library, folder = odd_library
    query = parse_query(['<img src=x onerror="alert(1)">'])
    results = library.search(query, k=10, filters=SearchFilters(folder=str(folder)))
    page = results_page.write(tmp_path / "pages", query, results, SearchFilters(folder=str(folder)), library.thumbnail)
    text = page.read_text(encoding="utf-8")
    parsed = Links(text)

    assert len(results) == len(ODD_NAMES) == len(parsed.figures)
    for result, figure in zip(results, parsed.figures):
        assert float(figure["data-score"]) == pytest.approx(result.score, abs=1e-6)
        assert f'<span class="score">{result.score:.4f}</span>' in text
    # each result links its file twice (picture and name), in rank order
    assert [uri_path(h) for h in parsed.hrefs] == [r.path for r in results for _ in range(2)]
    for result, source in zip(results, parsed.images):
        assert base64.b64decode(source.removeprefix("data:image/jpeg;base64,")) == library.thumbnail(result.path)
        assert Image.open(io.BytesIO(library.thumbnail(result.path))).format == "JPEG"
    assert "<script>alert" not in text and "<img src=x" not in text
    assert html.escape('<img src=x onerror="alert(1)">') in text
    for name in ODD_NAMES:
        assert f">{html.escape(name)}</a>" in text


def test_query_heading_names_an_example_image(odd_library, tmp_path):
    library, folder = odd_library
    example = str(folder / "ünïcødé 写真.png")
    query = parse_query(["2:sunset"], images=[example], negatives=["rain"])
    text = results_page.render(query, library.search(query, k=2), SearchFilters(folder=str(folder)), library.thumbnail)
    heading = text.split('<h1 class="query">', 1)[1].split("</h1>", 1)[0]
    assert heading.startswith("Search: 2 × “sunset” + image <a href=")
    assert heading.endswith("but not “rain”")
    assert uri_path(Links(heading).hrefs[0]) == example


def test_a_result_without_a_preview_still_links_its_file(odd_library, tmp_path):
    library, folder = odd_library
    query = parse_query(["anything"])
    results = library.search(query, k=10, filters=SearchFilters(folder=str(folder)))
    gone = results[0].path
    os.remove(gone)  # deleted between the search and the page
    library.thumbnails.folder = tmp_path / "empty thumbnail cache"
    text = results_page.render(query, results, SearchFilters(folder=str(folder)), library.thumbnail)
    assert text.count('<div class="missing">no preview</div>') == 1
    assert uri_path(Links(text).hrefs[0]) == gone


def test_old_pages_are_pruned(odd_library, tmp_path):
    library, folder = odd_library
    query = parse_query(["x"])
    pages = [results_page.write(tmp_path / "pages", query, [], SearchFilters(folder=str(folder)), library.thumbnail)
             for _ in range(results_page.KEEP_PAGES + 3)]
    kept = sorted((tmp_path / "pages").glob("results-*.html"))
    assert kept == pages[-results_page.KEEP_PAGES:]
    assert "No images in this folder are indexed yet." in pages[-1].read_text(encoding="utf-8")


def test_results_show_dates_places_and_the_filters(pixseek_home, tmp_path):
    from exif_photos import Shot, shot_photo

    folder = tmp_path / "trip"
    shot_photo(folder / "tokyo.jpg", 1, Shot("2023:06:01 12:00:00", "+09:00", "Canon", "Canon EOS R5", None,
                                             (35.6895, 139.6917)))
    shot_photo(folder / "home.jpg", 2, Shot("2021:01:01 12:00:00", "+00:00", "Canon", "Canon EOS R5"))
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([folder])
        wanted = SearchFilters.parse(after="2023", camera="canon", folder=str(folder))
        query = parse_query(["anything"])
        results = library.search(query, k=10, filters=wanted)
        text = results_page.render(query, results, wanted, library.thumbnail)
    assert [os.path.basename(r.path) for r in results] == ["tokyo.jpg"]
    assert '<time datetime="2023-06-01T12:00:00">2023-06-01 12:00 (UTC+09:00)</time>' in text
    assert '<span class="place">Tokyo, Japan</span>' in text
    assert f"in {html.escape(str(folder))} · from 2023-01-01, camera: canon" in text

