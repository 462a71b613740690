"""A long-lived process (the web app, the desktop app) opens, indexes, searches and closes
libraries many times: file descriptors, threads and memory must come back to where they were."""

from __future__ import annotations

import gc
import os

import pytest

from conftest import make_photo
from pixseek.library import Library
from reliability_kit import record

CYCLES = 30


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


def resources() -> dict[str, int]:
    gc.collect()
    with open("/proc/self/status") as status:
        # anonymous memory only: the pages of files it maps (the catalog it grows, the models) are
        # the page cache's, and a test worker that has run other files maps many (+84 MB once)
        rss_kib = next(int(line.split()[1]) for line in status if line.startswith("RssAnon:"))
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": len(os.listdir("/proc/self/task")), "rss_kib": rss_kib}


def cycle(index, photos, i: int) -> None:
    make_photo(photos / f"added {i}.jpg", seed=1000 + i)  # every cycle has something to embed
    with Library.open(index, create=True) as library:
        library.index([photos])
        assert library.search("a dog", k=5)
        assert library.status().consistent
        library.thumbnail(library.search("a cat", k=1)[0].path, 128)


def test_open_index_search_close_many_times_leaks_nothing(pixseek_home, photo_dir, tmp_path):
    index = tmp_path / "index"
    for i in range(3):  # warm up: lazy imports, ONNX Runtime's and FAISS's process-wide pools
        cycle(index, photo_dir, i)
    before = resources()
    for i in range(3, 3 + CYCLES):
        cycle(index, photo_dir, i)
    after = resources()
    assert after["fds"] <= before["fds"], (before, after)
    assert after["threads"] <= before["threads"], (before, after)
    assert after["rss_kib"] - before["rss_kib"] < 40 * 1024, (before, after)
    record("leaks", {"cycles": CYCLES, "before": before, "after": after})
