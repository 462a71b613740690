"""A damaged, missing, foreign or locked file of the index: detected, repaired or rebuilt from
what remains, with a message that says what happened; never a traceback, never silently wrong
results. Each damage is applied to a copy of a clean index, then the CLI is run on it as a
person would: search, status, index; the final state must equal the clean one."""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from conftest import make_photo
from pixseek.store.catalog import CATALOG_NAME, Catalog, NewFile
from pixseek.store.repair import repair_catalog
from reliability_kit import (QUERY, assert_clean_failure, assert_true_scores, cli, index_state, indexed,
                             max_cosine_gap, module_home, record, search_everything)

TOLERANCE = 1e-5  # 1 - cosine; see docs/reliability.md on batch-dependent rounding
FIGURES: dict[str, dict] = {}


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_bundle_dir):
    """40 photos, a clean index of them, its state, a text query's vector, the CLI's env."""
    base = tmp_path_factory.mktemp("storage")
    with module_home(base, tiny_bundle_dir) as env:
        for i in range(40):
            make_photo(base / "photos" / f"{i:02d}.jpg", seed=i)
            make_photo(base / "others" / f"{i:02d}.jpg", seed=100 + i)  # same size, same generation
        indexed(base / "foreign", [base / "others"])
        yield base, *indexed(base / "clean", [base / "photos"]), env


def vector_file(index: Path) -> Path:
    (found,) = index.glob("vectors-*.faiss")
    return found


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)


def damage_pages(path: Path) -> None:
    """Random bytes (seeded) over the first page of the two tables every search reads (files,
    vectors) and over one more page past the header. Pages picked at random alone may all land
    in tables a search never reads (the words signal's, while they are empty)."""
    rng = random.Random(7)
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        roots = [root for (root,) in db.execute("SELECT rootpage FROM sqlite_master WHERE name IN ('files', 'vectors')")]
    pages = path.stat().st_size // page_size
    assert len(roots) == 2 and pages > 2
    for page in {*(root - 1 for root in roots), rng.randrange(1, pages)}:  # rootpage counts from 1
        overwrite(path, page * page_size, rng.randbytes(page_size))


def foreign_vectors(index: Path, base: Path) -> None:
    """Another index's vector file under this one's name (a restore from the wrong backup)."""
    shutil.copy(vector_file(base / "foreign"), vector_file(index))


