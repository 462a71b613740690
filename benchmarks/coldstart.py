"""Cold start: wall time of a one-off `pixseek search "..."` process on the 100k index, and where
that time goes (import time, cProfile of one search in a fresh process).

Runs are repeated and the median reported; the first run also pays for reading files into the
OS page cache, which is what a user sees right after boot, so it is reported on its own.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import subprocess
import sys
import time

from benchmarks import datasets
from benchmarks.common import MODEL, MODEL_INT8_TEXT, ROOT, bench_env, emit, run_child, save, table

SIZE = 100_000


def one_off(model: str) -> float:
    index = datasets.dataset_dir(SIZE) / "index"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pixseek.cli", "search", "--index", str(index), "--model", model,
                    "a dog on a beach", "-k", "10"], cwd=ROOT, env=bench_env(), check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def import_seconds() -> float:
    code = "import time; t = time.perf_counter(); import pixseek.cli, pixseek.library; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], env=bench_env(), capture_output=True, text=True,
                                check=True).stdout)


def child_profile(model: str) -> None:
    """One search in this fresh process under cProfile: the top functions by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    from pixseek.cli import main

    main(["search", "--index", str(datasets.dataset_dir(SIZE) / "index"), "--model", model, "a dog", "--json"])
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
    emit({"profile": out.getvalue()})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    runs = 3 if args.quick else 7
    run_child(["benchmarks.datasets", "child", str(SIZE)])
    result = {"imports_s": min(import_seconds() for _ in range(3))}
    rows = []
    for model, tower in ((MODEL_INT8_TEXT, "int8"), (MODEL, "fp32")):
        times = [one_off(model) for _ in range(runs)]
        result[tower] = {"first_s": times[0], "median_s": sorted(times)[len(times) // 2], "all_s": times}
        rows.append([f"{SIZE:,}", tower, times[0], result[tower]["median_s"], min(times)])
    result["profile"] = run_child(["benchmarks.coldstart", "child", MODEL_INT8_TEXT])["profile"]
    text = table(f"Cold one-off `pixseek search` (whole process, {runs} runs; bar < 1 s)",
                 ["vectors", "text tower", "first s", "median s", "best s"], rows)
    text += f"\nimporting pixseek.cli + pixseek.library: {result['imports_s']:.2f} s"
    save("coldstart", {"quick": args.quick, **result}, text)
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child_profile(sys.argv[2])
    else:
        main()
