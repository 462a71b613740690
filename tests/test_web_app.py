"""The web app's logic through Streamlit's AppTest: real Library, real images, tiny test model."""

from __future__ import annotations

import html
import io
import re
import shutil
import time
import urllib.parse

import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import make_photo
from pixseek.library import Library
from pixseek.serving.uploads import MAX_UPLOAD_MB
from pixseek.web import launch, searchbar
from pixseek.web.messages import escape

TILE = re.compile(r"^\*\*(-?\d+\.\d{3})\*\* · (.*)$")
LINK = re.compile(r'<a class="(tile|like)" href="([^"]*)"')


def _app(**params) -> AppTest:
    at = AppTest.from_file(str(launch.APP), default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = str(value)
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
    """Set the controls: each acts at once, no button to press."""
    if k is not None:
        at.slider(key="k").set_value(k)
    if negative is not None:
        at.text_input(key="not").input(negative)
    if min_score is not None:
        at.number_input(key="min").set_value(min_score)
    return at.text_input(key="q").input(text).run()


def _tiles(at: AppTest) -> list[tuple[float, str]]:
    """(score, file name) of every result tile, as the page shows them."""
    found = [TILE.match(c.value) for c in at.main.caption]
    return [(float(m.group(1)), re.sub(r"\\(.)", r"\1", m.group(2))) for m in found if m]


def _links(at: AppTest, kind: str) -> list[dict[str, str]]:
    """The query of every tile ("tile") or "More like this" ("like") link on the page."""
    found = [LINK.match(h.proto.body) for h in at.main.get("html")]
    return [dict(urllib.parse.parse_qsl(html.unescape(m.group(2)).lstrip("?"))) for m in found if m and m.group(1) == kind]


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


def test_indexing_shows_the_index_and_its_folders(pixseek_home, photo_dir):
    at = _app()
    assert "No index yet" in _messages(at.sidebar.info)[0]
    _index(at, photo_dir)
    assert "Last run: 12 indexed" in _messages(at.sidebar.success)[0]
    status = at.sidebar.markdown[0].value
    assert "**Images:** 12" in status and "tiny" in status
    # One list of folders, the index's own: what was typed is cleared once it is in the index.
    assert at.sidebar.text_area(key="folders").value == ""
    assert f"{escape(str(photo_dir))} · 12 photos" in _messages(at.sidebar.caption)


def test_search_shows_k_clickable_tiles_with_the_engines_scores(indexed):
    _search(indexed, "a red sports car", k=5)
    tiles = _tiles(indexed)
    assert len(tiles) == 5 and tiles == _engine(searchbar.build_query("a red sports car"), k=5)
    with Library.open() as library:
        ids = [r.id for r in library.search(searchbar.build_query("a red sports car"), k=5)]
    views = _links(indexed, "tile")  # a thumbnail opens that photo, by id (no path in the address)
    assert [link["view"] for link in views] == [str(i) for i in ids]
    assert all(link["q"] == "a red sports car" and link["k"] == "5" for link in views)
    bodies = [h.proto.body for h in indexed.main.get("html") if 'class="tile"' in h.proto.body]
    assert all('<img src="data:image/jpeg;base64,' in body for body in bodies)


def test_the_search_is_in_the_address_and_comes_back_from_it(indexed):
    _search(indexed, "a beach", k=4, negative="people")
    shown = _tiles(indexed)
    again = _app(q="a beach", k=4, **{"not": "people"})  # a bookmark, or a reload
    assert _tiles(again) == shown == _engine(searchbar.build_query("a beach", "people"), k=4)


def test_the_number_of_results_acts_at_once(indexed):
    _search(indexed, "a photo")
    assert len(_tiles(indexed)) == 10
    assert len(_tiles(indexed.slider(key="k").set_value(1).run())) == 1  # no Search to press
    assert len(_tiles(indexed.slider(key="k").set_value(50).run())) == 12


def test_negative_text_changes_the_query(indexed):
    _search(indexed, "a beach", k=12, negative="people")
    expected = _engine(searchbar.build_query("a beach", "people"), k=12)
    assert _tiles(indexed) == expected != _engine(searchbar.build_query("a beach"), k=12)
    assert "not “people”" in indexed.main.subheader[0].value


def test_an_uploaded_photo_is_shown_as_the_example_until_removed(indexed, photo_dir):
    photo = next(photo_dir.rglob("*.png"))
    indexed.file_uploader(key="uploader-0").upload(photo.name, photo.read_bytes(), "image/png").run()
    tiles = _tiles(indexed)
    assert tiles[0] == (1.0, photo.name)
    example = f"Example photo: **{escape(photo.name)}**"
    assert example in _messages(indexed.main.caption)  # shown by the search box, not hidden in the expander
    _search(indexed, "a cat")  # a text search after it: both, and the page says so
    assert escape(f"photos like {photo.name}") in indexed.main.subheader[0].value
    indexed.button(key="drop_example").click().run()
    assert indexed.main.subheader[0].value == escape("“a cat”")
    assert _tiles(indexed) == _engine(searchbar.build_query("a cat"), k=10)


def test_more_like_this_searches_by_that_result(indexed):
    _search(indexed, "mountains", k=4)
    target = _tiles(indexed)[2][1]
    like = _links(indexed, "like")[2]
    at = _app(**like)  # what following the link does
    assert _tiles(at)[0] == (1.0, target)
    assert "photos like" in at.main.subheader[0].value


def test_a_clicked_thumbnail_shows_the_photo_and_its_full_path(indexed, photo_dir):
    _search(indexed, "a cat", k=3)
    first = _tiles(indexed)[0][1]
    at = _app(**_links(indexed, "tile")[0])
    paths = [c.value for c in at.code]  # in the dialog, outside the main area
    assert len(paths) == 1 and paths[0].endswith("/" + first) and paths[0] in map(str, photo_dir.rglob("*"))
    assert _tiles(at) == _tiles(indexed)  # the results stay behind it


def test_file_names_are_shown_literally(pixseek_home, photo_dir):
    name = '<img src=x onerror="alert(1)"> *bold* [link](x) :red[r] $x$.png'
    make_photo(photo_dir / name, seed=99)
    at = _app()
    _index(at, photo_dir)
    _search(at, "anything", k=50)
    (caption,) = [c.value for c in at.main.caption if "onerror" in c.value]
    assert re.search(r"(?<!\\)[<\[*$:]", caption.split(" · ", 1)[1]) is None  # every mark escaped
    assert name in [n for _, n in _tiles(at)]
    (tile,) = [h.proto.body for h in at.main.get("html") if "onerror" in h.proto.body]
    assert "<img src=x" not in tile and html.escape(name) in tile


def test_messages_for_bad_input(pixseek_home, photo_dir, tmp_path):
    at = _app()
    _search(at, "a dog")
    assert searchbar.NO_INDEX in _messages(at.main.info)
    _index(at, tmp_path / "nowhere")
    assert _messages(at.sidebar.error) == [f"folder not found: {tmp_path / 'nowhere'}"]
    _index(at, photo_dir)
    _search(at, "a dog", k=3)
    shown = _tiles(at)
    _search(at, "   ")  # emptied: a hint, no error, and the last results stay
    assert not at.main.error and searchbar.EMPTY_HINT in _messages(at.main.caption) and _tiles(at) == shown
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
    indexed.file_uploader(key="uploader-0").upload("notes.jpg", b"this is not a photo", "image/jpeg").run()
    assert _messages(indexed.main.error) == ["cannot search by notes.jpg: not an image: unrecognised format"]
    big = io.BytesIO()
    Image.new("RGB", (8, 8)).save(big, "PNG")
    huge = big.getvalue() + b"\0" * (MAX_UPLOAD_MB * 2**20)
    indexed.file_uploader(key="uploader-1").upload("huge.png", huge, "image/png").run()
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
    st.cache_data.clear()  # the check for changes runs at most every CHANGES_TTL_S
    indexed.run()
    assert _messages(indexed.sidebar.warning) == ["The folders changed since the last index: 1 new, 0 changed, 1 deleted."]
    indexed.sidebar.button(key="update_index").click().run()
    _wait_for_index(indexed)
    assert "**Images:** 12" in indexed.sidebar.markdown[0].value
    assert "1 indexed" in _messages(indexed.sidebar.success)[0] and "1 removed" in _messages(indexed.sidebar.success)[0]
    assert not indexed.sidebar.warning


def test_folders_can_be_searched_within_removed_and_a_missing_one_is_marked(pixseek_home, photo_dir, tmp_path):
    drive = tmp_path / "drive"
    for i in range(3):
        make_photo(drive / f"d{i}.jpg", seed=60 + i)
    at = _app()
    _index(at, f"{photo_dir}\n{drive}")
    _search(at, "x", k=50)
    assert len(_tiles(at)) == 15
    at.selectbox(key="in").set_value(str(drive)).run()  # the CLI's --in
    assert sorted(name for _, name in _tiles(at)) == ["d0.jpg", "d1.jpg", "d2.jpg"]

    drive.rename(tmp_path / "unmounted")
    make_photo(photo_dir / "new.jpg", seed=70)
    st.cache_data.clear()
    at = _app(q="x", k=50)
    captions = _messages(at.sidebar.caption)
    assert any(escape(str(drive)) in c and "**missing**" in c for c in captions), captions
    assert at.sidebar.button(key="update_index")  # a missing folder no longer hides it
    assert len(_tiles(at)) == 12

    remove = at.sidebar.button(key="remove_0" if str(drive) < str(photo_dir) else "remove_1")
    remove.click().run()
    with Library.open() as library:
        assert library.folders() == [str(photo_dir)] and library.status().images == 12


def test_the_photo_count_grows_while_indexing(pixseek_home, tmp_path, monkeypatch):
    """The sidebar said "Images: 0" while 159 photos were done: its status was cached per run."""
    monkeypatch.setenv("PIXSEEK_BATCH", "8")
    for i in range(120):
        make_photo(tmp_path / "many" / f"{i}.jpg", seed=i)
    at = _app()
    _index(at, tmp_path / "few")  # an index to show (a folder that does not exist yet fails the run)
    make_photo(tmp_path / "few" / "a.jpg", seed=500)
    _index(at, tmp_path / "few")
    at.sidebar.text_area(key="folders").input(str(tmp_path / "many"))
    at.sidebar.button(key="index_images").click().run()
    counts = []
    deadline = time.monotonic() + 120
    while at.sidebar.get("progress") and time.monotonic() < deadline:
        counts += [int(m.group(1).replace(",", "")) for m in
                   (re.search(r"\*\*Images:\*\* ([\d,]+)", md.value) for md in at.sidebar.markdown) if m]
        at.run()
    assert any(1 < count < 121 for count in counts), counts


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
    at.text_input(key="camera").input("pixel")
    _search(at, "a photo")
    assert [name for _, name in _tiles(at)] == ["lisbon.jpg"]
    shown = [re.sub(r"\\(.)", r"\1", c.value) for c in at.main.caption]
    assert "2023-06-01 10:00 (UTC+01:00) · São Paulo, Lisbon, Portugal" in shown
    chip = at.button(key="chip_camera")
    assert chip.label.startswith("Camera: pixel")
    chip.click().run()
    assert sorted(name for _, name in _tiles(at)) == ["lisbon.jpg", "tokyo.jpg"]
    assert at.text_input(key="camera").value == ""
    at.text_input(key="after").input("2024").run()
    assert not _tiles(at) and any("No photo matches these filters" in i.value for i in at.info)
    at.text_input(key="after").input("June").run()
    assert any("after 'June' is not a date" in e.value for e in at.error)


def test_filters_are_read_from_the_url(pixseek_home, tmp_path):
    from exif_photos import Shot, shot_photo

    photos = tmp_path / "photos"
    shot_photo(photos / "old.jpg", 1, Shot("2019:01:01 10:00:00", "+00:00"))
    shot_photo(photos / "new.jpg", 2, Shot("2023:01:01 10:00:00", "+00:00"))
    at = _app()
    _index(at, photos)
    fresh = _app(q="a photo", before="2020", sort="date")
    assert fresh.text_input(key="before").value == "2020"
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


def test_an_index_from_another_model_is_searched_and_can_be_rebuilt(indexed, pixseek_home, photo_dir, monkeypatch):
    """Started with another model than the index's: searches go on with the index's own model, the
    sidebar says so, and one click rebuilds the index for the app's model."""
    from pixseek.model.export import export_random

    export_random("tiny", pixseek_home / "models" / "other", seed=5)
    monkeypatch.setenv("PIXSEEK_MODEL", "other")
    st.cache_resource.clear()
    at = _app()
    (warning,) = _messages(at.sidebar.warning)
    assert f"built with {escape('random/tiny-seed0')}" in warning and "started with other" in warning
    assert _tiles(_search(at, "a red car"))  # the old index still answers
    at.sidebar.button(key="rebuild_index").click().run()
    _wait_for_index(at, timeout=120)
    at.run()
    assert not at.sidebar.warning and not at.exception
    with Library.open() as library:
        assert library.model_id == "random/tiny-seed5" and library.status().images == 12
    assert _tiles(_search(at, "a blue boat"))
