"""`pixseek mcp`'s search tool by the words written in a photo (`says`): a real server process
driven by the MCP SDK's stdio client, over an index whose text rows are real SQLite rows."""

from __future__ import annotations

import pytest

from pixseek.cli import main
from test_mcp import call, calls, data, error
from text_rows import write_text

pytestmark = [pytest.mark.processes, pytest.mark.timeout(180)]


def test_says_finds_the_photo_and_returns_the_lines_matched(pixseek_home, photo_dir, tmp_path):
    index = tmp_path / "index"
    assert main(["index", str(photo_dir), "--index", str(index), "-q"]) == 0
    write_text(index, {photo_dir / "trip" / "photo 3.png": ["Receipt No. 4471", "Total 12.50 EUR"]})
    alone, with_text, nothing, empty = call(index, calls(
        ("search", {"says": "receipt 4471"}), ("search", {"says": "total", "text": "a car", "k": 3}),
        ("search", {"says": "zeppelin"}), ("search", {"says": "   "})))
    found = data(alone)
    assert [r["name"] for r in found["results"]] == ["photo 3.png"]
    assert [line["text"] for line in found["results"][0]["text"]] == ["Receipt No. 4471"]
    assert "says 'receipt 4471'" in found["query"]
    assert [r["name"] for r in data(with_text)["results"]] == ["photo 3.png"]
    assert data(nothing)["results"] == []
    assert "no words to find" in error(empty)
