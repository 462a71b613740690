"""Crash safety: SIGKILL the indexer mid-run; the index opens, is consistent, and the next run
finishes with exactly the state a clean run gives."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np

from conftest import make_photo
from pixseek.library import Library


def index_state(index_dir) -> dict[str, bytes]:
    with Library.open(index_dir) as library:
        assert library.status().consistent
        records = list(library.catalog.files_under(library.catalog.roots()))
        vectors = library.catalog.vectors_for([r.id for r in records])
        return {r.path: v.tobytes() for r, v in zip(records, vectors)}


def committed_rows(index_dir) -> int:
    try:
        with sqlite3.connect(index_dir / "catalog.sqlite3", timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_mid_run_then_resume_matches_a_clean_run(pixseek_home, tmp_path):
    photos = tmp_path / "photos"
    for i in range(120):
        make_photo(photos / f"{i:03d}.jpg", seed=i, size=(640, 480))
    killed_index = tmp_path / "killed"
    env = dict(os.environ, PIXSEEK_BATCH="8", PIXSEEK_DECODE_WORKERS="1", PIXSEEK_THREADS="1")
    process = subprocess.Popen([sys.executable, "-m", "pixseek.cli", "index", "-q", "--index", str(killed_index),
                                str(photos)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while committed_rows(killed_index) < 16 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.02)
    assert process.poll() is None, "the indexer finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()

    partial = index_state(killed_index)
    assert 16 <= len(partial) < 120
    with Library.open(killed_index) as library:
        report = library.index([photos])
    assert report.indexed == 120 - len(partial) and report.unchanged == len(partial)

    with Library.open(tmp_path / "clean", create=True) as clean:
        clean.index([photos])
    resumed, reference = index_state(killed_index), index_state(tmp_path / "clean")
    assert resumed.keys() == reference.keys()
    for path in reference:
        a = np.frombuffer(resumed[path], dtype=np.float32)
        b = np.frombuffer(reference[path], dtype=np.float32)
        assert float(np.dot(a, b)) > 0.99999, path
