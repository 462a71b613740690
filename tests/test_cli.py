"""The command line as a user runs it: real subprocesses, one-line errors, exit codes, JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import make_photo


def pixseek(*args, env_extra=None, cwd=None):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "pixseek.cli", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120, stdin=subprocess.DEVNULL)


def one_line_error(result, *needles):
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
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
    lines = result.stdout.strip().splitlines()
    assert result.returncode == 0 and len(lines) == 3
    for line in lines:  # score, capture time (here the file's), path
        score, when, path = line.split("  ", 2)
        assert -1.0 <= float(score) <= 1.0 and path.startswith(str(photo_dir / "home"))
        assert when.endswith("(file time)")
    none = pixseek("search", "--index", indexed, "x", "--min-score", "1.5")
    assert none.returncode == 0 and none.stdout == "" and "no results above the minimum score" in none.stderr


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
