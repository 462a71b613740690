"""The web app under load and attack. The server is the real `pixseek web` command driven by
headless Chromium clients at once (browser tests); the engine rules it relies on (which paths
may be served, which uploads may be decoded) are checked without a browser."""

from __future__ import annotations

import asyncio
import subprocess
import time

import pytest

from conftest import make_photo
from odd_files import decompression_bomb_png
from pixseek.errors import QueryError
from pixseek.library import Library
from reliability_kit import record
from test_web_browser import CHROMIUM, CHROMIUM_ARGS, _engine, server  # noqa: F401 - the real `pixseek web` fixture

HOSTILE_NAMES = ["<script>alert(1)</script>.jpg", '<img src=x onerror="window.pwned=1">.png',
                 "quote\"s & 'apostrophes'.jpg", "semi;colon $(rm -rf) `x`.png", "*bold* [link](x) :red[r].jpg"]
CLIENTS = 4
SEARCHES_PER_CLIENT = 20
QUERIES = ["a dog", "sunset over the sea", "a red car", "people at a party", "snow on mountains",
           "a bowl of fruit", "a city street at night", "a cat on a sofa"]


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


def test_only_an_indexed_path_itself_may_be_served(pixseek_home, tmp_path):
    """`photos/link/../a.jpg` names photos/a.jpg to a string check but, when `link` points into
    another folder, the file beside that folder to the system: it must not count as indexed."""
    photos, elsewhere = tmp_path / "photos", tmp_path / "elsewhere"
    make_photo(photos / "a.jpg", seed=1)
    (elsewhere / "deeper").mkdir(parents=True)
    (elsewhere / "a.jpg").write_bytes(b"secret, not a photo of the index")
    (photos / "link").symlink_to(elsewhere / "deeper")
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([photos])
        assert library.contains(str(photos / "a.jpg"))
        assert not library.contains(str(photos / "link" / ".." / "a.jpg"))
        assert not library.contains("photos/a.jpg") and not library.contains(f"{photos}/./a.jpg")


@pytest.mark.parametrize("name, data", [("bomb.png", decompression_bomb_png()), ("text.jpg", b"not a photo" * 100)])
def test_hostile_uploads_are_refused_quickly(name, data):
    from pixseek.serving.uploads import checked

    started = time.monotonic()
    with pytest.raises(QueryError):
        checked(name, data)
    assert time.monotonic() - started < 2


TILES_SHOWN = """([expected, tolerance]) => {
    const tiles = [...document.querySelectorAll("[data-testid='stMain'] [data-testid='stCaptionContainer']")]
        .map(c => c.innerText.trim().match(/^(-?\\d+\\.\\d{3}) · (.+)$/)).filter(m => m);
    const images = [...document.querySelectorAll("[data-testid='stMain'] a.tile img")];
    return tiles.length === expected.length && tiles.every((m, i) =>
        m[2] === expected[i][1] && Math.abs(parseFloat(m[1]) - expected[i][0]) <= tolerance)
        && images.length === expected.length && images.every(i => i.complete && i.naturalWidth > 0);
}"""


async def _client(browser, url: str, queries: list[str], expected: dict, latencies: list, dialogs: list) -> list[str]:
    """One person searching: each search timed from Enter until the page shows exactly the
    engine's results, thumbnails loaded. Returns the thumbnails' sources of the last search."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.set_default_timeout(120_000)
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(url)
    box = page.get_by_role("textbox", name="Search your photos")
    for text in queries:
        await box.fill(text)
        started = time.perf_counter()
        await box.press("Enter")
        await page.wait_for_function(TILES_SHOWN, arg=[expected[text], 0.0011])
        latencies.append(time.perf_counter() - started)
    assert await page.evaluate("window.pwned") is None
    sources = await page.eval_on_selector_all("[data-testid='stMain'] a.tile img",
                                              "imgs => imgs.map(i => i.src)")
    await context.close()
    return sources


async def _crowd(url: str, expected: dict) -> tuple[list, list, list]:
    from playwright.async_api import async_playwright

    latencies, dialogs = [], []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            rounds = [[QUERIES[(c + i) % len(QUERIES)] for i in range(SEARCHES_PER_CLIENT)] for c in range(CLIENTS)]
            sources = await asyncio.gather(*(_client(browser, url, r, expected, latencies, dialogs) for r in rounds))
        finally:
            await browser.close()
    return latencies, dialogs, [s for client in sources for s in client]


def _percentiles(seconds: list[float]) -> dict[str, float]:
    ordered = sorted(seconds)
    return {"p50_ms": round(1000 * ordered[len(ordered) // 2]), "p95_ms": round(1000 * ordered[int(len(ordered) * 0.95)]),
            "max_ms": round(1000 * ordered[-1])}


def _addresses_other_than_loopback() -> list[str]:
    """This machine's own addresses on its network interfaces (where a server on 0.0.0.0 would
    be reachable from other machines)."""
    listed = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout.split()
    return [a for a in listed if not a.startswith("127.") and a != "::1"]


@pytest.mark.browser
@pytest.mark.timeout(600)
def test_several_clients_search_at_once_with_hostile_names(pixseek_home, photo_dir, request):
    """CLIENTS browsers search SEARCHES_PER_CLIENT times each, all at once, over photos with
    hostile names: every search shows exactly the engine's results, names as text, nothing
    executes; every thumbnail is inlined in the page (no file is served by URL); the server
    listens on loopback only."""
    import socket

    for seed, name in enumerate(HOSTILE_NAMES):
        make_photo(photo_dir / name, seed=500 + seed)
    with Library.open(create=True) as library:
        library.index([photo_dir])
    expected = {text: [list(tile) for tile in _engine(text, 10)] for text in QUERIES}
    assert all(expected[a] != expected[b] for a, b in zip(QUERIES, QUERIES[1:] + QUERIES[:1]))
    web = request.getfixturevalue("server")

    started = time.monotonic()
    latencies, dialogs, sources = asyncio.run(_crowd(web.url, expected))
    wall = time.monotonic() - started
    assert not dialogs, dialogs  # <script>alert(1)</script> in a name never ran
    assert sources and all(source.startswith("data:image/jpeg;base64,") for source in sources)
    port = int(web.url.rsplit(":", 1)[1])
    socket.create_connection(("127.0.0.1", port), timeout=2).close()
    for address in _addresses_other_than_loopback():
        with pytest.raises(OSError):
            socket.create_connection((address, port), timeout=2).close()
    record("web", {"clients": CLIENTS, "searches": len(latencies), "wall_s": round(wall, 1),
                   "searches_per_s": round(len(latencies) / wall, 1), "search_latency": _percentiles(latencies),
                   "hostile_names": HOSTILE_NAMES, "errors": 0,
                   "refused_on": _addresses_other_than_loopback()})
