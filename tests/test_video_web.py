"""Videos in the web app, through Streamlit's AppTest (real Library, clips made with PyAV): a
video's tile is its best moment with the second shown, its closer look plays the video from that
second, and "More like this" searches by that moment."""

from __future__ import annotations

import html
import re
import urllib.parse

import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import make_photo
from pixseek.library import Library
from pixseek.web import launch
from video_kit import make_clip, scene_photos

TILE = re.compile(r"^\*\*(-?\d+\.\d{3})\*\* · (.*?)(?: · ▶ (\d+):(\d\d))?$")
LINK = re.compile(r'<a class="(tile|like)" href="([^"]*)"')


def _app(**params) -> AppTest:
    at = AppTest.from_file(str(launch.APP), default_timeout=60)
    for name, value in params.items():
        at.query_params[name] = str(value)
    at.run()
    return at


def _tiles(at: AppTest) -> list[tuple[str, int | None]]:
    found = [TILE.match(c.value) for c in at.main.caption]
    return [(re.sub(r"\\(.)", r"\1", m.group(2)), int(m.group(3)) * 60 + int(m.group(4)) if m.group(3) else None)
            for m in found if m]


def _links(at: AppTest, kind: str) -> list[dict[str, str]]:
    found = [LINK.match(h.proto.body) for h in at.main.get("html")]
    return [dict(urllib.parse.parse_qsl(html.unescape(m.group(2)).lstrip("?"))) for m in found if m and m.group(1) == kind]


@pytest.fixture
def indexed(pixseek_home, tmp_path):
    st.cache_resource.clear()
    st.cache_data.clear()
    folder = tmp_path / "library"
    make_clip(folder / "party.mp4", [Image.open(p) for p in scene_photos(3)])
    make_photo(folder / "photo.jpg", seed=3)
    with Library.open(create=True) as library:
        library.index([folder])
        best = library.search(str(scene_photos(3)[2]), k=1)[0]
    return folder, best


def test_a_video_tile_shows_its_moment_and_its_closer_look_plays_from_that_second(indexed):
    folder, best = indexed
    at = _app(q="x", k=5)
    tiles = dict(_tiles(at))
    assert set(tiles) == {"party.mp4", "photo.jpg"} and tiles["photo.jpg"] is None and tiles["party.mp4"] is not None
    tile = next(link for link in _links(at, "tile") if int(link["view"]) == best.id)
    opened = _app(**tile)
    video = opened.get("video")
    assert len(video) == 1 and video[0].proto.start_time == int(float(tile["t"]))
    assert [c.value for c in opened.code] == [str(folder / "party.mp4")]


def test_more_like_this_from_a_moment_finds_that_moment_first(indexed):
    folder, best = indexed
    at = _app(q="x", k=5)
    moment = next(link for link in _links(at, "like") if int(link["like"]) == best.id)
    second = dict(_tiles(at))["party.mp4"]
    assert int(float(moment["at"])) == second
    liked = _app(**moment)  # what following the link does
    assert _tiles(liked)[0] == ("party.mp4", second)
    title = re.sub(r"\\(.)", r"\1", liked.main.subheader[0].value)
    assert title.endswith(f"like party.mp4 at {float(moment['at']):g} s")


def test_a_view_of_a_video_that_left_the_index_says_so(indexed):
    at = _app(view=str(2**40 + 999), t="3")
    assert not at.get("video")


def test_show_photos_or_videos(indexed):
    assert {name for name, _ in _tiles(_app(q="x", k=5, type="video"))} == {"party.mp4"}
    assert {name for name, _ in _tiles(_app(q="x", k=5, type="photo"))} == {"photo.jpg"}
    assert {name for name, _ in _tiles(_app(q="x", k=5))} == {"photo.jpg", "party.mp4"}
