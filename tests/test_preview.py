"""`pixseek search --preview`, `-f/--paths-only` and "no results": the escape sequences each
terminal protocol gets are checked on a small thumbnail (a real CLI process, its real output)."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import make_photo, without_stand_in_note
from pixseek.library import Library

CELLS = 24  # preview.WIDTH_CELLS
CELL_PX = (10, 20)  # textual-image's cell size when the output is not a terminal


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


@pytest.fixture
def index(pixseek_home, tmp_path):
    photos = tmp_path / "photos"
    for i in range(3):
        make_photo(photos / f"p{i}.jpg", seed=i, size=(320, 240))
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([photos])
    return tmp_path / "index"


def search(index, *args: str, preview: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PIXSEEK_PREVIEW"}
    if preview:
        env["PIXSEEK_PREVIEW"] = preview
    return subprocess.run([sys.executable, "-m", "pixseek.cli", "search", "--index", str(index), *args],
                          env=env, capture_output=True, timeout=120)


def top(index) -> tuple[str, np.ndarray]:
    """The top result's path for the test query, and its thumbnail at the preview's size."""
    path = json.loads(search(index, "a cat", "-k", "1", "--json").stdout)[0]["path"]
    with Library.open(index) as library:
        thumbnail = Image.open(io.BytesIO(library.thumbnail(path, 256))).convert("RGB")
    width = CELLS * CELL_PX[0]
    return path, np.asarray(thumbnail.resize((width, round(width * 240 / 320))), dtype=float)


def test_kitty_graphics_protocol(index):
    path, expected = top(index)
    out = search(index, "a cat", "-k", "1", "--preview", preview="kitty").stdout.decode()
    messages = re.findall(r"\x1b_G([^;\x1b]*)(?:;([^\x1b]*))?\x1b\\", out)
    transfer = [(dict(kv.split("=") for kv in keys.split(",")), data) for keys, data in messages]
    chunks = [(keys, data) for keys, data in transfer if keys.get("f") == "100"]
    assert chunks and all(keys["m"] == "1" for keys, _ in chunks[:-1]) and chunks[-1][0]["m"] == "0"
    png = Image.open(io.BytesIO(base64.b64decode("".join(data for _, data in chunks))))
    assert png.format == "PNG" and png.size == (expected.shape[1], expected.shape[0])
    assert np.abs(np.asarray(png.convert("RGB"), dtype=float) - expected).mean() < 4  # the photo itself
    placement = [keys for keys, _ in transfer if keys.get("a") == "p"]
    rows = expected.shape[0] // CELL_PX[1]
    assert placement == [{"a": "p", "i": chunks[0][0]["i"], "c": str(CELLS), "r": str(rows), "U": "1", "q": "2"}]
    placeholder_rows = [line for line in out.splitlines() if "\U0010eeee" in line]
    assert len(placeholder_rows) == rows and all(line.count("\U0010eeee") == CELLS for line in placeholder_rows)
    assert out.rstrip().endswith(path)


def test_sixel(index):
    path, expected = top(index)
    out = search(index, "a cat", "-k", "1", "--preview", preview="sixel").stdout.decode()
    body = re.search(r"\x1bP[0-9;]*q(.*?)\x1b\\", out, re.DOTALL).group(1)
    height, width = expected.shape[:2]
    assert body.startswith(f'"1;1;{width};{height}')
    colours = [tuple(int(v) for v in c) for c in re.findall(r"#\d+;2;(\d+);(\d+);(\d+)", body)]
    assert colours and all(0 <= v <= 100 for c in colours for v in c)  # sixel colours are percentages
    assert body.count("-") == -(-height // 6)  # a graphics newline ends each band of six pixel rows
    rows = -(-height // CELL_PX[1])
    assert f"\x1b7\x1b[{rows}A" in out and out.count("\x1b8") == 1  # drawn over its own blank lines
    assert out.rstrip().endswith(path)


def test_coloured_blocks_anywhere_else(index):
    path, expected = top(index)
    out = search(index, "a cat", "-k", "1", "--preview", preview="blocks").stdout.decode()
    rows = [line for line in out.splitlines() if "▀" in line or "▄" in line]
    assert len(rows) == -(-CELLS * expected.shape[0] // expected.shape[1] // 2)
    first = [tuple(int(v) for v in m) for m in re.findall(r"\x1b\[38;2;(\d+);(\d+);(\d+)", rows[0])]
    assert len(first) == CELLS
    small = np.asarray(Image.fromarray(expected.astype(np.uint8)).resize((CELLS, len(rows) * 2)), dtype=float)
    assert np.abs(np.array(first, dtype=float) - small[0]).mean() < 20  # the top row's colours
    assert out.rstrip().endswith(path)


def test_preview_into_a_pipe_without_a_choice_prints_plain_lines(index):
    done = search(index, "a cat", "-k", "2", "--preview")
    assert done.returncode == 0 and b"\x1b" not in done.stdout
    assert len(re.findall(rb"^-?\d\.\d{4}  /", done.stdout, re.MULTILINE)) == 2


def test_unknown_preview_protocol_is_one_line(index):
    done = search(index, "a cat", "--preview", preview="ascii-art")
    assert done.returncode == 1
    assert without_stand_in_note(done.stderr.decode()).strip().splitlines() == [
        "pixseek: error: PIXSEEK_PREVIEW=ascii-art is not a preview protocol; use one of kitty, sixel, blocks"]


def test_paths_only_and_no_results(index):
    expected = [r["path"] for r in json.loads(search(index, "a cat", "-k", "3", "--json").stdout)]
    for flag in ("-f", "--paths-only"):
        done = search(index, "a cat", "-k", "3", flag)
        assert done.returncode == 0 and done.stdout.decode().splitlines() == expected
    nothing = search(index, "a cat", "--min-score", "0.99")
    assert nothing.returncode == 0 and nothing.stdout == b""
    assert without_stand_in_note(nothing.stderr.decode()).strip() == "no results above the minimum score"
