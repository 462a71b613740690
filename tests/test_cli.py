"""The command line as a user runs it: real subprocesses, one-line errors, exit codes, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import make_photo
from conftest import without_stand_in_note as notes
from pixseek import __version__


def pixseek(*args, env_extra=None, cwd=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "pixseek.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120, stdin=subprocess.DEVNULL)


def one_line_error(result, *needles):
    """Exit 1 and exactly one line on stderr (no blank line before it), that says `needles`."""
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pixseek: error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]


@pytest.fixture
def indexed(pixseek_home, photo_dir, tmp_path):
    index = tmp_path / "index"
    result = pixseek("index", "--index", index, photo_dir)
    assert result.returncode == 0, result.stderr
    assert "12 indexed" in result.stdout
    return index


def test_index_search_status_remove(indexed, photo_dir):
    result = pixseek("search", "--index", indexed, "a dog on a beach", "-k", "5", "--json")
    hits = json.loads(result.stdout)
    assert len(hits) == 5 and all(os.path.isfile(h["path"]) for h in hits)
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)

    target = hits[2]["path"]
    by_image = json.loads(pixseek("search", "--index", indexed, "--image", target, "-k", "1", "--json").stdout)
    assert by_image[0]["path"] == target and by_image[0]["score"] > 0.9999
    implicit = json.loads(pixseek("search", "--index", indexed, target, "-k", "1", "--json").stdout)
    assert implicit[0]["path"] == target

    status = pixseek("status", "--index", indexed)
    assert status.returncode == 0 and "images:       12" in status.stdout and "consistent:   yes" in status.stdout
    removed = pixseek("remove", "--index", indexed, photo_dir / "trip")
    assert removed.returncode == 0 and "removed" in removed.stdout
    after = json.loads(pixseek("search", "--index", indexed, "x", "-k", "50", "--json").stdout)
    assert len(after) < 12 and all("/trip/" not in h["path"] for h in after)


def test_text_output_and_filters(indexed, photo_dir):
    result = pixseek("search", "--index", indexed, "2:sunset", "1:mountains", "--not", "people",
                     "--in", photo_dir / "home", "-k", "3")
    lines = result.stdout.splitlines()
    assert result.returncode == 0 and len(lines) == 3
    for line in lines:  # score TAB path: paths have spaces ("photo 1.jpg")
        score, path = line.split("\t")
        assert -1.0 <= float(score) <= 1.0 and path.startswith(str(photo_dir / "home")) and os.path.isfile(path)
    none = pixseek("search", "--index", indexed, "x", "--min-score", "0.999")
    assert none.returncode == 0 and none.stdout == ""  # stdout holds results only
    assert notes(none.stderr) == "no results above the minimum score\n"
    quiet = pixseek("search", "--index", indexed, "x", "--min-score", "0.999", "-q")
    assert quiet.returncode == 0 and quiet.stdout == notes(quiet.stderr) == ""


def test_the_query_as_read_is_said_and_a_missing_file_is_not_searched_as_text(indexed, photo_dir, tmp_path):
    """A weight or an image file read from the words is said on stderr; a term that looks like a
    file but names none (a typo) is refused, not searched as text; a time is text, not a weight."""
    photo = next(photo_dir.rglob("*.png"))
    mixed = pixseek("search", "--index", indexed, "2:dog", str(photo), "-k", "2")
    assert mixed.returncode == 0 and len(mixed.stdout.splitlines()) == 2
    assert notes(mixed.stderr) == f"pixseek: note: searching for 2 x 'dog' + image {photo}\n"
    assert notes(pixseek("search", "--index", indexed, "2:dog", "-q").stderr) == ""
    plain = pixseek("search", "--index", indexed, "10:30 meeting", "-k", "2")
    assert plain.returncode == 0 and notes(plain.stderr) == ""  # one text term as typed: nothing to say
    one_line_error(pixseek("search", "--index", indexed, "holliday.jpg", cwd=tmp_path),
                   "query image not found: holliday.jpg")
    one_line_error(pixseek("search", "--index", indexed, "sunset", "~/no such folder/x"), "not found")


def test_query_images_that_are_not_image_files_say_what_they_are(indexed, tmp_path):
    from odd_files import png_bytes

    os.mkfifo(tmp_path / "pipe.jpg")
    damaged = bytearray(png_bytes(3))
    damaged[29] ^= 0xFF  # the IHDR chunk's checksum
    (tmp_path / "damaged.png").write_bytes(bytes(damaged))
    one_line_error(pixseek("search", "--index", indexed, "--image", tmp_path), "is a folder, not an image file")
    one_line_error(pixseek("search", "--index", indexed, "--image", tmp_path / "pipe.jpg"), "not a regular file")
    one_line_error(pixseek("search", "--index", indexed, "--image", "/dev/zero"), "not a regular file")
    one_line_error(pixseek("search", "--index", indexed, "--image", tmp_path / "damaged.png"), "a damaged PNG file")


def test_folders_and_scores_that_make_no_sense_are_errors(indexed, photo_dir, tmp_path):
    one_line_error(pixseek("search", "--index", indexed, "x", "--in", tmp_path / "elsewhere"),
                   "is not in the index", str(photo_dir))
    one_line_error(pixseek("remove", "--index", indexed, tmp_path / "elsewhere"), "is not in the index")
    for bad in ("nan", "inf"):
        one_line_error(pixseek("search", "--index", indexed, "x", "--min-score", bad), "minimum score")
    inside = pixseek("search", "--index", indexed, "x", "--in", photo_dir / "trip", "-k", "50")
    assert inside.returncode == 0 and all("/trip/" in line for line in inside.stdout.splitlines())


@pytest.mark.processes  # several pixseek processes in turn: left to make test
def test_a_failed_first_run_leaves_no_index_behind(pixseek_home, photo_dir, tmp_path):
    index = tmp_path / "index"
    one_line_error(pixseek("index", "--index", index, tmp_path / "missing"), "folder not found")
    one_line_error(pixseek("search", "--index", index, "cat"), "no index at", "pixseek index FOLDER")
    assert pixseek("index", "--dry-run", "--index", index, photo_dir).stdout == "12 new, 0 changed, 0 deleted\n"
    one_line_error(pixseek("status", "--index", index), "no index at")
    assert pixseek("index", "--index", index, photo_dir, env_extra={"PIXSEEK_MODEL": "other"}).returncode == 1
    ok = pixseek("index", "--index", index, photo_dir)  # no model was pinned to it by the failed runs
    assert ok.returncode == 0 and "12 indexed" in ok.stdout


@pytest.mark.processes  # several pixseek processes in turn: left to make test
def test_a_missing_folder_keeps_its_photos_and_is_named(pixseek_home, photo_dir, tmp_path):
    """An unmounted drive: status and search say the folder is missing and what to do, its
    vectors stay, updating the other folders works, and when it is back it is searched again."""
    index, drive = tmp_path / "index", tmp_path / "drive"
    for i in range(5):
        make_photo(drive / f"{i}.jpg", seed=300 + i)
    assert pixseek("index", "--index", index, photo_dir, drive).returncode == 0
    drive.rename(tmp_path / "unmounted")

    status = pixseek("status", "--index", index)
    assert status.returncode == 0 and "images:       17" in status.stdout
    assert f"missing:      {drive} (5 photos kept, not searched; remount it, or `pixseek remove {drive}`)" \
        in status.stdout
    search = pixseek("search", "--index", index, "x", "-k", "50")
    assert len(search.stdout.splitlines()) == 12 and f"{drive} is missing" in search.stderr
    one_line_error(pixseek("search", "--index", index, "x", "--in", drive), "is missing", "kept")
    update = pixseek("index", "--index", index)
    assert update.returncode == 0 and "12 unchanged, 0 removed" in update.stdout and "is missing" in update.stderr

    (tmp_path / "unmounted").rename(drive)
    back = pixseek("search", "--index", index, "x", "-k", "50")
    assert len(back.stdout.splitlines()) == 17 and notes(back.stderr) == ""
    removed = pixseek("remove", "--index", index, drive)
    assert removed.returncode == 0 and "(5 images)" in removed.stdout


def test_a_busy_port_and_a_bad_setting_are_one_line_errors(pixseek_home, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        one_line_error(pixseek("web", "--no-browser", "--port", port), f"port {port}", "--port")
    one_line_error(pixseek("index", "--index", tmp_path / "i", tmp_path, env_extra={"PIXSEEK_BATCH": "many"}),
                   "PIXSEEK_BATCH='many' is not a whole number")


def test_incremental_rerun_and_dry_run(indexed, photo_dir):
    make_photo(photo_dir / "one more.png", seed=50)
    dry = pixseek("index", "--index", indexed, "--dry-run")
    assert dry.stdout.strip() == "1 new, 0 changed, 0 deleted"
    rerun = pixseek("index", "--index", indexed, "-q")
    assert rerun.stdout.startswith("1 indexed, 0 reused, 12 unchanged")


def test_user_errors_are_one_line(pixseek_home, tmp_path, indexed):
    one_line_error(pixseek("index", "--index", tmp_path / "i2", tmp_path / "missing"), "folder not found")
    one_line_error(pixseek("search", "--index", tmp_path / "none", "cat"), "no index at")
    one_line_error(pixseek("search", "--index", indexed, "   "), "empty query")
    one_line_error(pixseek("search", "--index", indexed), "empty query")
    one_line_error(pixseek("search", "--index", indexed, "cat", "-k", "0"), "between 1 and 1000")
    one_line_error(pixseek("search", "--index", indexed, "--image", tmp_path / "nope.jpg"), "not found")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"not really")
    one_line_error(pixseek("search", "--index", indexed, "--image", bad), "cannot use", "not an image")
    one_line_error(pixseek("index", "--index", tmp_path / "i3", tmp_path, env_extra={"PIXSEEK_MODEL": "absent"}),
                   "not installed", "pixseek model install")


def test_non_utf8_names_survive_the_cli(pixseek_home, tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    make_photo(folder / "plain.jpg", seed=1)
    raw = os.fsencode(str(folder)) + b"/caf\xe9.jpg"
    with open(raw, "wb") as handle:
        handle.write((folder / "plain.jpg").read_bytes()[:-1] + b"\xd9")
    assert pixseek("index", "--index", tmp_path / "i", folder).returncode == 0
    result = pixseek("search", "--index", tmp_path / "i", "x", "--json")
    paths = [os.fsencode(h["path"]) for h in json.loads(result.stdout)]
    assert raw in paths
    plain = subprocess.run([sys.executable, "-m", "pixseek.cli", "search", "--index", str(tmp_path / "i"), "x"],
                           capture_output=True, env=os.environ, timeout=60)
    assert plain.returncode == 0 and raw in plain.stdout


@pytest.mark.processes  # several pixseek processes in turn: left to make test
def test_every_way_to_run_the_command_is_the_same_command():
    """The `pixseek` script, `python -m pixseek` and `python -m pixseek.cli` run the one entry point."""
    script = os.path.join(os.path.dirname(sys.executable), "pixseek")
    for command in ([script], [sys.executable, "-m", "pixseek"], [sys.executable, "-m", "pixseek.cli"]):
        done = subprocess.run([*command, "--version"], capture_output=True, text=True, timeout=60)
        assert (done.returncode, done.stdout.strip()) == (0, f"pixseek {__version__}"), command
        wrong = subprocess.run([*command, "search", "--index", ""], capture_output=True, text=True, timeout=60)
        one_line_error(wrong)