CATALOG_DAMAGE = {
    "catalog truncated to half": lambda p, b: os.truncate(p / CATALOG_NAME, (p / CATALOG_NAME).stat().st_size // 2),
    "catalog header overwritten": lambda p, b: overwrite(p / CATALOG_NAME, 0, b"\x00garbage" * 12),
    "catalog pages overwritten": lambda p, b: damage_pages(p / CATALOG_NAME),
    "catalog empty (killed while creating)": lambda p, b: (os.truncate(p / CATALOG_NAME, 0), vector_file(p).unlink()),
    "catalog deleted, vector file kept": lambda p, b: (p / CATALOG_NAME).unlink(),
}
VECTOR_DAMAGE = {
    "vector file truncated": lambda p, b: os.truncate(vector_file(p), vector_file(p).stat().st_size // 2),
    "vector file garbage": lambda p, b: vector_file(p).write_bytes(random.Random(3).randbytes(5000)),
    "vector file empty": lambda p, b: os.truncate(vector_file(p), 0),
    "vector file deleted": lambda p, b: vector_file(p).unlink(),
    "vector file from another index": foreign_vectors,
    "vector file newer than the catalog": lambda p, b: vector_file(p).rename(p / "vectors-000000009999.faiss"),
    "write lock file deleted": lambda p, b: (p / "write.lock").unlink(),
}


def damaged_copy(base: Path, name: str, damage) -> Path:
    index = base / name.replace(" ", "-").replace(",", "")
    shutil.copytree(base / "clean", index)
    damage(index, base)
    return index


def assert_correct_search(result: subprocess.CompletedProcess, reference: dict, query: np.ndarray) -> None:
    """Every photo of the index, each with its true score."""
    assert result.returncode == 0, result.stderr
    assert assert_true_scores(result.stdout, reference, query) == len(reference)


@pytest.mark.parametrize("name", sorted(CATALOG_DAMAGE))
def test_damaged_or_missing_catalog_is_reported_then_repaired(world, name):
    base, reference, query, env = world
    index = damaged_copy(base, name, CATALOG_DAMAGE[name])
    search = search_everything(index, env)
    if search.returncode == 0:
        assert_correct_search(search, reference, query)  # what still reads must be right
    else:
        assert_clean_failure(search)
        assert any(word in search.stderr for word in ("damaged", "lost its catalog", "no index"))
    status = cli("status", "--index", index, env=env)
    assert "Traceback" not in status.stderr, status.stderr

    repaired = cli("index", "-q", "--index", index, base / "photos", env=env)
    assert repaired.returncode == 0 and "Traceback" not in repaired.stderr, repaired.stderr
    if "deleted" not in name and "empty" not in name:
        assert "pixseek: note: the catalog was damaged" in repaired.stderr
        assert list(index.glob(f"{CATALOG_NAME}.damaged-*")), "the damaged catalog must be kept"
    if "vector file kept" in name:
        assert "dropped 1 vector file(s)" in repaired.stderr
    kept = int(repaired.stdout.split(" unchanged")[0].rsplit(" ", 1)[-1])  # rows the repair salvaged
    assert f"{kept} images" in repaired.stderr or kept == 0
    assert max_cosine_gap(index_state(index), reference) < TOLERANCE
    FIGURES[name] = {"search_exit": search.returncode, "search_message": search.stderr.strip()[:300],
                     "index_note": repaired.stderr.strip()[:400], "recovered": repaired.stdout.strip()}


def test_a_search_refused_on_a_damaged_catalog_exits_cleanly_every_time(world):
    """The refusal races the text tower loading in the background: before the fix, 24 of 40
    runs were aborted by ONNX Runtime's C++ runtime (exit -6) after printing the error."""
    base, _, _, env = world
    index = damaged_copy(base, "pages overwritten, searched repeatedly", CATALOG_DAMAGE["catalog pages overwritten"])
    for _ in range(8):
        assert_clean_failure(search_everything(index, env), "damaged")


@pytest.mark.parametrize("name", sorted(VECTOR_DAMAGE))
def test_damaged_vector_file_is_rebuilt_from_the_catalog(world, name):
    base, reference, query, env = world
    index = damaged_copy(base, name, VECTOR_DAMAGE[name])
    search = search_everything(index, env)
    assert_correct_search(search, reference, query)
    status = cli("status", "--index", index, env=env)
    assert status.returncode == 0 and "consistent:   yes" in status.stdout, status.stdout + status.stderr
    again = cli("index", "-q", "--index", index, base / "photos", env=env)
    assert again.returncode == 0 and "0 indexed" in again.stdout, again.stdout + again.stderr
    assert max_cosine_gap(index_state(index), reference) < TOLERANCE
    if "deleted" not in name and "lock" not in name:
        assert "pixseek: note: " in search.stderr  # says what it rebuilt, and why
    FIGURES[name] = {"search_exit": 0, "notes": search.stderr.strip()[:300]}


def test_repair_salvages_every_readable_row_and_only_sound_ones(tmp_path):
    """3000 rows, two pages of the file overwritten: the rows SQLite can still read come back
    exactly, with their vectors; nothing else does."""
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    original = {}
    catalog = Catalog.open(tmp_path, create=True, model_id="m", dim=32)
    for start in range(0, 3000, 500):
        batch = [NewFile(f"/photos/{i:05d}.jpg", i, i, i.to_bytes(16, "big"), 64, 48, {"clip": vectors[i]})
                 for i in range(start, start + 500)]
        catalog.commit_batch(added=batch)
        original.update({item.path: item.values["clip"] for item in batch})
    catalog.add_roots(["/photos"])
    catalog.close()
    (tmp_path / "vectors-000000000006.faiss").write_bytes(b"stale")
    path = tmp_path / CATALOG_NAME
    rng = random.Random(11)
    pages = path.stat().st_size // 4096
    for page in rng.sample(range(pages // 3, 2 * pages // 3), 2):
        overwrite(path, page * 4096 + 100, rng.randbytes(2000))

    message = repair_catalog(tmp_path, "test damage", "m", 32)

    repaired = Catalog.open(tmp_path, create=False)
    assert repaired.check() == []
    records = list(repaired.files_under(["/photos"]))
    salvaged = dict(zip((r.path for r in records), repaired.vectors_for([r.id for r in records])))
    assert 2400 <= len(salvaged) < 3000, len(salvaged)
    assert all(np.array_equal(vector, original[p]) for p, vector in salvaged.items())
    assert repaired.roots() == ["/photos"] and repaired.model_id == "m"
    assert f"{len(salvaged)} images, 1 folders" in message
    assert not list(tmp_path.glob("vectors-*.faiss")) and list(tmp_path.glob(f"{CATALOG_NAME}.damaged-*"))
    FIGURES["salvage of a catalog with two damaged pages"] = {"rows": 3000, "salvaged": len(salvaged)}


LOCK_HOLDER = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("PRAGMA locking_mode = EXCLUSIVE")
db.execute("BEGIN EXCLUSIVE")
db.execute("INSERT OR REPLACE INTO meta VALUES ('held', 'yes')")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("ROLLBACK")
"""


def hold_lock(index: Path, seconds: float) -> subprocess.Popen:
    """Another program (a backup tool, the sqlite3 shell) holding an exclusive lock on the catalog."""
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(index / CATALOG_NAME), str(seconds)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_locked_catalog_is_a_clear_message_and_a_brief_lock_is_waited_for(world):
    base, reference, query, env = world
    index = damaged_copy(base, "locked", lambda p, b: None)
    env = {**env, "PIXSEEK_BUSY_TIMEOUT": "1"}
    holder = hold_lock(index, 60)
    try:
        refused = {command: cli(command, "--index", index, *args, env=env) for command, args in
                   (("search", [QUERY]), ("status", []), ("index", ["-q", base / "photos"]))}
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    for result in refused.values():
        assert_clean_failure(result, "in use by another program")

    holder = hold_lock(index, 1.5)
    started = time.monotonic()
    waited = search_everything(index, {**env, "PIXSEEK_BUSY_TIMEOUT": "20"})
    holder.wait()
    assert_correct_search(waited, reference, query)
    FIGURES["catalog locked by another program"] = {
        "message": refused["search"].stderr.strip(), "brief_lock_waited_s": round(time.monotonic() - started, 2)}


@pytest.fixture(scope="module", autouse=True)
def _write_figures():
    yield
    record("storage", FIGURES)
