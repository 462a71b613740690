"""SIGKILL the indexer at random moments, over and over: after every kill the index opens and
passes its consistency check, holds only correct vectors, and the run that finally completes
embeds only what was not saved and leaves exactly the state of a clean run, with no debris in
the index folder.

Real photos (../shared/data/photos) when present, generated ones otherwise. The kill moments
are drawn uniformly over a clean run's duration (start-up, planning, decoding, commits and the
vector file save all get hit); PIXSEEK_KILL_SEED picks another draw.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import SHARED_PHOTOS, make_photo
from pixseek.files import BASE_EXTENSIONS
from reliability_kit import index_state, max_cosine_gap, record

KILLS = 20
PHOTOS = 240
TOLERANCE = 1e-5  # 1 - cosine between a vector embedded in one batch and in another
RUN_ENV = {"PIXSEEK_BATCH": "8", "PIXSEEK_DECODE_WORKERS": "2", "PIXSEEK_THREADS": "1"}
INDEX_FILES = {"catalog.sqlite3", "catalog.sqlite3-wal", "catalog.sqlite3-shm", "write.lock"}


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


def committed_rows(index_dir: Path) -> int:
    try:
        with sqlite3.connect(f"file:{index_dir / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=5) as db:
            return db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    except sqlite3.Error:
        return 0


def photo_folder(tmp_path: Path) -> tuple[Path, str]:
    """PHOTOS real photos copied into one folder (a link out of it would not be followed), or
    generated camera-like ones."""
    folder = tmp_path / "photos"
    folder.mkdir()
    real = sorted(p for p in SHARED_PHOTOS.rglob("*") if p.suffix.lower() in BASE_EXTENSIONS) \
        if SHARED_PHOTOS.is_dir() else []
    if len(real) >= PHOTOS:
        step = len(real) // PHOTOS
        for i, source in enumerate(real[::step][:PHOTOS]):
            shutil.copyfile(source, folder / f"{i:03d}{source.suffix}")
        return folder, f"{PHOTOS} real photos from {SHARED_PHOTOS.name}/"
    for i in range(PHOTOS):
        make_photo(folder / f"{i:03d}.jpg", seed=i, size=(640, 480))
    return folder, f"{PHOTOS} generated 640x480 photos"


def start_indexer(index_dir: Path, photos: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pixseek.cli", "index", "-q", "--index", str(index_dir), str(photos)],
                            env={**os.environ, **RUN_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_moment(process: subprocess.Popen, index_dir: Path, rng: random.Random, run_seconds: float) -> str:
    """Wait for a random moment of the run; returns how it was drawn. Every fourth kill falls
    anywhere in a clean run's duration (start-up, planning, the vector file save); the others a
    few batches past what is committed, plus up to a batch's time (mid-batch, mid-commit)."""
    if rng.random() < 0.25:
        try:
            process.wait(timeout=rng.uniform(0.0, run_seconds))
        except subprocess.TimeoutExpired:
            pass
        return "any time"
    target = committed_rows(index_dir) + rng.randint(1, 40)
    while process.poll() is None and committed_rows(index_dir) < target:
        time.sleep(0.005)
    time.sleep(rng.uniform(0.0, 0.05))
    return "mid-run"


def test_twenty_sigkills_at_random_moments_then_the_run_completes_as_a_clean_one(pixseek_home, tmp_path):
    photos, source = photo_folder(tmp_path)
    started = time.monotonic()
    clean = start_indexer(tmp_path / "clean", photos)
    assert clean.wait(timeout=300) == 0, clean.stderr.read()
    run_seconds = time.monotonic() - started
    reference = index_state(tmp_path / "clean")
    assert len(reference) == PHOTOS

    seed = int(os.environ.get("PIXSEEK_KILL_SEED", 7))
    rng = random.Random(seed)
    killed_index = tmp_path / "killed"
    kills, completed_runs, gaps = [], 0, [0.0]
    deadline = time.monotonic() + 240
    while True:
        assert time.monotonic() < deadline, f"only {len(kills)} kills in the time allowed"
        before = committed_rows(killed_index)
        process = start_indexer(killed_index, photos)
        if len(kills) < KILLS:
            how = kill_moment(process, killed_index, rng, run_seconds)
        if len(kills) < KILLS and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            kills.append({"drawn": how, "rows_committed": committed_rows(killed_index)})
            if (killed_index / "catalog.sqlite3").exists():
                partial = index_state(killed_index)  # opens, and its status says consistent
                assert set(partial) <= set(reference)
                gaps.append(max((1 - float(np.dot(v, reference[p])) for p, v in partial.items()), default=0.0))
                assert gaps[-1] < TOLERANCE
            continue
        assert process.wait(timeout=300) == 0, process.stderr.read()
        summary = process.stdout.read()  # a run after a kill embeds only what the killed one had not saved
        assert summary.startswith(f"{PHOTOS - before} indexed, 0 reused, {before} unchanged"), (before, summary)
        completed_runs += 1
        gaps.append(max_cosine_gap(index_state(killed_index), reference))
        assert gaps[-1] < TOLERANCE
        debris = sorted(p.name for p in killed_index.iterdir() if p.name not in INDEX_FILES)
        assert len([d for d in debris if d.startswith("vectors-") and d.endswith(".faiss")]) == 1, debris
        assert all(d.startswith("vectors-") and d.endswith(".faiss") for d in debris), f"left behind: {debris}"
        if len(kills) >= KILLS:
            break
        shutil.rmtree(killed_index)  # a fresh round: more kills in the middle of a full run

    record("kill", {"photos": source, "kills": len(kills), "seed": seed, "completed_runs_checked": completed_runs,
                    "clean_run_s": round(run_seconds, 2), "max_1_minus_cosine_vs_clean": max(gaps),
                    "kills_drawn_any_time": sum(k["drawn"] == "any time" for k in kills),
                    "rows_committed_at_each_kill": [k["rows_committed"] for k in kills],
                    "total_s": round(time.monotonic() - started, 1)})


def test_what_a_save_killed_part_way_leaves_is_removed_by_the_next_run(pixseek_home, photo_dir, tmp_path):
    """A SIGKILL while the vector file is written leaves its temp file (big for a big index)."""
    from pixseek.library import Library

    with Library.open(tmp_path / "index", create=True) as library:
        library.index([photo_dir])
        (tmp_path / "index" / ".vectors-k1lled.tmp").write_bytes(b"\0" * 4096)
        make_photo(photo_dir / "one more.jpg", seed=77)
        library.index([photo_dir])
    assert not list((tmp_path / "index").glob(".vectors-*.tmp"))
