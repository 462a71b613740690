"""`pixseek web` as a person meets it: the real command as a server process, driven by headless
Chromium; and attempts to read files through that server, which must all come back empty."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from conftest import ROOT, SHARED_PHOTOS, make_photo
from pixseek.library import Library
from pixseek.web.searchbar import build_query

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "test-output"
TILE = re.compile(r"^(-?\d+\.\d{3}) · (.+)$")
XSS_NAME = '<img src=x onerror="window.pwned=1"> *not bold* & \'quotes\'.png'


@dataclass
class Server:
    url: str
    process: subprocess.Popen


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C as a terminal sends it (to the whole group); whatever lingers after 15 s is killed."""
    deadline = time.monotonic() + 15
    try:
        os.killpg(process.pid, signal.SIGINT)
        while time.monotonic() < deadline:
            process.poll()  # reap the command, so only live processes keep the group
            os.killpg(process.pid, 0)
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # the whole group is gone
    process.wait()


@pytest.fixture
def server(pixseek_home, tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "pixseek.cli", "web", "--no-browser", "--port", str(port)],
                               env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2):
                    break
            except OSError:
                assert process.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield Server(url, process)
    finally:
        _stop(process)
        log.close()


@pytest.fixture
def browser_page(tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000})
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            context.close()


def _tiles(page) -> list[tuple[float, str]]:
    texts = page.locator("[data-testid='stMain'] [data-testid='stCaptionContainer']").all_inner_texts()
    return [(float(m.group(1)), m.group(2)) for m in (TILE.match(t.strip()) for t in texts) if m]


def _slide_to(slider, value: int, timeout: float = 30) -> None:
    """Arrow keys until the slider says `value` (a key pressed while the page redraws can be lost)."""
    deadline = time.monotonic() + timeout
    while (now := int(slider.input_value())) != value:
        assert time.monotonic() < deadline, f"the slider stays at {now}"
        slider.focus()
        slider.press("ArrowLeft" if now > value else "ArrowRight")
        time.sleep(0.3)


def _search(page, text: str, count: int) -> list[tuple[float, str]]:
    box = page.get_by_role("textbox", name="Search your photos")
    box.fill(text)
    box.press("Enter")
    page.get_by_role("heading", name=f"“{text}”").wait_for()  # this search's results, not the last one's
    page.get_by_text(f"{count} result{'s' if count != 1 else ''}, best first").wait_for()
    _wait_for_thumbnails(page, count)
    return _settled_tiles(page)


