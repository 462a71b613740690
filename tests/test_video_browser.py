"""A video result in the real web app (`pixseek web` as a server process, headless Chromium): the
closer look plays the video starting within a second of its moment."""

from __future__ import annotations

import pytest
from PIL import Image

from pixseek.library import Library
from test_web_browser import browser_page, server  # noqa: F401 - the same server and browser fixtures
from video_kit import make_clip, scene_photos

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]


def test_the_closer_look_plays_the_video_from_its_moment(server, browser_page, tmp_path):  # noqa: F811
    folder = tmp_path / "library"
    photos = scene_photos(4)
    make_clip(folder / "party.webm", [Image.open(p) for p in photos], codec="libvpx-vp9")  # Chromium plays VP9
    with Library.open(create=True) as library:
        library.index([folder])
        best = library.search(str(photos[2]), k=1)[0]
    assert best.is_video and 6 <= best.seconds < 9
    page = browser_page
    page.goto(f"{server.url}/?q=x&view={best.id}&t={best.seconds:.1f}")
    video = page.locator("video")
    video.wait_for()
    started = page.evaluate("""async () => {
        const v = document.querySelector('video');
        if (v.readyState < 1) await new Promise(r => v.addEventListener('loadedmetadata', r, {once: true}));
        for (let i = 0; i < 50 && Math.abs(v.currentTime) < 0.01; i++) await new Promise(r => setTimeout(r, 100));
        const at = v.currentTime;
        v.muted = true;
        await v.play();
        await new Promise(r => setTimeout(r, 700));
        return [at, v.currentTime, v.paused, v.error && v.error.code];
    }""")
    at, later, paused, error = started
    assert error is None and abs(at - best.seconds) < 1, started
    assert later > at and not paused, started  # it plays on from there
