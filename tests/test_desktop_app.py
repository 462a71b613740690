"""The real desktop app on a virtual X display (Xvfb), driven through its widgets.

Nothing of pixseek is replaced: the window, its worker thread, the engine and the results page
are what users get. The "web browser" is a tiny external command that records the URL it is
given. Dialogs are the real Tk message boxes, read and answered by a watcher that runs inside
the app's own event loop. Each test waits by running the real Tk main loop.
"""

from __future__ import annotations

import base64
import gc
import io
import json
import os
import shutil
import subprocess
import sys
import time
import tkinter as tk
import urllib.parse
import webbrowser
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from conftest import ROOT, SHARED_PHOTOS, TEST_MODEL, make_photo
from pixseek import paths, settings
from pixseek.desktop.app import ICON_PATH, App
from pixseek.filters import SearchFilters
from pixseek.library import Library
from pixseek.engine.query import parse_query

pytestmark = pytest.mark.gui

OUTPUT = ROOT / "test-output"
ODD_NAME = "<script>alert(\"x\")<script> it's.jpg"
BOX = ".__tk__messagebox"  # the path Tk gives a message box whose parent is the main window


# -- the display, the browser and the app -------------------------------------------------------

@pytest.fixture(scope="session")
def xvfb():
    """A virtual X display on a free display number (Xvfb picks it and reports it)."""
    if not shutil.which("Xvfb"):
        pytest.fail("Xvfb is missing: run scripts/install-system-deps.sh")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        server.kill()
        pytest.fail("Xvfb did not start")
    yield f":{number}"
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="session")
def browser_command(tmp_path_factory) -> Path:
    """An external "browser" that appends the URL it is asked to open to $PIXSEEK_TEST_BROWSER_LOG."""
    script = tmp_path_factory.mktemp("browser") / "record-url"
    script.write_text('#!/bin/sh\nprintf "%s\\n" "$1" >> "${PIXSEEK_TEST_BROWSER_LOG:-/dev/null}"\n')
    script.chmod(0o755)
    # What $BROWSER does for a fresh process; registered too, as webbrowser reads $BROWSER once per process.
    webbrowser.register("pixseek-test-browser", None, webbrowser.GenericBrowser([str(script), "%s"]), preferred=True)
    return script


@pytest.fixture
def opened_urls(tmp_path, monkeypatch, browser_command):
    log = tmp_path / "browser.log"
    monkeypatch.setenv("PIXSEEK_TEST_BROWSER_LOG", str(log))
    monkeypatch.setenv("BROWSER", str(browser_command))
    return lambda: log.read_text().split() if log.exists() else []


@dataclass(frozen=True)
class Dialog:
    title: str
    message: str
    detail: str


