"""Concurrency: searches from other processes while an index run commits, and two indexers on
one index. Readers always see a committed state (never a half batch, never an error); the
second writer is refused with a clear message; nothing is ever corrupted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, make_photo
from reliability_kit import assert_clean_failure, cli, index_state, max_cosine_gap, record

PHOTOS = 300
RUN_ENV = {"PIXSEEK_BATCH": "8", "PIXSEEK_DECODE_WORKERS": "1", "PIXSEEK_THREADS": "1"}
TOLERANCE = 1e-5


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


@pytest.fixture
def photos(tmp_path) -> Path:
    folder = tmp_path / "photos"
    for i in range(PHOTOS):
        make_photo(folder / f"{i:03d}.jpg", seed=i, size=(480, 360))
    return folder


def start_indexer(index: Path, photos: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pixseek.cli", "index", "-q", "--index", str(index), str(photos)],
                            env={**os.environ, **RUN_ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def searcher(index: str, stop: str) -> None:
    """A long-lived reader (as the web app is): searches for everything until told to stop.
    Each search must return every file committed before it and none beyond what is committed
    after it, each with the cosine of its stored vector. Prints one JSON summary."""
    from pixseek.library import Library
    from pixseek.engine.query import parse_query

    latencies, errors, sizes = [], [], set()
    library = None
    while not os.path.exists(stop):
        try:
            library = library or Library.open(index)
            before = library._index.catalog.count()
            started = time.perf_counter()
            results = library.search(parse_query(["a photo of a dog"]), k=1000)
            latencies.append(time.perf_counter() - started)
            after = library._index.catalog.count()
            query = library.query_vector(parse_query(["a photo of a dog"]))
            stored = library._index.catalog.vectors_for([r.id for r in results])
            if not before <= len(results) <= after:
                errors.append(f"{len(results)} results outside committed counts {before}..{after}")
            elif results and not np.allclose([r.score for r in results], stored @ query, atol=1e-4):
                errors.append("a score is not the cosine of the stored vector")
            sizes.add(len(results))
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            if library is None:
                time.sleep(0.05)  # the index does not exist yet: an expected refusal
    print(json.dumps({"searches": len(latencies), "errors": errors, "states": sorted(sizes),
                      "latencies_ms": sorted(round(1000 * t, 2) for t in latencies)}))


def start_searcher(index: Path, stop: Path) -> subprocess.Popen:
    code = (f"import sys; sys.path[:0] = [{str(ROOT / 'tests')!r}]; import test_reliability_concurrency as t; "
            f"t.searcher({str(index)!r}, {str(stop)!r})")
    return subprocess.Popen([sys.executable, "-c", code], env={**os.environ, "PIXSEEK_THREADS": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_searches_from_other_processes_see_only_committed_states(pixseek_home, photos, tmp_path):
    index, stop = tmp_path / "index", tmp_path / "stop"
    readers = [start_searcher(index, stop) for _ in range(2)]
    time.sleep(1.0)
    started = time.monotonic()
    indexer = start_indexer(index, photos)
    cold, cold_errors = [], []
    while indexer.poll() is None:
        result = cli("search", "--index", index, "--json", "-k", 1000, "a red car")
        if result.returncode == 0:
            cold.append(len(json.loads(result.stdout)))
        elif "no index at" not in result.stderr:  # before the first commit there is no index yet
            cold_errors.append(result.stderr.strip())
    index_seconds = time.monotonic() - started
    assert indexer.returncode == 0, indexer.stderr.read()
    time.sleep(0.5)
    stop.touch()
    summaries = [json.loads(reader.communicate(timeout=60)[0]) for reader in readers]
    refusals = ("IndexNotFound",)
    errors = [e for s in summaries for e in s["errors"] if not e.startswith(refusals)] + cold_errors
    assert not errors, errors[:5]
    latencies = sorted(t for s in summaries for t in s["latencies_ms"])
    searches = sum(s["searches"] for s in summaries)
    states = set().union(*(s["states"] for s in summaries))
    assert searches >= 50 and len(states) >= 10, states  # readers saw the index grow, batch by batch
    assert cold and cold == sorted(cold)
    assert len(index_state(index)) == PHOTOS
    record("concurrent-search", {"photos": PHOTOS, "index_run_s": round(index_seconds, 1),
                                 "reader_processes": len(readers), "searches_in_readers": searches,
                                 "cold_cli_searches": len(cold), "errors": 0,
                                 "distinct_committed_states_seen": len(states),
                                 "latency_ms": {"p50": latencies[len(latencies) // 2],
                                                "p95": latencies[int(len(latencies) * 0.95)],
                                                "max": latencies[-1]}})


def test_a_second_indexer_is_refused_and_nothing_is_corrupted(pixseek_home, photos, tmp_path):
    clean = tmp_path / "clean"
    assert cli("index", "-q", "--index", clean, photos, env=RUN_ENV).returncode == 0
    reference = index_state(clean)
    outcomes = []
    for attempt in range(4):
        index = tmp_path / f"shared-{attempt}"
        first = start_indexer(index, photos)
        if attempt % 2:  # the second one while the first is well into its run
            while not (index / "catalog.sqlite3").exists() and first.poll() is None:
                time.sleep(0.01)
            time.sleep(0.5)
        second = start_indexer(index, photos)  # else: both at once, racing to create the index
        results = [p.communicate(timeout=300) + (p.returncode,) for p in (first, second)]
        codes = [code for _, _, code in results]
        assert sorted(codes) == [0, 1], results  # one indexes, the other is refused (both 0 passed before)
        for stdout, stderr, code in results:
            if code == 1:
                assert_clean_failure(subprocess.CompletedProcess([], code, stdout, stderr),
                                     "another pixseek process is updating the index")
        again = cli("index", "-q", "--index", index, photos, env=RUN_ENV)
        assert again.returncode == 0 and f"{PHOTOS} unchanged" in again.stdout, again.stdout + again.stderr
        assert max_cosine_gap(index_state(index), reference) < TOLERANCE
        outcomes.append({"start": "during the first's run" if attempt % 2 else "at the same moment",
                         "exit_codes": codes})
    record("two-indexers", {"photos": PHOTOS, "attempts": outcomes})
