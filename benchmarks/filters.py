"""Filtered text queries at 1M photos (date, camera, place, position, and all at once), end to
end through `Library.search` in a warm process, against the same queries unfiltered; and what
the first filtered search costs (loading every photo's metadata into memory).

The 1M dataset of the query benchmark (datasets.py) gets synthetic metadata once: capture
times spread over 20 years in 7 time zones, 40 cameras of Zipf-like popularity, and for 60% of
the photos a GPS position within ~15 km of one of 24 cities, named by places.py like real ones.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks import datasets
from benchmarks.common import MODEL_INT8_TEXT, emit, percentiles, run_child, save, table
from benchmarks.query import texts

CITIES = [(38.72, -9.14), (35.69, 139.69), (40.71, -74.01), (48.86, 2.35), (51.51, -0.13), (52.52, 13.40),
          (41.39, 2.17), (45.46, 9.19), (59.33, 18.07), (55.68, 12.57), (37.77, -122.42), (34.05, -118.24),
          (-33.87, 151.21), (-22.91, -43.17), (19.43, -99.13), (1.35, 103.82), (28.61, 77.21), (30.04, 31.24),
          (-1.29, 36.82), (64.15, -21.94), (43.65, -79.38), (50.08, 14.44), (47.50, 19.04), (60.17, 24.94)]
OFFSETS = np.array([-480, -300, 0, 60, 120, 330, 540])
CASES = {  # name -> SearchFilters.parse arguments
    "year (1 of 20)": {"year": "2021"},
    "camera (Zipf rank 5)": {"camera": "Model 5"},
    "place by name": {"place": "Lisbon"},
    "near a position, 5 km": {"near": "38.72,-9.14", "radius": "5km"},
    "3 months + camera": {"after": "2019-03", "before": "2019-06", "camera": "Model 1"},
    "after 2006 (95% pass)": {"after": "2006"},
}


def _metadata_marker(size: int):
    return datasets.dataset_dir(size) / "metadata.done"


def add_metadata(size: int) -> float:
    """Write synthetic metadata for every photo of the dataset (once); returns seconds taken."""
    from pixseek.metadata import PhotoMetadata
    from pixseek.places import name_places
    from pixseek.signals import Description
    from pixseek.store.catalog import Catalog

    if _metadata_marker(size).is_file():
        return float(_metadata_marker(size).read_text())
    start = time.perf_counter()
    rng = np.random.default_rng(1)
    catalog = Catalog.open(datasets.dataset_dir(size) / "index", create=False)
    ids = catalog.ids_under()
    taken = rng.uniform(1_104_537_600, 1_735_689_600, len(ids))  # 2005-01-01 .. 2025-01-01 UTC
    offsets = rng.choice(OFFSETS, len(ids))
    popularity = 1.0 / np.arange(1, 41) ** 0.8
    cameras = rng.choice(40, len(ids), p=popularity / popularity.sum())
    has_gps = rng.random(len(ids)) < 0.6
    centres = np.array(CITIES)[rng.integers(0, len(CITIES), len(ids))]
    positions = np.round(centres + rng.normal(0, 0.1, (len(ids), 2)), 3)  # ~15 km spread, ~100 m grid
    unique = sorted({tuple(p) for p in positions[has_gps].tolist()})
    places = dict(zip(unique, name_places(unique)))
    for lo in range(0, len(ids), 20_000):
        described, phashes = [], []
        for i in range(lo, min(lo + 20_000, len(ids))):
            lat, lon = positions[i] if has_gps[i] else (None, None)
            m = PhotoMetadata(float(taken[i]), int(offsets[i]), "exif", 640, 480, f"Maker {cameras[i] % 7}",
                              f"Model {cameras[i]}", None, lat, lon)
            described.append((int(ids[i]), Description(m, places.get((lat, lon)))))
            phashes.append((int(ids[i]), int(rng.integers(0, 2**63))))
        catalog.commit_batch(values={"metadata": described, "phash": phashes})
    catalog.close()
    seconds = time.perf_counter() - start
    _metadata_marker(size).write_text(str(seconds))
    return seconds


def child(size: int, count: int) -> None:
    from pixseek.filters import SearchFilters
    from pixseek.library import Library

    result = {"size": size, "metadata_write_s": add_metadata(size)}
    library = Library.open(datasets.dataset_dir(size) / "index", model=MODEL_INT8_TEXT)
    for text in ("warm up", "warming up"):
        library.search(text, k=10)
    start = time.perf_counter()
    facets = library._index.metadata()  # the benchmark looks inside: the load is timed on its own
    facets.refresh()
    result["metadata_load_s"] = time.perf_counter() - start
    queries = texts(count)
    runs = {"no filter": SearchFilters(), **{name: SearchFilters.parse(**args) for name, args in CASES.items()}}
    latencies = {name: [] for name in runs}
    found = {name: [] for name in runs}
    for number, text in enumerate(queries):  # the cases take turns, so a busy minute hits them all alike
        for round_, (name, filters) in enumerate(runs.items()):
            query = f"{text} {number} {round_}"  # distinct texts: the text cache never answers
            start = time.perf_counter()
            results = library.search(query, k=10, filters=filters)
            latencies[name].append(time.perf_counter() - start)
            found[name].append(len(results))
    result["cases"] = {}
    for name, filters in runs.items():
        p50, p95 = percentiles(latencies[name])
        start = time.perf_counter()
        passing = len(facets.select(filters)) if filters.active else size
        select_ms = (time.perf_counter() - start) * 1000
        result["cases"][name] = {"p50_ms": p50, "p95_ms": p95, "share_passing": passing / size,
                                 "mean_results": float(np.mean(found[name])), "select_ms": select_ms}
    library.close()
    emit(result)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k photos, fewer queries")
    args = parser.parse_args(argv)
    size, count = (100_000, 30) if args.quick else (1_000_000, 100)
    run_child(["benchmarks.datasets", "child", str(size)])
    r = run_child(["benchmarks.filters", "child", str(size), str(count)], timeout=7200)
    rows = [[name, f"{c['share_passing']:.2%}", c["select_ms"], c["p50_ms"], c["p95_ms"], c["mean_results"]]
            for name, c in r["cases"].items()]
    text = table(f"Filtered text query, {size:,} photos, warm (Library.search, k=10; bar: p50 < 50 ms)",
                 ["filter", "photos passing", "select ms", "p50 ms", "p95 ms", "results"], rows)
    text += (f"\n\nFirst filtered search in a process: {r['metadata_load_s']:.2f} s to load every photo's "
             f"metadata (peak RSS {r['peak_rss_mib']:,.0f} MiB); writing the synthetic metadata took "
             f"{r['metadata_write_s']:.0f} s once")
    save("filters", {"quick": args.quick, **r}, text)
    return r


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