class Driver:
    """Drives one real App through its widgets; dialogs are recorded and answered with `answer`."""

    def __init__(self, app: App, answer: str):
        self.app = app
        self.root = app.root
        self.dialogs: list[Dialog] = []
        self.answer = answer
        self.closed = False
        self.every(50, self._answer_dialogs)

    def every(self, ms: int, action) -> None:
        """Run `action()` every `ms` in the app's event loop, for the app's lifetime."""
        def tick():
            action()
            self.root.after(ms, tick)
        self.root.after(ms, tick)

    def _answer_dialogs(self) -> None:
        call = self.root.tk.call
        if not call("winfo", "exists", BOX):
            return
        detail = call(f"{BOX}.dtl", "cget", "-text") if call("winfo", "exists", f"{BOX}.dtl") else ""
        self.dialogs.append(Dialog(str(call("wm", "title", BOX)), str(call(f"{BOX}.msg", "cget", "-text")),
                                   str(detail)))
        button = self.answer if call("winfo", "exists", f"{BOX}.{self.answer}") else "ok"
        call(f"{BOX}.{button}", "invoke")

    def wait(self, predicate, what: str, timeout: float = 60.0) -> None:
        """Run the app's main loop until `predicate()` holds with no dialog open."""
        deadline = time.monotonic() + timeout

        def check():
            if (predicate() and not self.root.tk.call("winfo", "exists", BOX)) or time.monotonic() > deadline:
                self.root.quit()
            else:
                self.root.after(20, check)
        self.root.after(20, check)
        self.root.mainloop()
        assert predicate(), (f"timed out after {timeout:.0f} s waiting for {what}; status "
                             f"{self.app.status_var.get()!r}; dialogs {self.dialogs}")

    def wait_idle(self, what: str, timeout: float = 60.0) -> None:
        self.wait(lambda: self.app.busy is None and not self.app.searching, what, timeout)

    def wait_dialog(self, count: int) -> Dialog:
        self.wait(lambda: len(self.dialogs) >= count, f"dialog {count}")
        return self.dialogs[count - 1]

    def type_into(self, entry, text: str) -> None:
        entry.delete(0, "end")
        entry.insert(0, text)

    def press_return(self, widget) -> None:
        widget.focus_force()
        self.root.update()
        widget.event_generate("<Return>")

    def choose_folder(self, folder: Path) -> None:
        self.type_into(self.app.folder_entry, str(folder))
        self.press_return(self.app.folder_entry)
        self.wait(lambda: self.app.busy is not None or self.dialogs, "the folder to open")

    def screenshot(self, name: str) -> Path:
        """The window as the X server shows it, saved under test-output/."""
        self.root.update()
        OUTPUT.mkdir(exist_ok=True)
        target = OUTPUT / name
        subprocess.run(["import", "-window", self.root.wm_frame(), str(target)], check=True, timeout=30)
        return target

    def close(self) -> None:
        """What closing the window does: stop the worker thread, close the index, destroy the window."""
        if not self.closed:
            self.closed = True
            self.app.close()

    def alive(self) -> bool:
        return bool(self.root.winfo_exists()) and self.app.busy is None and not self.app.searching and \
            "disabled" not in self.app.search_button.state()


@pytest.fixture
def start_app(xvfb, monkeypatch, pixseek_home, opened_urls):
    monkeypatch.setenv("DISPLAY", xvfb)
    drivers: list[Driver] = []

    def start(answer: str = "yes", **options) -> Driver:
        root = tk.Tk(className="pixseek")
        driver = Driver(App(root, **options), answer)
        drivers.append(driver)
        root.update()
        return driver

    yield start
    for driver in drivers:
        driver.close()
    drivers.clear()
    gc.collect()  # Tk objects must be freed on this thread, not by a collection that a worker thread runs


# -- data -----------------------------------------------------------------------------------------

@pytest.fixture
def gallery(tmp_path) -> Path:
    """12 real pictures and one broken file under a path with spaces, unicode and an ampersand."""
    root = tmp_path / "Fotos für Ålice & co"
    for i in range(10):
        make_photo(root / ("trip 2024" if i % 2 else "") / f"photo {i}.jpg", seed=i)
    make_photo(root / "naïve café.png", seed=20)
    make_photo(root / ODD_NAME, seed=21)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


@pytest.fixture(scope="session")
def other_model(tmp_path_factory, clip_vocab) -> Path:
    """A second tiny model (other random weights, so another model id)."""
    from pixseek.model.export import export_random

    destination = tmp_path_factory.mktemp("other-model") / "tiny-other"
    export_random("tiny", destination, seed=1)
    return destination


def engine_search(folder: Path, query, k: int):
    """What the engine itself answers on the app's index: (path, score) pairs."""
    with Library.open(paths.default_index_dir()) as library:
        return [(r.path, r.score) for r in library.search(query, k=k, filters=SearchFilters(folder=str(folder)))]