def _settled_tiles(page, timeout: float = 30) -> list[tuple[float, str]]:
    """The tiles once the page has finished redrawing them (the same twice, 0.3 s apart)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        tiles = _tiles(page)
        if tiles == last:
            return tiles
        last = tiles
        time.sleep(0.3)
    return last


def _wait_for_thumbnails(page, count: int) -> None:
    page.wait_for_function(
        """n => { const imgs = [...document.querySelectorAll("[data-testid='stMain'] a.tile img")];
                   return imgs.length === n && imgs.every(i => i.complete && i.naturalWidth > 0); }""", arg=count)


def _engine(text: str, k: int) -> list[tuple[float, str]]:
    with Library.open() as library:
        return [(round(r.score, 3), os.path.basename(r.path)) for r in library.search(build_query(text), k=k)]


def test_index_and_search_in_a_real_browser(server, browser_page, photo_dir):
    make_photo(photo_dir / XSS_NAME, seed=99)
    make_photo(photo_dir / "big.jpg", seed=98, size=(2400, 1800))
    page = browser_page
    page.goto(server.url)
    page.get_by_text("No index yet").first.wait_for()
    page.get_by_role("textbox", name="Add folders to index").fill(str(photo_dir))
    page.get_by_role("button", name="Index images").click()
    page.get_by_text("Last run: 14 indexed").wait_for()
    # Streamlit replaces the sidebar's elements one by one: wait until the count is redrawn too
    expect(page.locator("[data-testid='stSidebar']")).to_contain_text("Images: 14")

    slider = page.get_by_role("slider")
    _slide_to(slider, 5)  # from 10
    tiles = _search(page, "a red sports car", 5)
    assert tiles == _engine("a red sports car", 5)

    slider.focus()
    slider.press("End")  # 50: more than the 14 photos there are; it acts at once, no Enter
    page.get_by_text("14 results, best first").wait_for()
    _wait_for_thumbnails(page, 14)
    tiles = _search(page, "sunset over mountains", 14)
    assert tiles == _engine("sunset over mountains", 14)
    assert XSS_NAME in [name for _, name in tiles]  # shown literally, as text
    assert page.evaluate("window.pwned") is None and page.locator("img[src='x']").count() == 0

    page.locator("a.tile", has=page.locator("img[alt='big.jpg']")).click()  # the thumbnail itself
    dialog = page.get_by_role("dialog")
    dialog.get_by_text(str(photo_dir / "big.jpg")).wait_for()
    large = dialog.locator("img").first
    large.wait_for()
    page.wait_for_function("i => i.complete && i.naturalWidth > 0", arg=large.element_handle())
    assert 320 < large.evaluate("i => i.naturalWidth") <= 1600  # the large view: not a thumbnail, nor 2400 px
    assert "q=sunset+over+mountains" in page.url and "k=50" in page.url and "view=" in page.url

    page.reload()  # the search is in the address: a reload (or a bookmark) shows it again
    page.get_by_role("dialog").get_by_text(str(photo_dir / "big.jpg")).wait_for()
    page.keyboard.press("Escape")
    page.get_by_role("dialog").wait_for(state="detached")
    deadline = time.monotonic() + 30
    while (_tiles(page) != tiles or "view=" in page.url) and time.monotonic() < deadline:
        time.sleep(0.2)  # the page redraws after the dialog closes
    assert _tiles(page) == tiles and "view=" not in page.url


def test_at_phone_width_ten_results_fit_a_few_screens(server, browser_page, photo_dir):
    """Columns stacked one tile a row: ten results made a page 4,500 px high."""
    with Library.open(create=True) as library:
        library.index([photo_dir])
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.url + "/?q=a+dog&k=10")
    _wait_for_thumbnails(page, 10)
    lefts = page.eval_on_selector_all("a.tile", "tiles => tiles.map(t => Math.round(t.getBoundingClientRect().left))")
    assert len(set(lefts)) >= 3  # three tiles a row
    height = page.evaluate("document.querySelector(\"[data-testid='stMain'] [data-testid='stMainBlockContainer']\")"
                           ".scrollHeight")
    assert height < 2000, height


def test_folder_changes_show_without_a_reload(server, browser_page, photo_dir):
    """The update offer used to come only with a reload of the page."""
    with Library.open(create=True) as library:
        library.index([photo_dir])
    page = browser_page
    page.goto(server.url)
    page.get_by_text("Folders in the index").wait_for()
    make_photo(photo_dir / "arrived later.jpg", seed=77)
    page.get_by_text("The folders changed since the last index: 1 new").wait_for(timeout=60_000)


@pytest.mark.skipif(not SHARED_PHOTOS.is_dir(), reason="real photos for the screenshot: ../shared/data/photos")
def test_docs_screenshot_on_real_photos(server, browser_page):
    """docs/screenshots/web.png: real photos (COCO samples, not shipped), indexed and searched
    through the page. The test model has random weights: the ranking means nothing."""
    base = Path(tempfile.mkdtemp(prefix="pixseek-"))  # a short path: the sidebar shows it
    photos = base / "Pictures"
    photos.mkdir()
    for source in sorted((SHARED_PHOTOS / "coco-mini").glob("*.jpg"))[:60]:
        shutil.copyfile(source, photos / source.name)
    page = browser_page
    page.set_viewport_size({"width": 1400, "height": 900})
    page.goto(server.url)
    page.get_by_role("textbox", name="Add folders to index").fill(str(photos))
    page.get_by_role("button", name="Index images").click()
    page.get_by_text("Last run: 60 indexed").wait_for(timeout=120_000)
    _search(page, "a dog playing on the beach", 10)
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "web.png"))
    shutil.rmtree(base)


def _get(url: str, raw_path: str, headers: dict | None = None) -> tuple[int, bytes]:
    """GET a path exactly as written (no client-side normalising of `..` or %2f)."""
    parsed = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
    try:
        headers = headers or {}
        connection.putrequest("GET", raw_path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, b"" if response.status == 101 else response.read()  # 101: a WebSocket now
    finally:
        connection.close()


def test_the_server_serves_no_file_by_path(pixseek_home, photo_dir, tmp_path, request):
    secret_dir = tmp_path / "private"
    secret_dir.mkdir()
    token = os.urandom(16).hex().encode()
    secret = secret_dir / "passwords.txt"
    secret.write_bytes(b"password=" + token)
    private_photo = make_photo(secret_dir / "private.png", seed=7)
    (photo_dir / "leak.jpg").symlink_to(secret)
    (photo_dir / "home" / "leak.txt").symlink_to(secret)
    indexed_photo = next(photo_dir.rglob("*.png"))
    with Library.open(create=True) as library:
        library.index([photo_dir])
        assert not library.contains(str(photo_dir / "leak.jpg")) and library.contains(str(indexed_photo))

    server = request.getfixturevalue("server")
    assert _get(server.url, "/_stcore/health") == (200, b"ok")  # the probe reads real responses
    quoted = urllib.parse.quote
    attempts = []
    for target in (str(secret), str(private_photo), str(indexed_photo), str(photo_dir / "leak.jpg"), "/etc/passwd"):
        rel = "../" * 12 + target.lstrip("/")
        enc = quoted(rel, safe="")
        attempts += [f"/media/{rel}", f"/media/{enc}", f"/media/{quoted(target, safe='')}", f"/media/{target}",
                     f"/app/static/{rel}", f"/app/static/{enc}", f"/app/static/{target}", f"/static/{rel}",
                     f"/static/{enc}", f"/{quoted(target)}", f"/{quoted(target, safe='')}", f"//{target}",
                     f"/component/{enc}", f"/_stcore/{enc}", f"/_stcore/upload_file/{enc}",
                     f"/media/{rel.replace('../', '..%5c')}", f"/?path={enc}", f"/_stcore/health/{enc}"]
    attempts += ["/media/leak.jpg", "/app/static/leak.jpg", "/leak.jpg", "/app/static/", "/app/static/../../"]
    forbidden = [token, b"root:x:0:0", private_photo.read_bytes()[-64:], indexed_photo.read_bytes()[-64:]]
    for path in (a.replace(" ", "%20") for a in attempts):
        status, body = _get(server.url, path)
        leaked = [f for f in forbidden if f in body]
        assert not leaked, f"{path} -> {status} returned file content"


def test_ctrl_c_stops_the_server_cleanly(server):
    os.killpg(server.process.pid, signal.SIGINT)
    assert server.process.wait(timeout=20) == 0
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url + "/_stcore/health", timeout=2)


def test_sigterm_to_the_command_stops_the_server_too(server):
    server.process.terminate()  # the `pixseek web` process only, not its group
    server.process.wait(timeout=20)
    with pytest.raises(OSError):
        urllib.request.urlopen(server.url + "/_stcore/health", timeout=2)


def test_only_local_host_names_may_open_the_app(server):
    """A page elsewhere that rebinds its own name to 127.0.0.1 cannot open the app's WebSocket."""
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Protocol": "streamlit"}
    port = urllib.parse.urlsplit(server.url).port
    assert _get(server.url, "/_stcore/stream", {**upgrade, "Host": f"localhost:{port}"})[0] == 101
    assert _get(server.url, "/_stcore/stream", {**upgrade, "Host": f"attacker.example:{port}"})[0] == 403
