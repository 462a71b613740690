"""Run every benchmark (what `make bench` runs) and print a summary against the bars.

    python benchmarks/run_all.py             # everything (~30 min on 2 cores, first run longer)
    python benchmarks/run_all.py --quick     # smaller and fewer runs (a few minutes)
    python benchmarks/run_all.py --only query coldstart

Each benchmark prints its table and writes benchmarks/results/<name>.json. Generated photos,
models and synthetic indexes are cached under .cache/bench; --clean removes the large synthetic
indexes (1M empty files, a 2 GB catalog) when done.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import CACHE, save, table

BENCHMARKS = ("indexing", "encoder", "models", "query", "coldstart", "scale", "filters", "duplicates", "cluster")


def summary(results: dict) -> list[list]:
    rows = []
    if "indexing" in results:
        for name, bar in (("photos", 3.0), ("camera", 6.0)):
            r = results["indexing"][name]
            rows.append([f"indexing speedup, {r['corpus']}", f">= {bar:g}x", f"{r['speedup']:.2f}x", r["speedup"] >= bar])
        for name in ("photos", "camera"):
            efficiency = results["indexing"][name]["pipeline_efficiency"]
            rows.append([f"end to end / encoder-only, {results['indexing'][name]['corpus']}", ">= 75%",
                         f"{efficiency:.0%}", efficiency >= 0.75])
    for run in results.get("query", {}).get("runs", []):
        bar = {100_000: 20, 1_000_000: 30}.get(run["size"])
        if bar and run["mode"] == "auto":
            tower = "int8" if run["model"].endswith("int8text") else "fp32"
            rows.append([f"warm query p50, {run['size']:,}, {tower} text tower", f"< {bar} ms", f"{run['p50_ms']:.1f} ms",
                         run["p50_ms"] < bar])
            rows.append([f"recall@10, {run['size']:,}", ">= 0.95", f"{run['recall_at_10']:.3f}", run["recall_at_10"] >= 0.95])
            if run["size"] == 1_000_000:
                rows.append([f"memory while searching 1M ({tower} text)", "< 1536 MiB", f"{run['peak_rss_mib']:,.0f} MiB",
                             run["peak_rss_mib"] < 1536])
    for name, case in results.get("filters", {}).get("cases", {}).items():
        if name != "no filter":
            size = results["filters"]["size"]
            rows.append([f"filtered query p50, {size:,}, {name}", "< 50 ms", f"{case['p50_ms']:.1f} ms",
                         case["p50_ms"] < 50])
    if "duplicates" in results:
        scale = results["duplicates"]["scale"]
        rows.append([f"duplicates grouped, {scale['size']:,} photos", "minutes", f"{scale['seconds'] / 60:.1f} min",
                     scale["seconds"] < 3600])
    if "coldstart" in results:
        for tower in ("int8", "fp32"):
            median = results["coldstart"][tower]["median_s"]
            rows.append([f"cold one-off search, 100k, {tower} text tower", "< 1 s", f"{median:.2f} s", median < 1.0])
    return [[what, bar, value, "yes" if ok else "NO"] for what, bar, value, ok in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quick subset: fewer images, 10k/100k only")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, default=BENCHMARKS, metavar="NAME",
                        help=f"run only these ({', '.join(BENCHMARKS)})")
    parser.add_argument("--clean", action="store_true", help="remove the synthetic indexes afterwards")
    args = parser.parse_args()
    start = time.monotonic()
    results = {}
    for name in BENCHMARKS:
        if name in args.only:
            print(f"== {name} ==", flush=True)
            results[name] = importlib.import_module(f"benchmarks.{name}").main(["--quick"] if args.quick else [])
    text = table("Against the bars (2 cores)", ["what", "bar", "measured", "met"], summary(results))
    save("summary", {"quick": args.quick, "minutes": (time.monotonic() - start) / 60, "rows": summary(results)}, text)
    if args.clean:
        for folder in CACHE.glob("dataset-*"):
            shutil.rmtree(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