class ResultsPage(HTMLParser):
    """The parts of a results page the tests check: the heading and each result card."""

    def __init__(self, url: str):
        super().__init__()
        assert url.startswith("file://")
        self.path = Path(urllib.parse.unquote(urllib.parse.urlparse(url).path))
        self.raw = self.path.read_text(encoding="utf-8")
        self.heading = ""
        self.cards: list[dict] = []
        self._in = None
        self.feed(self.raw)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "figure":
            self.cards.append({"score": float(attrs["data-score"]), "links": [], "texts": []})
        elif tag == "a" and self.cards:
            self.cards[-1]["links"].append(attrs["href"])
        elif tag == "img" and self.cards:
            self.cards[-1]["img"] = attrs["src"]
        elif tag == "h1":
            self._in = "h1"
        elif tag == "span" and attrs.get("class") == "score":
            self._in = "score"

    def handle_endtag(self, tag):
        if tag in ("h1", "span"):
            self._in = None

    def handle_data(self, data):
        if self._in == "h1":
            self.heading += data
        elif self._in == "score":
            self.cards[-1]["shown_score"] = data
        elif self.cards:
            self.cards[-1]["texts"].append(data)

    def paths(self) -> list[str]:
        found = []
        for card in self.cards:
            targets = {urllib.parse.unquote(urllib.parse.urlparse(link).path) for link in card["links"]}
            assert len(targets) == 1, card["links"]
            found.append(targets.pop())
        return found


def check_page(page: ResultsPage, expected: list[tuple[str, float]]) -> None:
    """The page shows exactly the engine's results: same files, order and scores, real thumbnails."""
    assert page.paths() == [path for path, _ in expected]
    for card, (path, score) in zip(page.cards, expected):
        assert card["score"] == pytest.approx(score, abs=1e-6)
        assert card["shown_score"] == f"{score:.4f}"
        assert os.path.basename(path) in card["texts"]
        prefix = "data:image/jpeg;base64,"
        assert card["img"].startswith(prefix)
        thumbnail = Image.open(io.BytesIO(base64.b64decode(card["img"][len(prefix):])))
        assert thumbnail.format == "JPEG" and max(thumbnail.size) <= 256


# -- the tests ------------------------------------------------------------------------------------

def test_index_a_folder_then_search_by_text_and_by_image(start_app, gallery, opened_urls, pixseek_home):
    driver = start_app()
    app = driver.app
    assert app.folder_var.get() == "" and not app.progress.winfo_ismapped()

    driver.choose_folder(gallery)
    driver.wait_idle("indexing")
    status = app.status_var.get()
    assert status.startswith(f"Indexed {gallery}: 12 indexed,") and "1 skipped" in status
    assert "Skipped: broken.jpg" in status
    assert not app.progress.winfo_ismapped() and float(app.progress.cget("value")) == 0
    assert app.index_dir == str(paths.default_index_dir())  # the index the CLI and web app use too
    assert settings.load("desktop")["folder"] == str(gallery)
    assert app.root.title() == f"pixseek: {gallery.name}"

    query = 'red "car" <b>'
    driver.type_into(app.query_entry, query)
    driver.type_into(app.k_spinbox, "20")
    driver.press_return(app.query_entry)  # Enter searches
    driver.wait(lambda: len(opened_urls()) == 1, "the results page to open")
    page = ResultsPage(opened_urls()[0])
    assert page.path.parent == pixseek_home / "cache" / "desktop"
    assert query in page.heading
    check_page(page, engine_search(gallery, parse_query([query]), 20))
    assert len(page.cards) == 12  # every indexed picture in the folder, the broken file is not one
    assert str(gallery / ODD_NAME) in page.paths()
    assert "<script>alert" not in page.raw and "&lt;script&gt;alert(&quot;x&quot;)" in page.raw
    driver.wait_idle("the search to finish")
    assert app.found_var.get().startswith("12 results for")
    assert app.status_var.get().startswith(f"Indexed {gallery}: 12 indexed,")  # the index's line stays
    driver.screenshot("desktop-text-search.png")

    app.image_radio.invoke()
    app.root.update()
    assert app.image_entry.winfo_ismapped() and not app.query_entry.winfo_ismapped()
    example = gallery / "naïve café.png"
    driver.type_into(app.image_entry, str(example))
    driver.type_into(app.k_spinbox, "3")
    driver.press_return(app.k_spinbox)  # Enter anywhere in the window searches
    driver.wait(lambda: len(opened_urls()) == 2, "the second results page")
    page = ResultsPage(opened_urls()[1])
    expected = engine_search(gallery, parse_query(images=[str(example)]), 3)
    check_page(page, expected)
    assert page.paths()[0] == str(example) and page.cards[0]["score"] > 0.999  # an image finds itself first
    assert "naïve café.png" in page.heading
    driver.wait_idle("the image search to finish")
    driver.screenshot("desktop-image-search.png")


