"""Indexing a million files: the scan, the diff against the catalog and the commits must not be
the bottleneck. Uses the 1M dataset (real empty .jpg files, a real 1M-row catalog); commits go
to a scratch catalog in a temporary folder that is removed afterwards.

Measured: scanning 1M files; planning against the full catalog (nothing changed: the daily
re-index) and against an empty one (everything new); committing rows in the indexer's batches
of 32; and a whole `Library.index` that finds nothing to do.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time

import numpy as np

from benchmarks import datasets
from benchmarks.common import CACHE, MODEL, emit, peak_rss_mib, run_child, save, table

BATCH = 32


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def child(size: int, commits: int) -> None:
    from pixseek.files import scan
    from pixseek.indexer import make_plan
    from pixseek.library import Library
    from pixseek.metadata import PhotoMetadata
    from pixseek.signals import Description
    from pixseek.store.catalog import Catalog, NewFile

    folder = datasets.dataset_dir(size)
    roots = [str(folder / "files")]
    result = {"files": size}
    entries, result["scan_s"] = _timed(lambda: list(scan(roots)))
    library = Library.open(folder / "index", model=MODEL)
    plan, result["plan_unchanged_s"] = _timed(lambda: make_plan(library._index.catalog, roots))
    assert plan.unchanged == size, plan.summary()
    del plan
    report, result["noop_index_s"] = _timed(lambda: library.index(roots))
    assert report.indexed == 0 and report.unchanged == size
    library.close()
    scratch = tempfile.mkdtemp(dir=CACHE)
    try:
        catalog = Catalog.open(scratch, create=True, model_id="bench/scale", dim=datasets.DIM)
        plan, result["plan_all_new_s"] = _timed(lambda: make_plan(catalog, roots))
        assert len(plan.candidates) == size
        del plan
        vectors = np.random.default_rng(0).normal(size=(BATCH, datasets.DIM)).astype(np.float32)
        start = time.perf_counter()
        for b in range(commits):
            batch = entries[b * BATCH:(b + 1) * BATCH]
            catalog.commit_batch(added=[NewFile(e.path, e.size, e.mtime_ns, i.to_bytes(16, "little"), 640, 480,
                                                {"clip": v, "metadata": Description(
                                                    PhotoMetadata(e.mtime_ns / 1e9, 0, "file", 640, 480))})
                                        for i, (e, v) in enumerate(zip(batch, vectors), start=b * BATCH)])
        result["commit_rows_per_s"] = commits * BATCH / (time.perf_counter() - start)
        result["commit_ms_per_batch"] = (time.perf_counter() - start) / commits * 1000
        catalog.close()
    finally:
        shutil.rmtree(scratch)
    result["peak_rss_mib_before_exit"] = peak_rss_mib()
    emit(result)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k files instead of 1M")
    args = parser.parse_args(argv)
    size, commits = (100_000, 500) if args.quick else (1_000_000, 2000)
    run_child(["benchmarks.datasets", "child", str(size)])
    r = run_child(["benchmarks.scale", "child", str(size), str(commits)])
    rows = [["scan (find and stat every file)", r["scan_s"], size / r["scan_s"]],
            ["plan against the full catalog (nothing changed)", r["plan_unchanged_s"], size / r["plan_unchanged_s"]],
            ["plan against an empty catalog (all new)", r["plan_all_new_s"], size / r["plan_all_new_s"]],
            ["Library.index with nothing to do (scan, plan, save)", r["noop_index_s"], size / r["noop_index_s"]],
            [f"commits, batches of {BATCH} ({r['commit_ms_per_batch']:.1f} ms each)",
             commits * BATCH / r["commit_rows_per_s"], r["commit_rows_per_s"]]]
    text = table(f"{size:,} files: scan, diff, commits (peak RSS {r['peak_rss_mib']:,.0f} MiB)",
                 ["step", "seconds", "files/s"], rows)
    save("scale", {"quick": args.quick, **r}, text)
    return r


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
