"""The indexing pipeline's own ceiling: `Library.index` with an encoder that returns at once.

What is left when the model costs nothing is the pipeline (scan, read, content hash, EXIF,
decode, perceptual hash, preprocess, commit): its CPU per photo bounds what any number of cores
can do, and its time inside the interpreter lock bounds one indexing process whatever the cores
and the accelerator. The instant encoder is made here (the loaded `Encoder` with its
`encode_pixels` replaced by a constant unit vector of the model's size): a benchmark option,
never a user option.

Per corpus (~640 px photos; 12 MP JPEGs made from them), each run in a child process:
- the instant encoder on every core, then pinned to one core (`os.sched_setaffinity`), same run;
- the instant encoder under `py-spy record --gil` (which samples only the thread holding the
  lock), attached to the child after a warm-up: lock-held ms per photo = lock samples inside
  `Library.index` / rate / photos, and the functions that held it;
- end to end with the real int8 encoder: cores busy, and the share of the CPU-budget bound
  cores / (pipeline CPU + encoder CPU per photo) it reaches.
The machine is shared: figures are the best of `--repeats` runs, alternated. `--against REV` runs
pixseek's src/ as of a git revision too (exported once under .cache/bench), alternated with this
tree's, so that before and after are measured side by side in one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.common import CACHE, MODEL, ROOT, Meter, bench_env, camera_corpus, emit, photo_corpus, run_child, save, table

GIL_RATE = 500  # py-spy samples a second
BATCH = 32


def _files(folder: str) -> list[Path]:
    return sorted(p for p in Path(folder).iterdir() if p.suffix == ".jpg")


def make_instant(encoder) -> None:
    """Make `encoder` return a constant unit vector of its size at once (the benchmark's null model)."""
    unit = np.full((1, encoder.dim), 1.0 / np.sqrt(encoder.dim), dtype=np.float32)
    encoder.encode_pixels = lambda pixels: np.repeat(unit, len(pixels), axis=0)


def encoder_cpu_ms(encoder, folder: str, count: int = 64) -> float:
    """The real encoder's process CPU per photo on already preprocessed pixels, in the indexer's batches."""
    from pixseek.images import open_upright

    pixels = np.stack([encoder.preprocess(open_upright(str(p), encoder.image_size)) for p in _files(folder)[:count]])
    encoder.encode_pixels(pixels[:2])  # loads the session
    with Meter() as meter:
        for i in range(0, len(pixels), BATCH):
            encoder.encode_pixels(pixels[i:i + BATCH])
    return meter.cpu * 1000 / len(pixels)


def _warm_up(library) -> None:
    """Index one generated photo first, so that the measured run pays no import or first-use cost."""
    from pixseek.model.samples import generated_photo

    folder = Path(tempfile.mkdtemp(dir=CACHE))
    generated_photo(0, (640, 480)).save(folder / "warm-up.jpg", quality=90)
    library.index([str(folder)])
    shutil.rmtree(folder)


def _spy(raw: Path) -> subprocess.Popen:
    """py-spy sampling this process from now on, only the thread that holds the interpreter lock."""
    spy = Path(sys.executable).with_name("py-spy")
    process = subprocess.Popen([str(spy), "record", "--gil", "--nonblocking", "--rate", str(GIL_RATE), "--format", "raw",
                                "--output", str(raw), "--pid", str(os.getpid())],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(1.0)  # attached (it samples nothing while this thread sleeps: the lock is free)
    if process.poll() is not None:
        raise RuntimeError(f"py-spy could not attach: {process.stderr.read().strip()[-300:]}")
    return process


def child(mode: str, folder: str, cores: int) -> None:
    """One measured `Library.index` run: mode "null" (instant encoder), "gil" (the same under
    py-spy) or "real" (the int8 encoder); `cores` > 0 pins the process to that many cores."""
    if cores:
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:cores])
    from pixseek.library import Library

    out = Path(tempfile.mkdtemp(dir=CACHE))
    library = Library.open(out / "index", model=MODEL, create=True)
    extra: dict = {}
    if mode == "real":
        extra["encoder_cpu_ms"] = encoder_cpu_ms(library.encoder, folder)
    else:
        make_instant(library.encoder)
    _warm_up(library)
    raw = out / "gil.txt"
    spy = _spy(raw) if mode == "gil" else None
    with Meter() as meter:
        report = library.index([folder])
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=60)
        extra.update(_lock_held(raw, report.indexed))
    library.close()
    shutil.rmtree(out)
    if report.indexed != len(_files(folder)):
        sys.exit(f"indexed {report.indexed} of {len(_files(folder))} files")
    emit({"photos": report.indexed, **meter.as_dict(), **extra})


def _inside_index(stack: str) -> bool:
    """A sample taken inside `Library.index`: its own thread, or a decode worker (the null run has no other)."""
    return "(pixseek/library.py" in stack or "(concurrent/futures/thread.py" in stack


def _where(stack: str) -> str:
    """The innermost pixseek function of a sample (what the lock was held for)."""
    frames = [f for f in stack.split(";") if "(pixseek/" in f]
    return frames[-1].split(" (")[0] if frames else "other"


def _lock_held(raw: Path, photos: int) -> dict:
    """Lock-held ms per photo inside the index call, and the share of each pixseek function."""
    where: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        if _inside_index(stack):
            where[_where(stack)] += int(count)
    held = sum(where.values())
    return {"lock_ms_per_photo": held / GIL_RATE * 1000 / photos, "lock_samples": held, "all_lock_samples": total,
            "lock_where": {k: v / held for k, v in where.most_common(8)} if held else {}}