def test_window_stays_responsive_while_indexing(start_app, tmp_path, opened_urls):
    """The event loop keeps turning (every 10 ms asked) while hundreds of photos are indexed."""
    if SHARED_PHOTOS.is_dir():
        folder = SHARED_PHOTOS
    else:
        folder = tmp_path / "many"
        for i in range(600):
            make_photo(folder / f"{i:03d}.jpg", seed=i, size=(640, 480))
    driver = start_app()
    app = driver.app
    ticks: list[float] = []
    samples: list[tuple] = []
    shot: list[subprocess.Popen] = []

    def sample():
        ticks.append(time.monotonic())
        if app.busy == "index" and app.progress.winfo_ismapped():
            samples.append((str(app.progress.cget("mode")), float(app.progress.cget("value")),
                            float(app.progress.cget("maximum")), app.status_var.get()))
            if samples[-1][0] == "determinate" and samples[-1][1] >= 0.4 * samples[-1][2] and not shot:
                shot.append(subprocess.Popen(  # a picture of the window at work, taken without waiting
                    ["import", "-window", app.root.wm_frame(), str(OUTPUT / "desktop-indexing.png")]))
    OUTPUT.mkdir(exist_ok=True)
    driver.every(10, sample)
    started = time.monotonic()
    driver.choose_folder(folder)
    driver.wait_idle("indexing", timeout=300)
    duration = time.monotonic() - started

    during = [t for t in ticks if started <= t] + [time.monotonic()]
    gaps = [b - a for a, b in zip(during, during[1:])]
    (OUTPUT / "desktop-responsiveness.json").write_text(json.dumps(
        {"folder": str(folder), "seconds": round(duration, 2), "ticks": len(during),
         "max_gap_s": round(max(gaps), 4), "mean_gap_s": round(sum(gaps) / len(gaps), 4)}, indent=1))
    assert len(during) >= 20, f"indexing took {duration:.2f} s: too short to tell"  # 600 photos: ~1 s here
    assert max(gaps) < 0.5, f"the window froze for {max(gaps):.2f} s while indexing"
    assert sum(gaps) / len(gaps) < 0.05  # it kept turning all along (10 ms asked), not once in a while

    progress = [(value, maximum, status) for mode, value, maximum, status in samples if mode == "determinate"]
    values = [value for value, _, _ in progress]
    assert len(set(values)) >= 5 and values == sorted(values)  # the bar moved forward, in steps
    total = progress[-1][1]
    assert total >= 200 and values[-1] <= total
    assert any("images/s" in status and "left" in status and f"of {total:.0f} images" in status
               for _, _, status in progress)
    assert app.status_var.get().startswith(f"Indexed {folder}:")
    assert not app.progress.winfo_ismapped()
    with Library.open(paths.default_index_dir()) as library:
        indexed = library.status().images
    assert f"{indexed} indexed" in app.status_var.get()

    driver.type_into(app.query_entry, "a dog on a beach")
    driver.press_return(app.query_entry)
    driver.wait(lambda: opened_urls() and not app.searching, "the search")
    assert len(ResultsPage(opened_urls()[0]).cards) == 10  # K: 10 by default
    driver.screenshot("desktop.png")  # the picture for the docs
    assert shot and shot[0].wait(30) == 0


def test_search_while_indexing_finds_what_is_indexed_so_far(start_app, tmp_path, opened_urls):
    folder = tmp_path / "arriving"
    for i in range(600):
        make_photo(folder / f"{i:03d}.png", seed=i, size=(400, 300))
    driver = start_app()
    app = driver.app
    asked: list[float] = []

    def search_once_started():
        if app.busy == "index" and float(app.progress.cget("value")) >= 40 and not asked:  # a batch of 32 saved
            assert app.search_button.instate(["!disabled"])  # open while the folder is indexed
            asked.append(float(app.progress.cget("value")))
            driver.type_into(app.query_entry, "a dog on a beach")
            driver.press_return(app.query_entry)
    driver.every(10, search_once_started)
    driver.choose_folder(folder)
    driver.wait(lambda: opened_urls(), "the results page")
    assert app.busy == "index" and app.progress.winfo_ismapped()  # indexing went on meanwhile
    driver.wait(lambda: not app.searching, "the search to be reported")
    assert app.found_var.get().startswith("10 results for") and "indexed so far" in app.found_var.get()
    paths_found = ResultsPage(opened_urls()[0]).paths()
    assert len(paths_found) == 10 and all(Path(p).parent == folder for p in paths_found)
    assert "disabled" in app.update_button.state()  # the folder's controls wait for indexing

    driver.wait_idle("indexing", timeout=300)
    assert app.status_var.get().startswith(f"Indexed {folder}: 600 indexed")
    assert app.found_var.get().startswith("10 results for")  # the search's line is its own
    assert "indexed so far" not in app.found_var.get()  # ... and no longer says indexing goes on


