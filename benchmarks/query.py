"""Text query latency in a warm process at 10k, 100k and 1M indexed vectors, exact and
approximate; recall@10 of the approximate index against exact search; build time; memory; and
the ranking cost of compact vector storage (8-bit codes alone, float16) against float32.

A query is timed end to end through `Library.search`: tokenize, encode (distinct texts, so the
text cache never answers), search (and re-rank), fetch paths and check the files exist. Each
case runs in its own process, so its peak memory is its own. "Exact" is the same index with its
vector index swapped for a flat one in memory (writing a 2 GB flat file at 1M would be waste).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks import datasets
from benchmarks.common import MODEL, MODEL_INT8_TEXT, emit, peak_rss_mib, percentiles, run_child, save, table

SUBJECTS = ["dog", "cat", "car", "beach", "mountain", "birthday cake", "bicycle", "city at night", "forest",
            "red flower", "old man", "child playing", "boat", "snow", "kitchen", "horse", "airplane", "bridge",
            "market", "book"]
STYLES = ["a photo of a", "a blurry picture of a", "a close-up of a", "my favourite", "an old photo of a",
          "a bright", "a dark", "two", "a small", "a wide shot of a"]


def texts(count: int) -> list[str]:
    return [f"{STYLES[i // len(SUBJECTS) % len(STYLES)]} {SUBJECTS[i % len(SUBJECTS)]}" for i in range(count)]


def _recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    return float(np.mean([len(set(f[:10].tolist()) & set(t.tolist())) / 10 for f, t in zip(found, truth)]))


def child(size: int, mode: str, model: str, count: int) -> None:
    from pixseek.library import Library
    from pixseek.store.vector_index import Spec, VectorIndex

    folder = datasets.dataset_dir(size)
    library = Library.open(folder / "index", model=model)
    live = library._index.vectors()  # the benchmark looks inside: recall needs the raw index
    if mode == "exact":
        live.index = VectorIndex.build(datasets.DIM, Spec("flat"), library._index.catalog.all_vectors, live.index.ntotal)
    rss_loaded = peak_rss_mib()
    cold = [time.perf_counter()]  # held-out searches while the float16 copy is still being read in
    if live.half is not None:
        for q in np.load(folder / "queries.npy")[:20]:
            live.search(q[::-1].copy(), 10)  # reversed: not the queries measured below
            cold.append(time.perf_counter())
        live.half.resident.wait()
    prefetch_s = time.perf_counter() - cold[0]
    for text in ("warm up", "warming up"):
        library.search(text, k=10)
    latencies, text_only = [], []
    for text in texts(count):
        start = time.perf_counter()
        results = library.search(text, k=10)
        latencies.append(time.perf_counter() - start)
        assert len(results) == 10
    for text in texts(count)[:30]:
        start = time.perf_counter()
        library.encoder.encode_texts([text + " again"])
        text_only.append(time.perf_counter() - start)
    queries, truth = np.load(folder / "queries.npy"), np.load(folder / "truth.npy")
    found, held_out = [], []  # held-out vectors spread over the whole mixture, unlike the texts
    for q in queries:
        start = time.perf_counter()
        found.append(live.search(q, 10)[1])
        held_out.append(time.perf_counter() - start)
    result = {"size": size, "mode": mode, "model": model, "vector_index": live.index.describe(),
              "queries": count, "recall_at_10": _recall(found, truth), "rss_after_load_mib": rss_loaded}
    result["p50_ms"], result["p95_ms"] = percentiles(latencies)
    result["text_encode_p50_ms"] = percentiles(text_only)[0]
    result["held_out_p50_ms"], result["held_out_p95_ms"] = percentiles(held_out)
    if len(cold) > 1:
        result["cold_held_out_p50_ms"] = percentiles(np.diff(cold))[0]
        result["copy_resident_after_s"] = prefetch_s
    if live.index.approximate:  # what the 8-bit codes alone would rank, without exact re-ranking
        raw = [live.index.search(q, 10)[1] for q in queries]
        result["codes_only_top10_overlap"] = _recall(raw, truth)
    if (folder / "fp16_top.npy").is_file():  # not made for datasets built chunk by chunk
        result["float16_top10_overlap"] = _recall(list(np.load(folder / "fp16_top.npy")), truth)
    emit(result)


def cases(quick: bool) -> list[tuple[int, str, str, int]]:
    if quick:
        return [(10_000, "auto", MODEL_INT8_TEXT, 50), (100_000, "auto", MODEL_INT8_TEXT, 50),
                (100_000, "exact", MODEL_INT8_TEXT, 30)]
    return [(10_000, "auto", MODEL_INT8_TEXT, 200),
            (100_000, "exact", MODEL_INT8_TEXT, 100), (100_000, "auto", MODEL_INT8_TEXT, 200),
            (100_000, "auto", MODEL, 100),
            (1_000_000, "exact", MODEL_INT8_TEXT, 30), (1_000_000, "auto", MODEL_INT8_TEXT, 200),
            (1_000_000, "auto", MODEL, 100)]


def update_child(size: int) -> None:
    """Open a dataset's index and save it as an index run does: one saved by an older pixseek
    gains what this one adds (the float16 copy ivf4 re-ranks from); a current one is left as is."""
    from pixseek.store.catalog import Catalog
    from pixseek.store.half_vectors import FILE_NAME
    from pixseek.store.live_index import LiveVectorIndex

    folder = datasets.dataset_dir(size) / "index"
    catalog = Catalog.open(folder, create=False)
    start = time.perf_counter()
    live = LiveVectorIndex(folder, catalog)
    loaded = time.perf_counter()
    live.save()
    copy = folder / FILE_NAME
    emit({"load_s": loaded - start, "save_s": time.perf_counter() - loaded,
          "catalog_gib": catalog.path.stat().st_size / 2**30,
          "float16_copy_gib": copy.stat().st_size / 2**30 if copy.is_file() else 0.0})


def large(size: int) -> dict:
    """One large case alone (`--large N`, e.g. 10,000,000): built chunk by chunk (10M: over an
    hour on 2 cores and ~45 GB of disk under .cache/bench), brought up to this version's index
    files, then queried; results in benchmarks/results/query_large.json."""
    build = run_child(["benchmarks.datasets", "child", str(size)], timeout=4 * 3600)
    update = run_child(["benchmarks.query", "update", str(size)], timeout=3600)
    r = run_child(["benchmarks.query", "child", str(size), "auto", MODEL_INT8_TEXT, "200"])
    text = table(f"Warm query at {size:,} vectors (text: end to end through Library.search; held-out "
                 "vectors: search and re-rank), k=10",
                 ["vectors", "index", "text p50 ms", "text p95 ms", "held-out p50 ms", "held-out p95 ms",
                  "recall@10", "RSS after load MiB", "peak RSS MiB"],
                 [[f"{size:,}", r["vector_index"].split(" (")[0], r["p50_ms"], r["p95_ms"], r["held_out_p50_ms"],
                   r["held_out_p95_ms"], f"{r['recall_at_10']:.3f}", r["rss_after_load_mib"], r["peak_rss_mib"]]])
    text += "\n\n" + table("Building", ["catalog write s", "catalog GiB", "vector index build s",
                                       "open + save s (writes a missing float16 copy)", "float16 copy GiB"],
                           [[build["catalog_write_s"], update["catalog_gib"], build["vector_index_build_s"],
                             update["load_s"] + update["save_s"], update["float16_copy_gib"]]])
    save("query_large", {"build": build, "update": update, "run": r}, text)
    return {"build": build, "update": update, "run": r}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k only, fewer queries")
    parser.add_argument("--large", type=int, metavar="N", help="only one case of N vectors, built chunk by chunk "
                        "(10,000,000: about an hour on 2 cores, ~55 GB of disk)")
    args = parser.parse_args(argv)
    if args.large:
        return large(args.large)
    plan = cases(args.quick)
    builds = {size: run_child(["benchmarks.datasets", "child", str(size)]) for size in sorted({c[0] for c in plan})}
    runs = [run_child(["benchmarks.query", "child", str(s), mode, model, str(n)]) for s, mode, model, n in plan]
    rows = []
    for r in runs:
        text_tower = "int8" if r["model"] == MODEL_INT8_TEXT else "fp32"
        rows.append([f"{r['size']:,}", r["vector_index"].split(" (")[0] + (" (auto)" if r["mode"] == "auto" else ""),
                     text_tower, r["p50_ms"], r["p95_ms"], r["text_encode_p50_ms"], f"{r['recall_at_10']:.3f}",
                     r["peak_rss_mib"]])
    text = table("Warm text query, end to end (Library.search, k=10)",
                 ["vectors", "index", "text tower", "p50 ms", "p95 ms", "text encode p50 ms", "recall@10",
                  "peak RSS MiB"], rows)
    build_rows = [[f"{s:,}", b["vector_index"].split(" (")[0], b["catalog_write_s"], b["vector_index_build_s"]]
                  for s, b in builds.items()]
    text += "\n\n" + table("Building (catalog rows written in bulk through Catalog; vector index from them)",
                           ["vectors", "index", "catalog write s", "vector index build s"], build_rows)
    compact = [[f"{r['size']:,}", f"{r.get('codes_only_top10_overlap', float('nan')):.3f}",
                f"{r.get('float16_top10_overlap', float('nan')):.3f}"]
               for r in runs if r["mode"] == "auto" and r["model"] != MODEL]
    text += "\n\n" + table("Compact storage: top-10 overlap with exact float32 search",
                           ["vectors", "8-bit codes, no re-rank", "float16"], compact)
    save("query", {"quick": args.quick, "builds": {str(k): v for k, v in builds.items()}, "runs": runs}, text)
    return {"builds": builds, "runs": runs}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif len(sys.argv) > 1 and sys.argv[1] == "update":
        update_child(int(sys.argv[2]))
    else:
        main()
