"""Indexing on a Ray cluster against one process, on the same machine and photos: what Ray adds.

Side by side, each in its own process, on the benchmark ViT-B/32 (int8 image tower): an
ordinary `Library.index`; `index_on_cluster` on a local 3-node cluster (Ray's own
`ray.cluster_utils.Cluster`: a head without CPUs and two 1-CPU nodes, as the tests use); and
`--cluster local` (a private Ray for one machine). For the clusters: start-up (nodes up, or
`ray.init`), the whole run, the steady rate between the first and the last result, and
teardown. Needs pixseek[cluster].
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from benchmarks.common import CACHE, Meter, emit, photo_corpus, run_child, save, table


def child(mode: str, folder: str) -> None:
    from pixseek.library import Library

    index = tempfile.mkdtemp(dir=CACHE)
    events: list[tuple[float, int]] = []  # (when, photos done) at each progress report
    result = {"mode": mode}

    def seen(progress):
        events.append((time.perf_counter(), progress.done))

    with Library.open(index, create=True) as library:
        library.encoder._session("image")  # the model is loaded before timing, as in the other cases
        if mode == "process":
            with Meter() as run:
                report = library.index([folder], progress=seen)
        elif mode == "local":
            with Meter() as run:
                report = library.index_on_cluster([folder], "local", progress=seen)
        else:
            from ray.cluster_utils import Cluster

            start = time.perf_counter()
            harness = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
            for _ in range(2):
                harness.add_node(num_cpus=1)
            harness.wait_for_nodes()
            result["startup_s"] = time.perf_counter() - start
            try:
                with Meter() as run:
                    report = library.index_on_cluster([folder], harness.address, progress=seen)
            finally:
                start = time.perf_counter()
                harness.shutdown()
                result["teardown_s"] = time.perf_counter() - start
    result.update(photos=report.indexed, wall_s=run.wall, cpu_s=run.cpu, rate=report.indexed / run.wall)
    (first, done_first), (last, done_last) = events[0], events[-1]
    if last > first:  # the pace once results flow, without start-up and the last straggler
        result["steady_rate"] = (done_last - done_first) / (last - first)
    emit(result)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="128 photos instead of 384")
    args = parser.parse_args(argv)
    folder, kind = photo_corpus(128 if args.quick else 384)
    runs = {mode: run_child(["benchmarks.cluster", "child", mode, str(folder)]) for mode in ("process", "cluster", "local")}
    base = runs["process"]["rate"]
    rows = []
    for mode, label in (("process", "one process (Library.index)"), ("cluster", "3-node cluster (head + 2 x 1 CPU)"),
                        ("local", "--cluster local (private Ray)")):
        r = runs[mode]
        rows.append([label, r["rate"], r.get("steady_rate", r["rate"]), r["rate"] / base, r["wall_s"],
                     r.get("startup_s", "-"), r.get("teardown_s", "-")])
    per_photo_ms = (1 / runs["cluster"].get("steady_rate", runs["cluster"]["rate"]) - 1 / base) * 1000
    text = table(f"{runs['process']['photos']} {kind} photos (~640 px), benchmark ViT-B/32 int8, 2 cores",
                 ["how", "photos/s", "steady photos/s", "of one process", "run s", "start-up s", "teardown s"], rows)
    text += f"\nRay's cost per photo on this machine (3-node cluster, steady): {per_photo_ms:.1f} ms of wall time"
    save("cluster", {"quick": args.quick, "corpus": kind, "runs": runs, "ray_ms_per_photo": per_photo_ms}, text)
    return runs


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3])
    else:
        main()