def test_cancel_then_restart_offers_to_finish(start_app, tmp_path):
    folder = tmp_path / "to cancel"
    for i in range(200):
        make_photo(folder / f"{i:03d}.png", seed=i, size=(400, 300))
    driver = start_app()
    app = driver.app

    def cancel_once_started():
        if str(app.progress.cget("mode")) == "determinate" and float(app.progress.cget("value")) > 0 \
                and app.cancel_button.instate(["!disabled"]):
            app.cancel_button.invoke()
            app.cancel_button.state(["disabled"])  # once
    driver.every(10, cancel_once_started)
    driver.choose_folder(folder)
    driver.wait_idle("indexing to stop")
    assert app.status_var.get().startswith(f"Indexing cancelled {folder}: ")
    with Library.open(paths.default_index_dir()) as library:
        kept = library.status().images
    assert 0 < kept < 200
    assert f"{kept} indexed" in app.status_var.get()
    driver.close()

    driver = start_app()  # comes back with the folder, finds the rest missing and offers to finish
    assert driver.app.folder_var.get() == str(folder)
    driver.wait_idle("the update", timeout=120)
    assert [(d.title, d.message) for d in driver.dialogs] == [
        ("Index out of date", f"Since this folder was indexed: {200 - kept} new, 0 changed, 0 deleted.")]
    assert driver.app.status_var.get().startswith(f"Indexed {folder}: {200 - kept} indexed, 0 reused, {kept} unchanged")


def test_k_is_remembered_and_the_page_can_be_opened_again(start_app, gallery, opened_urls, browser_command):
    """K starts at 10, as in the CLI and the web app, and comes back as last used. Whether the
    browser shows a page is not known (a browser may take it and fail), so the line gives the
    page's path and a button opens it again."""
    driver = start_app()
    app = driver.app
    assert app.k_var.get() == "10" and not app.open_page_button.winfo_ismapped()
    driver.choose_folder(gallery)
    driver.wait_idle("indexing")
    driver.type_into(app.query_entry, "a cat")
    driver.type_into(app.k_spinbox, "7")
    app.search_button.invoke()
    driver.wait(lambda: opened_urls() and not app.searching, "the search")
    page = ResultsPage(opened_urls()[0])
    assert len(page.cards) == 7 and str(page.path) in app.found_var.get()
    app.root.update()
    assert "opened in your" not in app.found_var.get() and app.open_page_button.winfo_ismapped()
    app.open_page_button.invoke()
    assert opened_urls() == [opened_urls()[0]] * 2
    driver.close()

    driver = start_app()
    assert driver.app.k_var.get() == "7"
    driver.wait(lambda: driver.app.folder is not None, "the remembered folder to load")
    assert driver.app.found_var.get() == "" and not driver.app.open_page_button.winfo_ismapped()


