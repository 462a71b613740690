"""A long-lived process (the web app, the desktop app) opens, indexes, searches and closes
libraries many times: file descriptors, threads and memory must come back to where they were.

The cycles run in a process of their own, as such an app would: a test worker that has run
other test files first holds their models, pools and caches, whose own growth is not this
process's (in a full run one grew by 72-84 MB over the 30 cycles; alone, the same cycles stay
well under the bound)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reliability_kit import record

CYCLES = 30
TESTS = Path(__file__).parent

CHILD = """
import gc, json, os, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from conftest import make_photo
from pixseek.library import Library

index, photos, cycles = sys.argv[2], sys.argv[3], int(sys.argv[4])


def resources():
    gc.collect()
    with open("/proc/self/status") as status:
        rss_kib = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return {"fds": len(os.listdir("/proc/self/fd")), "threads": len(os.listdir("/proc/self/task")), "rss_kib": rss_kib}


def cycle(i):
    make_photo(Path(photos) / f"added {i}.jpg", seed=1000 + i)  # every cycle has something to embed
    with Library.open(index, create=True) as library:
        library.index([photos])
        assert library.search("a dog", k=5)
        assert library.status().consistent
        library.thumbnail(library.search("a cat", k=1)[0].path, 128)


for i in range(3):  # warm up: lazy imports, ONNX Runtime's and FAISS's process-wide pools
    cycle(i)
before = resources()
for i in range(3, 3 + cycles):
    cycle(i)
print(json.dumps({"before": before, "after": resources()}))
"""

pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


def test_open_index_search_close_many_times_leaks_nothing(pixseek_home, photo_dir, tmp_path):
    ran = subprocess.run([sys.executable, "-c", CHILD, str(TESTS), str(tmp_path / "index"), str(photo_dir), str(CYCLES)],
                         capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert ran.returncode == 0, ran.stderr
    figures = json.loads(ran.stdout.strip().splitlines()[-1])
    before, after = figures["before"], figures["after"]
    assert after["fds"] <= before["fds"], (before, after)
    assert after["threads"] <= before["threads"], (before, after)
    assert after["rss_kib"] - before["rss_kib"] < 40 * 1024, (before, after)
    record("leaks", {"cycles": CYCLES, "before": before, "after": after})
