"""The command line against a hostile user: folders around indexed ones, empty paths, names with
newlines, files for folders, scores no cosine reaches. Real subprocesses, one-line errors."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

from conftest import make_photo
from test_cli import one_line_error, pixseek

pytestmark = pytest.mark.processes  # every test runs pixseek processes


@pytest.fixture
def indexed(pixseek_home, tmp_path):
    photos = tmp_path / "x" / "photos"
    for i in range(3):
        make_photo(photos / f"p{i}.jpg", seed=i)
    make_photo(photos / "two\nlines.jpg", seed=7)
    make_photo(tmp_path / "x" / "more" / "m.jpg", seed=8)
    index = tmp_path / "index"
    done = pixseek("index", "--index", index, photos, tmp_path / "x" / "more")
    assert done.returncode == 0, done.stderr
    return index


def test_remove_of_a_folder_around_indexed_ones_is_refused_with_the_command(indexed, tmp_path):
    refused = pixseek("remove", "--index", indexed, tmp_path)
    one_line_error(refused, "not an indexed folder", str(tmp_path / "x" / "photos"), str(tmp_path / "x" / "more"))
    command = refused.stderr.split("`")[1]
    assert shlex.split(command)[:2] == ["pixseek", "remove"]
    assert pixseek("status", "--index", indexed).stdout.count("images:       5") == 1
    done = pixseek(*shlex.split(command)[1:], "--index", indexed)  # the command it gave works as given
    assert done.returncode == 0 and "(4 images)" in done.stdout and "(1 image)" in done.stdout


@pytest.mark.parametrize("args", [
    ["index", "--index", "{index}", ""],
    ["index", "--index", "", "{photos}"],
    ["search", "--index", "{index}", "x", "--in", ""],
    ["duplicates", "--index", "{index}", "--in", ""],
    ["remove", "--index", "{index}", ""],
    ["watch", "--index", "{index}", ""],
    ["serve", "--index", "{index}", ""],
])
def test_an_empty_path_is_an_error_not_the_current_folder(indexed, tmp_path, args):
    args = [a.format(index=indexed, photos=tmp_path / "x" / "photos") for a in args]
    one_line_error(pixseek(*args, cwd=tmp_path / "x" / "photos"), "empty")


def test_a_file_given_for_a_folder_is_called_a_file(indexed, tmp_path):
    one_line_error(pixseek("index", "--index", indexed, tmp_path / "x" / "photos" / "p0.jpg"), "is a file, not a folder")


@pytest.mark.parametrize("score", ["5", "-1.5", "nan", "inf"])
def test_a_minimum_score_outside_cosines_is_refused(indexed, score):
    one_line_error(pixseek("search", "--index", indexed, "x", "--min-score", score), "from -1 to 1")


def test_null_separated_results_keep_names_with_newlines(indexed, tmp_path):
    paths = pixseek("search", "--index", indexed, "x", "-k", "10", "-f", "-z")
    found = paths.stdout.split("\0")
    assert found[-1] == "" and str(tmp_path / "x" / "photos" / "two\nlines.jpg") in found[:-1] and len(found) == 6
    scored = pixseek("search", "--index", indexed, "x", "-k", "10", "--null").stdout.split("\0")[:-1]
    assert all(float(line.split("\t", 1)[0]) <= 1 for line in scored) and len(scored) == 5
    # A negative minimum score is a number, not an option, next to the short option.
    low = pixseek("search", "--index", indexed, "x", "-k", "10", "-z", "--min-score", "-0.5")
    assert low.returncode == 0 and low.stdout.split("\0")[:-1] == scored, low.stderr
    copied = tmp_path / "copied"
    copied.mkdir()
    # The README's example, as written there.
    xargs = subprocess.run(f"{shlex.quote(sys.executable)} -m pixseek.cli search --index {shlex.quote(str(indexed))} x "
                           f"-k 10 -f -z | xargs -0 cp -t {shlex.quote(str(copied))}", shell=True, capture_output=True,
                           text=True, timeout=120)
    assert xargs.returncode == 0, xargs.stderr
    assert sorted(p.name for p in copied.iterdir()) == ["m.jpg", "p0.jpg", "p1.jpg", "p2.jpg", "two\nlines.jpg"]


def test_a_random_stand_in_is_named_as_such_by_every_command(indexed, pixseek_home):
    warning = "has random weights, a stand-in for testing: its results are meaningless"
    assert warning in pixseek("search", "--index", indexed, "x", "-q").stderr
    assert warning in pixseek("status", "--index", indexed).stdout
    assert warning in pixseek("model", "list").stdout
    # The test model is installed as tiny-test; a stand-in installed under a catalogue name is not that model.
    (pixseek_home / "models" / "tiny-test").rename(pixseek_home / "models" / "clip-vit-b-32")
    available = pixseek("model", "list", "--available", "--json")
    assert not next(e for e in json.loads(available.stdout) if e["name"] == "clip-vit-b-32")["installed"]