def test_restart_remembers_the_folder_and_updates_only_what_changed(start_app, gallery):
    driver = start_app()
    driver.choose_folder(gallery)
    driver.wait_idle("indexing")
    driver.close()

    driver = start_app()  # up to date: loads at once, no question
    assert driver.app.folder_var.get() == str(gallery)
    driver.wait(lambda: driver.app.folder is not None, "the remembered folder to load")
    assert driver.app.status_var.get() == (f"Ready: 12 images indexed in {gallery}. Warning: random/tiny-seed0 has "
                                           "random weights, a stand-in for testing: its results are meaningless; "
                                           "install the real model to search by meaning.")
    assert driver.dialogs == []
    driver.close()

    make_photo(gallery / "new one.jpg", seed=30)
    make_photo(gallery / "trip 2024" / "new two.jpg", seed=31)
    make_photo(gallery / "photo 0.jpg", seed=32)  # edited
    (gallery / "photo 2.jpg").unlink()
    with Library.open(paths.default_index_dir()) as library:
        changes = library.changes([str(gallery)])
    assert (changes.new, changes.changed, changes.deleted) == (2, 1, 1)

    driver = start_app(answer="no")  # keep the old index for now
    driver.wait(lambda: driver.app.folder is not None, "the remembered folder to load")
    assert driver.dialogs[0].message == f"Since this folder was indexed: {changes.describe()}."
    assert driver.app.status_var.get().startswith("Index out of date (2 new, 1 changed, 1 deleted)")
    driver.app.update_button.invoke()  # on demand
    driver.wait_idle("the update")
    assert driver.app.status_var.get().startswith(f"Indexed {gallery}: 3 indexed, 0 reused, 10 unchanged, 1 removed, 1 skipped")
    assert len(driver.dialogs) == 1


def test_errors_are_dialogs_and_the_app_lives_on(start_app, gallery, tmp_path, opened_urls):
    driver = start_app()
    app = driver.app
    missing = tmp_path / "no such folder"
    driver.choose_folder(missing)
    dialog = driver.wait_dialog(1)
    assert (dialog.title, dialog.message) == ("Folder not available", f"folder not found: {missing}")
    assert "Browse" in dialog.detail
    driver.wait_idle("the failed open")
    app.query_entry.focus_force()  # leaving the field with the same text does not ask again
    app.root.update()
    assert len(driver.dialogs) == 1 and driver.alive()

    app.search_button.invoke()
    assert driver.dialogs[1].title == "Cannot search" and "choose an image folder" in driver.dialogs[1].message
    assert driver.dialogs[1].detail == ""  # not "type some words": words are not what is missing

    driver.type_into(app.folder_entry, str(gallery))
    app.folder_entry.focus_force()
    app.root.update()
    app.query_entry.focus_force()  # focus-out selects the typed folder
    driver.wait(lambda: app.folder is not None and app.busy is None, "the folder to be indexed")

    app.image_radio.invoke()
    driver.type_into(app.image_entry, str(gallery / "not there.jpg"))
    app.search_button.invoke()
    assert driver.dialogs[2].title == "Cannot search"
    assert driver.dialogs[2].message == f"query image not found: {gallery / 'not there.jpg'}"

    driver.type_into(app.image_entry, str(gallery / "broken.jpg"))  # exists, but is no picture
    app.search_button.invoke()
    dialog = driver.wait_dialog(4)
    assert dialog.title == "Cannot search" and dialog.message.startswith(f"cannot use {gallery / 'broken.jpg'}")

    driver.type_into(app.image_entry, str(gallery / "naïve café.png"))
    driver.type_into(app.k_spinbox, "51")
    app.search_button.invoke()
    assert driver.dialogs[4].message == "Results (K) must be a whole number from 1 to 50"
    assert driver.dialogs[4].detail == ""

    app.root.after(0, lambda: {}["no such key"])  # any unexpected error in a Tk callback
    dialog = driver.wait_dialog(6)
    assert dialog.title == "Unexpected error" and dialog.message == "KeyError: 'no such key'"

    driver.wait_idle("the last error")
    assert driver.alive() and opened_urls() == []
    driver.type_into(app.k_spinbox, "2")
    app.search_button.invoke()
    driver.wait(lambda: len(opened_urls()) == 1, "a search after all those errors")


def test_no_model_installed_is_a_dialog_with_the_fix(start_app, gallery, monkeypatch):
    monkeypatch.setenv("PIXSEEK_MODEL", "not-installed")
    driver = start_app()
    driver.choose_folder(gallery)
    dialog = driver.wait_dialog(1)
    assert dialog.title == "No model installed" and "'not-installed' is not installed" in dialog.message
    assert "pixseek model install" in dialog.detail
    driver.wait_idle("the error")
    assert driver.alive() and driver.app.status_var.get().startswith("Error: model 'not-installed'")


