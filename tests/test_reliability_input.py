"""Hostile and odd input: the odd-file corpus plus the kinds that need a real process or a
filesystem trick (an unreadable file, a FIFO, a device, a sparse 600 MB file), indexed by the
CLI as an ordinary user: every file is indexed correctly or skipped with its reason."""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from conftest import make_photo
from odd_files import bad_exif_jpeg, jpeg_bytes, sixteen_bit_rgb_png, write_odd_corpus
from pixseek.images import decode
from pixseek.library import Library
from reliability_kit import cli, record

IGNORED = "ignored"  # a link out of the folders: counted as not followed, not listed


def _add_special_kinds(root: Path, outside: Path) -> dict[str, str]:
    make_photo(root / "unreadable.jpg", seed=40)
    os.chmod(root / "unreadable.jpg", 0o000)
    os.symlink("/dev/zero", root / "device link.jpg")
    with open(root / "sparse 600 MB.jpg", "wb") as handle:
        handle.truncate(600 * 2**20)
    os.link(root / "png named.jpg", root / "hard link.jpg")
    make_photo(outside / "elsewhere.jpg", seed=42)
    os.symlink(outside / "elsewhere.jpg", root / "link to outside.jpg")
    os.symlink(root / "png named.jpg", root / "link inside.jpg")
    return {"unreadable.jpg": "unreadable", "device link.jpg": IGNORED,
            "sparse 600 MB.jpg": "too large", "hard link.jpg": "indexed",
            "link to outside.jpg": IGNORED, "link inside.jpg": "indexed"}


@pytest.fixture
def world_writable_base():
    """A folder an unprivileged user may use: root's permission override must not hide an
    unreadable file, so the indexer runs as an ordinary user in a user namespace."""
    base = Path(tempfile.mkdtemp(prefix="pixseek-input-"))
    os.chmod(base, 0o777)
    yield base
    subprocess.run(["chmod", "-R", "u+rwX", str(base)])
    subprocess.run(["rm", "-rf", str(base)])


def test_every_odd_kind_is_indexed_or_skipped_with_its_reason(pixseek_home, world_writable_base):
    base = world_writable_base
    root, outside = base / "odd", base / "outside"
    root.mkdir()
    outside.mkdir()
    expected = write_odd_corpus(root)
    expected.update(_add_special_kinds(root, outside))
    home = base / "home"
    subprocess.run(["cp", "-r", str(pixseek_home), str(home)], check=True)
    subprocess.run(["chmod", "-R", "a+rwX", str(home), str(outside)], check=True)
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink() and path.name != "unreadable.jpg" and not path.name.startswith("fifo"):
            os.chmod(path, 0o777 if path.is_dir() else 0o666)
    prefix = ("unshare", "-U") if os.geteuid() == 0 else ()

    result = cli("index", "-q", "--index", base / "index", root, env={"PIXSEEK_HOME": str(home)}, prefix=prefix)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr

    with Library.open(base / "index", model=None) as library:
        indexed = {os.path.relpath(r.path, root) for r in library._index.catalog.files_under([str(root)])}
        skipped = {os.path.relpath(p, root): reason for p, reason in library.skipped()}
        assert library.status().consistent
    scan_errors = {os.path.relpath(line.split(": ")[0].removeprefix("  skipped "), root): line.split(": ", 1)[1]
                   for line in result.stdout.splitlines() if line.startswith("  skipped ")}
    reasons = {**scan_errors, **skipped}
    for name, outcome in expected.items():
        if outcome == "indexed":
            assert name in indexed, f"{name!r} should be indexed, got {reasons.get(name)!r}"
        elif outcome == IGNORED:
            assert name not in indexed and name not in reasons, name
        else:
            assert name not in indexed, f"{name!r} should be skipped"
            assert reasons.get(name, "").startswith(outcome), f"{name!r}: {reasons.get(name)!r} != {outcome!r}"
    assert not any(".hidden" in p or "._apple" in p or p.startswith("a/loop") for p in indexed)
    extra_kinds = ["symlink loop", "hidden folder", "AppleDouble file", "non-image extension"]
    outcomes = {}
    for outcome in expected.values():
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    record("odd-input", {"kinds": len(expected) + len(extra_kinds), "by_outcome": outcomes,
                         "files": sorted(expected) + extra_kinds})


def test_damaged_exif_keeps_the_photo_and_its_orientation():
    upright = decode(bad_exif_jpeg())
    assert upright.size == (60, 120)  # orientation 6 applied despite the malformed tag beside it
    top = np.asarray(upright)[5, 30]
    assert top[0] > 200 and top[2] < 60


def test_sixteen_bit_rgb_keeps_its_colours():
    red = np.asarray(decode(sixteen_bit_rgb_png()))[10, :, 0]
    assert red[0] < 5 and red[-1] > 250 and np.all(np.diff(red.astype(int)) >= 0)


def _desktop_results_page(folder: Path, index: Path, pages: Path, query_text: str) -> tuple[Path, list]:
    from pixseek.desktop import results_page
    from pixseek.filters import SearchFilters
    from pixseek.engine.query import parse_query

    with Library.open(index, create=True) as library:
        library.index([folder])
        query = parse_query([query_text])
        results = library.search(query, k=100)
        return results_page.write(pages, query, results, SearchFilters(folder=str(folder)), library.thumbnail), results


@pytest.mark.browser
def test_hostile_names_on_the_desktop_results_page_stay_text_in_a_browser(pixseek_home, tmp_path):
    """The desktop app's results page, written for the odd corpus (names holding <script>,
    quotes, shell and markdown characters; the name that is not UTF-8 has its own test below)
    plus an <img onerror> name, with a <script> query, opened in headless Chromium: nothing
    runs, and every name shows as itself."""
    from playwright.sync_api import sync_playwright

    from test_web_browser import CHROMIUM, CHROMIUM_ARGS

    root = tmp_path / "odd"
    root.mkdir()
    write_odd_corpus(root)
    os.unlink(os.fsencode(str(root)) + b"/caf\xe9 latin-1 name.jpg")
    make_photo(root / '<img src=x onerror="window.pwned=1">.png', seed=60)
    page_file, results = _desktop_results_page(root, tmp_path / "index", tmp_path / "pages",
                                               "<script>window.pwned=2</script>")
    dialogs = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(page_file.as_uri())
            shown = page.eval_on_selector_all("figure a:not(:has(img))", "links => links.map(a => a.textContent)")
            assert page.evaluate("window.pwned") is None and not dialogs
            assert page.locator("img[src='x']").count() == 0
        finally:
            browser.close()
    assert len(results) > 30 and sorted(shown) == sorted(os.path.basename(r.path) for r in results)


def test_a_name_that_is_not_utf8_does_not_break_the_desktop_results_page(pixseek_home, tmp_path):
    """Linux names are bytes: a photo named in Latin-1 is indexed and found, so the page that
    lists it must be written too, with the exact name in its link."""
    folder = tmp_path / "photos"
    make_photo(folder / "plain.jpg", seed=1)
    with open(os.fsencode(str(folder)) + b"/caf\xe9.jpg", "wb") as handle:
        handle.write(jpeg_bytes(2))
    page_file, results = _desktop_results_page(folder, tmp_path / "index", tmp_path / "pages", "a cafe")
    page = page_file.read_text(encoding="utf-8")  # strict: the page is valid UTF-8
    assert len(results) == 2 and "caf\ufffd.jpg" in page and 'href="file://' in page
    assert "/caf%E9.jpg" in page  # the link names the exact bytes
