"""The web app's logic through Streamlit's AppTest: real Library, real images, tiny test model."""

from __future__ import annotations

import io
import re
import shutil
import time

import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import make_photo
from pixseek.library import Library
from pixseek.web import launch, searchbar, settings
from pixseek.uploads import MAX_UPLOAD_MB

TILE = re.compile(r"^\*\*(-?\d+\.\d{3})\*\* · (.*)$")


def _app() -> AppTest:
    at = AppTest.from_file(str(launch.APP), default_timeout=60)
    at.run()
    return at


def _wait_for_index(at: AppTest, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while at.sidebar.get("progress"):
        assert time.monotonic() < deadline, "indexing did not finish"
        time.sleep(0.1)
        at.run()


def _index(at: AppTest, folder) -> None:
    at.sidebar.text_area(key="folders").input(str(folder))
    at.sidebar.button(key="index_images").click().run()
    _wait_for_index(at)


def _search(at: AppTest, text: str = "", k: int | None = None, negative: str | None = None,
            min_score: float | None = None) -> AppTest:
    at.text_input(key="text").input(text)
    if k is not None:
        at.slider(key="k").set_value(k)
    if negative is not None:
        at.text_input(key="negative").input(negative)
    if min_score is not None:
        at.number_input(key="min_score").set_value(min_score)
    return at.button(key="FormSubmitter:search-Search").click().run()


def _tiles(at: AppTest) -> list[tuple[float, str]]:
    """(score, file name) of every result tile, as the page shows them."""
    found = [TILE.match(c.value) for c in at.main.caption]
    return [(float(m.group(1)), re.sub(r"\\(.)", r"\1", m.group(2))) for m in found if m]


def _engine(query, k: int, min_score=None) -> list[tuple[float, str]]:
    with Library.open() as library:
        return [(round(r.score, 3), r.path.rsplit("/", 1)[-1]) for r in library.search(query, k=k, min_score=min_score)]


def _messages(elements) -> list[str]:
    return [e.value for e in elements]


@pytest.fixture(autouse=True)
def fresh_caches():
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def indexed(pixseek_home, photo_dir) -> AppTest:
    at = _app()
    _index(at, photo_dir)
    return at


def test_indexing_shows_status_and_remembers_the_folder(pixseek_home, photo_dir):
    at = _app()
    assert "No index yet" in _messages(at.sidebar.info)[0]
    _index(at, photo_dir)
    assert "Last run: 12 indexed" in _messages(at.sidebar.success)[0]
    status = at.sidebar.markdown[0].value
    assert "**Images:** 12" in status and "tiny" in status
    assert settings.load_folders() == [str(photo_dir)]
    assert _app().sidebar.text_area(key="folders").value == str(photo_dir)


def test_search_shows_k_tiles_with_the_engines_scores(indexed):
    _search(indexed, "a red sports car", k=5)
    tiles = _tiles(indexed)
    assert len(tiles) == 5 == len(indexed.main.get("image"))
    assert tiles == _engine(searchbar.build_query("a red sports car"), k=5)
    urls = [url for image in indexed.main.get("image") for url in image.value]
    assert len(urls) == 5 and all(re.fullmatch(r"/(mock/)?media/[0-9a-f]+\.jpg", url) for url in urls)


def test_slider_sets_the_number_of_results(indexed):
    assert len(_tiles(_search(indexed, "a photo", k=1))) == 1
    assert len(_tiles(_search(indexed, "a photo", k=50))) == 12


def test_negative_text_changes_the_query(indexed):
    _search(indexed, "a beach", k=12, negative="people")
    expected = _engine(searchbar.build_query("a beach", "people"), k=12)
    assert _tiles(indexed) == expected != _engine(searchbar.build_query("a beach"), k=12)
    assert "not “people”" in indexed.main.subheader[0].value


def test_uploaded_photo_finds_itself_first(indexed, photo_dir):
    photo = next(photo_dir.rglob("*.png"))
    indexed.file_uploader(key="upload").upload(photo.name, photo.read_bytes(), "image/png")
    _search(indexed, "", k=3)
    tiles = _tiles(indexed)
    assert len(tiles) == 3 and tiles[0] == (1.0, photo.name)


def test_more_like_this_searches_by_that_result(indexed):
    _search(indexed, "mountains", k=4)
    target = _tiles(indexed)[2][1]
    indexed.button(key=[b.key for b in indexed.button if b.key and b.key.startswith("like_")][2]).click().run()
    assert _tiles(indexed)[0] == (1.0, target)
    assert "photos like" in indexed.main.subheader[0].value


def test_view_shows_the_photo_and_its_full_path(indexed, photo_dir):
    _search(indexed, "a cat", k=3)
    first = _tiles(indexed)[0][1]
    indexed.button(key=[b.key for b in indexed.button if b.key and b.key.startswith("view_")][0]).click().run()
    paths = [c.value for c in indexed.code]  # in the dialog, outside the main area
    assert len(paths) == 1 and paths[0].endswith("/" + first) and paths[0] in map(str, photo_dir.rglob("*"))


def test_file_names_are_shown_literally(pixseek_home, photo_dir):
    name = '<img src=x onerror="alert(1)"> *bold* [link](x) :red[r] $x$.png'
    make_photo(photo_dir / name, seed=99)
    at = _app()
    _index(at, photo_dir)
    _search(at, "anything", k=50)
    (caption,) = [c.value for c in at.main.caption if "onerror" in c.value]
    assert re.search(r"(?<!\\)[<\[*$:]", caption.split(" · ", 1)[1]) is None  # every mark escaped
    assert name in [n for _, n in _tiles(at)]


def test_messages_for_bad_input(pixseek_home, photo_dir, tmp_path):
    at = _app()
    _search(at, "a dog")
    assert searchbar.NO_INDEX in _messages(at.main.info)
    _index(at, tmp_path / "nowhere")
    assert _messages(at.sidebar.error) == [f"folder not found: {tmp_path / 'nowhere'}"]
    _index(at, photo_dir)
    _search(at, "   ")
    assert _messages(at.main.error) == ["empty query: type what you are looking for, or add an example photo"]
    _search(at, "a dog", min_score=0.99)
    assert _messages(at.main.info) == ["Nothing scores 0.99 or more: lower the minimum score."]
    assert not at.exception


def test_no_model_installed_says_how_to_install(pixseek_home, photo_dir, monkeypatch):
    monkeypatch.setenv("PIXSEEK_MODEL", "not-installed")
    at = _app()
    _index(at, photo_dir)
    (message,) = _messages(at.sidebar.error)
    assert "'not-installed' is not installed" in message and "pixseek model install" in message


def test_bad_uploads_are_refused_with_one_line(indexed):
    indexed.file_uploader(key="upload").upload("notes.jpg", b"this is not a photo", "image/jpeg")
    _search(indexed, "")
    assert _messages(indexed.main.error) == ["cannot search by notes.jpg: not an image: unrecognised format"]
    big = io.BytesIO()
    Image.new("RGB", (8, 8)).save(big, "PNG")
    indexed.file_uploader(key="upload").clear().upload("huge.png", big.getvalue() + b"\0" * (MAX_UPLOAD_MB * 2**20), "image/png")
    _search(indexed, "")
    assert _messages(indexed.main.error) == [f"huge.png is too large (50 MB); upload a photo of at most {MAX_UPLOAD_MB} MB"]
    assert not _tiles(indexed)


def test_typed_path_is_text_not_a_file_read(indexed, photo_dir, tmp_path):
    outside = tmp_path / "outside.png"
    shutil.copy(next(photo_dir.rglob("*.png")), outside)
    _search(indexed, str(outside), k=3)
    assert _tiles(indexed) == _engine(searchbar.build_query(str(outside)), k=3)
    assert _tiles(indexed)[0][0] < 0.99  # an image query by that copy would score 1.0


def test_changed_folder_offers_a_one_click_update(indexed, photo_dir):
    make_photo(photo_dir / "new one.jpg", seed=42)
    (photo_dir / "home" / "photo 1.JPG").unlink()
    st.cache_data.clear()  # the check for changes runs at most once a minute
    indexed.run()
    assert _messages(indexed.sidebar.warning) == ["The folders changed since the last index: 1 new, 0 changed, 1 deleted."]
    indexed.sidebar.button(key="update_index").click().run()
    _wait_for_index(indexed)
    assert "**Images:** 12" in indexed.sidebar.markdown[0].value
    assert "1 indexed" in _messages(indexed.sidebar.success)[0] and "1 removed" in _messages(indexed.sidebar.success)[0]
    assert not indexed.sidebar.warning


def test_skipped_files_are_listed_with_reasons(pixseek_home, photo_dir):
    (photo_dir / "broken.jpg").write_bytes(b"not a jpeg at all")
    at = _app()
    _index(at, photo_dir)
    (table,) = at.sidebar.dataframe
    assert table.value.to_dict("records") == [{"file": str(photo_dir / "broken.jpg"),
                                               "reason": "not an image"}]


def test_cancel_stops_indexing_and_keeps_what_was_done(pixseek_home, tmp_path):
    for i in range(120):
        make_photo(tmp_path / "many" / f"{i}.jpg", seed=i)
    at = _app()
    at.sidebar.text_area(key="folders").input(str(tmp_path / "many"))
    at.sidebar.button(key="index_images").click().run()
    (bar,) = at.sidebar.get("progress")
    assert re.fullmatch(r"Looking for new and changed photos…|\d+ / 120 photos · [\d.]+ photos/s · .*", bar.proto.text)
    at.sidebar.button(key="cancel_index").click().run()
    _wait_for_index(at)
    cancelled, changed = _messages(at.sidebar.warning)
    assert cancelled.startswith("Last run: cancelled: ") and " new, 0 changed, 0 deleted" in changed
    with Library.open() as library:
        assert library.status().images < 120


def test_filters_apply_show_as_chips_live_in_the_url_and_results_show_date_and_place(pixseek_home, tmp_path):
    from exif_photos import Shot, shot_photo

    photos = tmp_path / "photos"
    shot_photo(photos / "lisbon.jpg", 1, Shot("2023:06:01 10:00:00", "+01:00", "Google", "Pixel 7", None,
                                              (38.7169, -9.1399)))
    shot_photo(photos / "tokyo.jpg", 2, Shot("2022:06:01 12:00:00", "+09:00", "Canon", "Canon EOS R5"))
    at = _app()
    _index(at, photos)
    at.text_input(key="filter_camera").input("pixel")
    _search(at, "a photo")
    assert [name for _, name in _tiles(at)] == ["lisbon.jpg"]
    assert at.query_params["camera"] in ("pixel", ["pixel"])
    shown = [re.sub(r"\\(.)", r"\1", c.value) for c in at.main.caption]
    assert "2023-06-01 10:00 (UTC+01:00) · São Paulo, Lisbon, Portugal" in shown
    chip = at.button(key="chip_camera")
    assert chip.label.startswith("Camera: pixel")
    chip.click().run()
    assert sorted(name for _, name in _tiles(at)) == ["lisbon.jpg", "tokyo.jpg"]
    assert "camera" not in at.query_params
    at.text_input(key="filter_after").input("2024")
    _search(at, "a photo")
    assert not _tiles(at) and any("No photo matches these filters" in i.value for i in at.info)
    at.text_input(key="filter_after").input("June")
    _search(at, "a photo")
    assert any("after 'June' is not a date" in e.value for e in at.error)


def test_filters_are_read_from_the_url(pixseek_home, tmp_path):
    from exif_photos import Shot, shot_photo

    photos = tmp_path / "photos"
    shot_photo(photos / "old.jpg", 1, Shot("2019:01:01 10:00:00", "+00:00"))
    shot_photo(photos / "new.jpg", 2, Shot("2023:01:01 10:00:00", "+00:00"))
    at = _app()
    _index(at, photos)
    fresh = AppTest.from_file(str(launch.APP), default_timeout=60)
    fresh.query_params["before"] = "2020"
    fresh.query_params["sort"] = "date"
    fresh.run()
    assert fresh.text_input(key="filter_before").value == "2020"
    _search(fresh, "a photo")
    assert [name for _, name in _tiles(fresh)] == ["old.jpg"]


def test_duplicates_page_shows_groups_best_first(pixseek_home, photo_dir):
    shutil.copy(next(photo_dir.rglob("*.png")), photo_dir / "copy of it.png")
    at = _app()
    _index(at, photo_dir)
    at.switch_page("duplicates_app.py").run()
    at.button(key="FormSubmitter:duplicates-Find duplicates").click().run()
    assert at.subheader[0].value == "Group 1: 2 exact copies"
    badges = [c.value for c in at.main.caption if c.value.startswith(("**best copy**", "exact copy", "similarity"))]
    assert badges[0].startswith("**best copy**") and badges[1].startswith("exact copy")
