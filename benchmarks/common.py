"""Shared pieces of the benchmarks: the full-size random-weight model, the photo corpora, child
processes measured from outside (wall, CPU, peak memory), and result tables and JSON files.

Everything generated is cached under .cache/bench so that a second run starts at once.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench"
RESULTS = ROOT / "benchmarks" / "results"
SHARED_PHOTOS = ROOT.parent / "shared" / "data" / "photos"
MODELS = CACHE / "models"
MODEL = "bench-vit-b-32"  # int8 image tower by default (fp32 kept as a variant), fp32 text tower
MODEL_INT8_TEXT = "bench-vit-b-32-int8text"  # the same, with an int8 text tower
SEED = 0


# -- the model ------------------------------------------------------------------------------------

def bench_models() -> Path:
    """The models folder holding both benchmark bundles (made once: export, then quantize)."""
    target = MODELS / MODEL_INT8_TEXT
    if target.is_dir():
        return MODELS
    from pixseek.model.bundle import Bundle
    from pixseek.model.export import export_random
    from pixseek.model.quantize import INT8_IMAGE_MODEL, quantize_tower

    print("benchmark model: exporting a random-weight ViT-B/32 and quantizing it (once) ...", file=sys.stderr)
    base = export_random("vit-b-32", MODELS / MODEL, seed=SEED)
    quantize_tower(base.path / "image.onnx", base.path / INT8_IMAGE_MODEL)
    quantize_tower(base.path / "text.onnx", base.path / "text.int8.onnx")  # MatMul weights to int8, as for images
    base = base.save_config(replace(base.config, precision="int8", image_model=INT8_IMAGE_MODEL,
                                    image_variants={"fp32": "image.onnx"}))
    staging = MODELS / f".{MODEL_INT8_TEXT}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for item in base.path.iterdir():
        os.link(item, staging / item.name)  # same files, no extra disk
    (staging / "pixseek-model.json").unlink()
    Bundle(staging, base.config).save_config(replace(base.config, text_model="text.int8.onnx"))
    staging.rename(target)
    return MODELS


def bench_env(**extra: str) -> dict[str, str]:
    """Environment for pixseek child processes: the benchmark models, nothing from the user."""
    env = dict(os.environ, PIXSEEK_MODELS=str(bench_models()), PIXSEEK_MODEL=MODEL)
    env.pop("PIXSEEK_INDEX", None)
    env.update(extra)
    return env


# -- photo corpora ----------------------------------------------------------------------------------

def _source_photos() -> list[Path]:
    """The ~640 px COCO photos then the ImageNet sample, when ../shared/data/photos is here."""
    found = []
    for name in ("coco-mini", "imagenet-sample"):
        folder = SHARED_PHOTOS / name
        if folder.is_dir():
            found += sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    return found


def _fill(folder: Path, count: int, make) -> Path:
    """`folder` holding `count` photos written by make(index, path), made once."""
    done = folder / ".complete"
    if done.is_file() and done.read_text() == str(count):
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i in range(count):
        make(i, folder / f"photo-{i:05d}.jpg")
    done.write_text(str(count))
    return folder


def photo_corpus(count: int) -> tuple[Path, str]:
    """`count` ordinary photos (~640 px): real ones when available, else generated; and which."""
    sources = _source_photos()

    def make(i, path):
        if sources:
            shutil.copyfile(sources[i % len(sources)], path)
        else:
            from pixseek.model.samples import generated_photo

            generated_photo(i, (640, 480) if i % 3 else (480, 640)).save(path, quality=90)

    kind = "real" if sources else "generated"
    return _fill(CACHE / f"photos-{kind}-{count}", count, make), kind


def camera_corpus(count: int) -> tuple[Path, str]:
    """`count` 12-megapixel camera-like JPEGs (4032x3024, quality 90) upscaled from photos.

    Mild sensor-like noise keeps files at camera sizes (an upscale alone compresses far better).
    """
    from PIL import Image

    sources = _source_photos()

    def make(i, path):
        if sources:
            image = Image.open(sources[i % len(sources)]).convert("RGB")
        else:
            from pixseek.model.samples import generated_photo

            image = generated_photo(i, (640, 480))
        w, h = image.size
        crop = (w, w * 3 // 4) if w * 3 // 4 <= h else (h * 4 // 3, h)
        image = image.crop((0, 0) + crop).resize((4032, 3024), Image.Resampling.BICUBIC)
        noise = np.random.default_rng(i).normal(0, 3, (3024, 4032, 3)).astype(np.float32)
        pixels = np.clip(np.asarray(image, dtype=np.float32) + noise, 0, 255).astype(np.uint8)
        if i % 4 == 3:
            pixels = pixels.transpose(1, 0, 2)  # some portrait shots
        Image.fromarray(pixels).save(path, quality=90)

    kind = "from real photos" if sources else "from generated photos"
    return _fill(CACHE / f"camera12mp-{'real' if sources else 'generated'}-{count}", count, make), kind


# -- measured child processes -----------------------------------------------------------------------

def run_child(args: list[str], env: dict | None = None, timeout: float = 1800) -> dict:
    """Run `python -m benchmarks.<args>` and return its JSON result."""
    process = subprocess.Popen([sys.executable, "-m", *args], cwd=ROOT, env=env or bench_env(),
                               stdout=subprocess.PIPE, text=True)
    start = time.monotonic()
    out = process.stdout.read()
    if process.wait() != 0:
        raise RuntimeError(f"benchmark child {' '.join(args)} failed with exit code {process.returncode}")
    result = json.loads(out.strip().splitlines()[-1])
    result.setdefault("process_wall_s", time.monotonic() - start)
    return result


class Meter:
    """Wall and CPU time of a section of this process (all threads), for child processes."""

    def __enter__(self) -> Meter:
        self._wall = time.perf_counter()
        self._cpu = _cpu_seconds()
        return self

    def __exit__(self, *exc) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = _cpu_seconds() - self._cpu

    def as_dict(self) -> dict:
        return {"wall_s": self.wall, "cpu_s": self.cpu, "cores_busy": self.cpu / self.wall if self.wall else 0.0}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mib() -> float:
    """This process's own peak RSS (VmHWM; ru_maxrss would carry the parent's peak across fork)."""
    line = next(row for row in Path("/proc/self/status").read_text().splitlines() if row.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def emit(result: dict) -> None:
    """A child's last stdout line: its JSON result, with its peak memory."""
    print(json.dumps({"peak_rss_mib": peak_rss_mib(), **result}), flush=True)


# -- reporting --------------------------------------------------------------------------------------

def machine() -> dict:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor())
    import faiss
    import onnxruntime

    memory_gib = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    return {"cpu": model, "cores": os.cpu_count(), "memory_gib": memory_gib,
            "python": platform.python_version(), "onnxruntime": onnxruntime.__version__, "faiss": faiss.__version__,
            "load_average_at_start": os.getloadavg()[0]}


def table(title: str, header: list[str], rows: list[list]) -> str:
    cells = [header] + [[_cell(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(header, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in cells[1:]]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def save(name: str, result: dict, text: str) -> None:
    """Print a benchmark's table and write its JSON (with the machine) to benchmarks/results/."""
    print(text + "\n", flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "when": time.strftime("%Y-%m-%d %H:%M:%S"), "machine": machine(), **result}
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")


def percentiles(samples_s: list[float]) -> tuple[float, float]:
    """p50 and p95 in milliseconds."""
    values = np.asarray(samples_s) * 1000
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))