def test_an_index_path_that_is_a_file_is_a_clear_dialog(start_app, gallery, tmp_path):
    """Was a FileExistsError escaping the engine (a bug, which the old test locked in)."""
    not_a_folder = tmp_path / "index"
    not_a_folder.write_text("--index names a file")
    driver = start_app(index=str(not_a_folder))
    driver.choose_folder(gallery)
    dialog = driver.wait_dialog(1)
    assert (dialog.title, dialog.message) == (
        "pixseek", f"cannot make an index folder at {not_a_folder}: a file of that name is in the way")
    driver.wait_idle("the error")
    assert driver.alive()


def test_a_damaged_index_dialog_says_what_the_engine_does(start_app, gallery):
    """The engine rebuilds a damaged catalog when the folder is indexed again; the dialog used to
    tell the user to delete the index folder instead."""
    from pixseek.desktop.dialogs import show_error
    from pixseek.errors import IndexCorrupt

    with Library.open(paths.default_index_dir(), create=True) as library:
        library.index([gallery])
    catalog = paths.default_index_dir() / "catalog.sqlite3"
    catalog.write_bytes(catalog.read_bytes()[:100] + b"\xee" * (catalog.stat().st_size - 100))
    with pytest.raises(IndexCorrupt) as caught:  # what a search on this index meets
        Library.open(paths.default_index_dir()).search("x")
    driver = start_app()
    driver.root.after(0, show_error, driver.root, caught.value)
    dialog = driver.wait_dialog(1)
    assert dialog.title == "Index damaged" and "rebuilds it" in dialog.message
    assert "Update index" in dialog.detail and "remove" not in dialog.detail.lower()
    driver.choose_folder(gallery)  # what the dialog says: the app indexes the folder, and the index is whole
    driver.wait_idle("the rebuild", timeout=120)
    with Library.open(paths.default_index_dir()) as library:
        assert library.status().images == 12 and library.status().consistent


def test_an_index_from_another_model_offers_a_rebuild(start_app, gallery, other_model, pixseek_home):
    with Library.open(paths.default_index_dir(), create=True) as library:
        library.index([gallery])
    shutil.copytree(other_model, pixseek_home / "models" / "tiny-other")
    declined = start_app(answer="no", model="tiny-other")
    declined.choose_folder(gallery)
    offer, error = declined.wait_dialog(1), declined.wait_dialog(2)
    assert offer.title == "Index built with another model" and "Rebuild the index for tiny-other" in offer.detail
    assert error.title == "Index cannot be used" and "'random/tiny-seed0'" in error.message
    declined.wait_idle("the error")
    assert declined.alive()
    declined.close()

    driver = start_app(answer="yes", model="tiny-other")
    driver.choose_folder(gallery)
    assert driver.wait_dialog(1).title == "Index built with another model"
    driver.wait(lambda: driver.app.busy is None and driver.app.folder is not None, "the rebuild and the folder", timeout=120)
    assert driver.app.status_var.get().startswith("Ready") and driver.dialogs[1:] == []
    with Library.open(paths.default_index_dir()) as library:
        assert library.model_id == "random/tiny-seed1" and library.status().images == 12


def test_about_box_and_icon(start_app, tmp_path):
    driver = start_app()
    assert driver.app._icon is not None and ICON_PATH.is_file()  # the shipped icon loads
    driver.app.about_button.invoke()
    about = driver.dialogs[0]
    assert about.title == "About pixseek" and about.message.startswith("pixseek 0.")
    assert f"Model: {TEST_MODEL}" in about.detail and f"Index: {paths.default_index_dir()}" in about.detail
    assert "Licences:" in about.detail and "MIT" in about.detail
    driver.close()

    driver = start_app(icon=tmp_path / "missing.png")  # no icon file: the app still starts
    assert driver.app._icon is None and driver.root.winfo_ismapped() and driver.alive()