def _best(runs: list[dict]) -> dict:
    best = min(runs, key=lambda r: r["wall_s"])
    return {**best, "photos_per_s": best["photos"] / best["wall_s"], "cpu_ms_per_photo": best["cpu_s"] * 1000 / best["photos"],
            "all_photos_per_s": [r["photos"] / r["wall_s"] for r in runs], "peak_rss_mib": max(r["peak_rss_mib"] for r in runs)}


def baseline_env(revision: str) -> dict[str, str]:
    """Children that import pixseek's src/ as of `revision` (exported once under .cache/bench)."""
    target = CACHE / f"src-{revision}"
    if not (target / "src" / "pixseek").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", revision, "src"], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return bench_env(PYTHONPATH=str(target / "src"))


def measure(folder: Path, repeats: int, gil: bool, real: bool, codes: dict[str, dict[str, str]]) -> dict:
    """Each code's runs of each kind, alternated (a noisy minute hits every code and kind alike)."""
    kinds = [("null", "0"), ("null_1core", "1")] + ([("real", "0")] if real else [])
    runs: dict[str, dict[str, list[dict]]] = {code: {kind: [] for kind, _ in kinds} for code in codes}
    for _ in range(repeats):
        for kind, cores in kinds:
            for code, env in codes.items():
                mode = "real" if kind == "real" else "null"
                runs[code][kind].append(run_child(["benchmarks.pipeline", "child", mode, str(folder), cores], env))
    results = {}
    for code, env in codes.items():
        result = {kind: _best(r) for kind, r in runs[code].items()}
        null = result["null"]
        result["scaling_2v1"] = null["photos_per_s"] / result["null_1core"]["photos_per_s"]
        if real:
            encoder_ms = min(r["encoder_cpu_ms"] for r in runs[code]["real"])
            bound = len(os.sched_getaffinity(0)) * 1000 / (null["cpu_ms_per_photo"] + encoder_ms)
            result["e2e"] = {"encoder_cpu_ms": encoder_ms, "bound_photos_per_s": bound,
                             "of_bound": result["real"]["photos_per_s"] / bound, "cores_busy": result["real"]["cores_busy"]}
        if gil:
            result["gil"] = run_child(["benchmarks.pipeline", "child", "gil", str(folder), "0"], env)
        results[code] = result
    return results


def _rows(corpus: str, code: str, r: dict) -> list[list]:
    lock = f"{r['gil']['lock_ms_per_photo']:.2f}" if "gil" in r else "-"
    null, one = r["null"], r["null_1core"]
    rows = [[corpus, code, "instant, all cores", null["photos_per_s"], null["cpu_ms_per_photo"], null["cores_busy"],
             null["peak_rss_mib"], lock, f"{r['scaling_2v1']:.2f}x", ""],
            [corpus, code, "instant, 1 core", one["photos_per_s"], one["cpu_ms_per_photo"], one["cores_busy"],
             one["peak_rss_mib"], "", "", ""]]
    if "real" in r:
        e2e, real = r["e2e"], r["real"]
        rows.append([corpus, code, "int8 encoder, all cores", real["photos_per_s"], real["cpu_ms_per_photo"],
                     real["cores_busy"], real["peak_rss_mib"], "", "",
                     f"{e2e['of_bound']:.0%} of {e2e['bound_photos_per_s']:.0f}/s (enc {e2e['encoder_cpu_ms']:.1f} ms)"])
    return rows


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=600, help="~640 px photos (default 600)")
    parser.add_argument("--camera", type=int, default=32, help="12 MP JPEGs (default 32)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--against", metavar="REVISION", help="also run pixseek's src/ as of this git revision, alternated")
    parser.add_argument("--no-gil", action="store_true", help="skip the py-spy run")
    parser.add_argument("--no-real", action="store_true", help="skip the end-to-end run with the int8 encoder")
    parser.add_argument("--label", default="", help="save as results/pipeline-LABEL.json")
    args = parser.parse_args(argv)
    codes = {"this tree": bench_env()}
    if args.against:
        codes = {args.against: baseline_env(args.against), **codes}
    photos, photos_kind = photo_corpus(args.photos)
    camera, camera_kind = camera_corpus(args.camera)
    results = {}
    for name, folder, corpus in (("photos", photos, f"{args.photos} {photos_kind} photos (~640 px)"),
                                 ("camera", camera, f"{args.camera} 12 MP JPEGs {camera_kind}")):
        results[name] = {"corpus": corpus, **measure(folder, args.repeats, not args.no_gil, not args.no_real, codes)}
    rows = [row for r in results.values() for code in codes for row in _rows(r["corpus"], code, r[code])]
    text = table(f"Indexing pipeline ceiling (best of {args.repeats}; lock: py-spy --gil at {GIL_RATE} Hz)",
                 ["corpus", "code", "encoder", "photos/s", "CPU ms/photo", "cores busy", "peak RSS MiB", "lock ms/photo",
                  "all/1 core", "CPU-budget bound"], rows)
    for name, r in results.items():
        for code in codes:
            if "gil" in r[code]:
                where = r[code]["gil"]["lock_where"]
                text += f"\nlock held, {name}, {code}: " + ", ".join(f"{k} {v:.0%}" for k, v in where.items())
        if args.against:
            old, new = r[args.against], r["this tree"]
            text += (f"\n{name}, this tree / {args.against}: CPU per photo "
                     f"{new['null']['cpu_ms_per_photo'] / old['null']['cpu_ms_per_photo']:.2f}x, instant photos/s "
                     f"{new['null']['photos_per_s'] / old['null']['photos_per_s']:.2f}x")
    save("pipeline" + (f"-{args.label}" if args.label else ""),
         {"repeats": args.repeats, "codes": list(codes), "results": results}, text)
    return results


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    else:
        main()