def test_pixseek_gui_command_typed_into_with_the_keyboard(xvfb, pixseek_home, gallery, opened_urls, monkeypatch):
    """`pixseek gui` as a user starts it; the query is typed with real X key events (xdotool)."""
    with Library.open(paths.default_index_dir(), create=True) as library:
        library.index([gallery])
    settings.save("desktop", folder=str(gallery))
    monkeypatch.setenv("DISPLAY", xvfb)
    app = subprocess.Popen([sys.executable, "-m", "pixseek.cli", "gui"], stderr=subprocess.PIPE, text=True)
    try:
        window = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--pid", str(app.pid),
                                 "--name", "^pixseek: Fotos"],
                                capture_output=True, text=True, timeout=60, check=True).stdout.split()[0]
        subprocess.run(["xdotool", "windowfocus", "--sync", window], check=True, timeout=30)
        subprocess.run(["xdotool", "type", "--delay", "20", "a red car"], check=True, timeout=30)
        subprocess.run(["xdotool", "key", "Return"], check=True, timeout=30)
        deadline = time.monotonic() + 60
        while not opened_urls() and time.monotonic() < deadline and app.poll() is None:
            time.sleep(0.1)
        assert opened_urls(), f"no page opened; the app said: {app.stderr.read() if app.poll() is not None else ''}"
        page = ResultsPage(opened_urls()[0])
        assert "“a red car”" in page.heading
        check_page(page, engine_search(gallery, parse_query(["a red car"]), 10))  # K: 10 as in the CLI and web
    finally:
        app.terminate()
        app.wait(10)


def test_date_range_and_camera_narrow_the_results_page_which_shows_dates_and_places(start_app, tmp_path,
                                                                                    opened_urls):
    from exif_photos import Shot, shot_photo

    folder = tmp_path / "trips"
    shot_photo(folder / "lisbon.jpg", 1, Shot("2023:06:01 10:00:00", "+01:00", "Google", "Pixel 7", None,
                                              (38.7169, -9.1399)))
    shot_photo(folder / "tokyo.jpg", 2, Shot("2023:08:01 12:00:00", "+09:00", "Canon", "Canon EOS R5"))
    shot_photo(folder / "older.jpg", 3, Shot("2019:08:01 12:00:00", "+00:00", "Google", "Pixel 3"))
    driver = start_app()
    app = driver.app
    driver.choose_folder(folder)
    driver.wait_idle("indexing")
    driver.type_into(app.query_entry, "a trip")
    driver.type_into(app.after_entry, "2023")
    driver.type_into(app.camera_entry, "pixel")
    app.search_button.invoke()
    driver.wait(lambda: len(opened_urls()) == 1, "the results page")
    page = ResultsPage(opened_urls()[0])
    assert [os.path.basename(p) for p in page.paths()] == ["lisbon.jpg"]
    assert '<time datetime="2023-06-01T10:00:00">2023-06-01 10:00 (UTC+01:00)</time>' in page.raw
    assert "Lisbon, Portugal" in page.raw and "camera: pixel" in page.raw
    driver.wait_idle("the search")
    driver.type_into(app.camera_entry, "")
    driver.type_into(app.before_entry, "2023-07")
    driver.type_into(app.after_entry, "last summer")
    app.search_button.invoke()
    dialog = driver.wait_dialog(1)
    assert dialog.title == "Cannot search" and dialog.message.startswith("after 'last summer' is not a date")
    driver.type_into(app.after_entry, "")
    app.search_button.invoke()
    driver.wait(lambda: len(opened_urls()) == 2, "the second results page")
    assert sorted(os.path.basename(p) for p in ResultsPage(opened_urls()[1]).paths()) == ["lisbon.jpg", "older.jpg"]


def test_the_remembered_folder_is_not_indexed_into_another_index_unasked(start_app, gallery, tmp_path):
    driver = start_app()
    driver.choose_folder(gallery)
    driver.wait_idle("indexing")
    driver.close()

    other = tmp_path / "other index"
    driver = start_app(answer="no", index=str(other))
    driver.wait(lambda: driver.app.folder is not None, "the remembered folder to load")
    assert [d.title for d in driver.dialogs] == ["Index this folder?"]
    assert str(other) in driver.dialogs[0].message
    assert driver.app.status_var.get().startswith(f"{gallery} is not indexed here")
    assert not (other / "catalog.sqlite3").exists()
