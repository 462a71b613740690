"""ONNX Runtime sessions, with a cache of graph-optimised models for a quick start.

Most of a session's creation time goes into optimising the graph (fusing LayerNorm, GELU,
attention...), the same work every time. The first session of a tower saves the optimised graph
in the cache folder; later processes load that instead, which halves the text tower's load time
(measured: 150-220 ms to 80-100 ms for the int8 tower), the largest part of a one-off search's
start. Only "extended" optimisations are saved, which do not depend on the CPU, and full
optimisation still runs on load, so a cached session is the same as a fresh one. CPU only: other
providers optimise differently. The Encoder caches the text tower of installed models only: a
search waits for it, while the image tower serves long indexing runs, where 0.1 s is nothing and
95 MB of disk is.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from pixseek import paths

if TYPE_CHECKING:  # imported where used: NumPy-free commands do not pay for it
    import onnxruntime as ort

CPU_ONLY = ["CPUExecutionProvider"]


def runtime() -> ModuleType:
    """ONNX Runtime, with its telemetry off: since 1.29 its Linux and macOS builds carry Microsoft's
    1DS client, which uploads session events from a thread of its own. Nothing may leave the
    user's machine, and that thread is one more thing that can abort a process offline."""
    import onnxruntime as ort

    ort.disable_telemetry_events()
    module: ModuleType = ort  # onnxruntime ships no types
    return module


def _options(threads: int, level: ort.GraphOptimizationLevel | None = None, save_to: Path | None = None,
             spin: bool = True) -> ort.SessionOptions:
    """`spin=False` makes ORT's idle threads sleep instead of busy-waiting: while indexing, the
    image tower shares the CPU with the decoding threads, which then get those cycles (measured
    on 2 cores: +8% images/s on 12 MP JPEGs, +5% on ~640 px photos, the encoder alone as fast)."""
    ort = runtime()

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = level if level is not None else ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    if save_to is not None:
        options.optimized_model_filepath = str(save_to)
    return options


def cached_model_path(model: Path) -> Path:
    """Where the optimised copy of `model` lives: named by the model's path, and by its size, time
    and the ONNX Runtime version, so that a changed model or runtime never meets an old copy."""
    ort = runtime()

    stat = model.stat()
    where = hashlib.sha256(str(model.resolve()).encode()).hexdigest()[:16]
    what = hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}:{ort.__version__}".encode()).hexdigest()[:16]
    return paths.cache_dir() / "onnx" / f"{model.stem}-{where}-{what}.onnx"


def _save_optimised(model: Path, cached: Path, threads: int) -> None:
    """Optimise `model` into `cached` (written aside, then renamed), dropping older copies of it."""
    ort = runtime()

    cached.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(suffix=".tmp", dir=cached.parent)
    os.close(handle)
    try:
        ort.InferenceSession(str(model), _options(threads, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED, Path(tmp)),
                             providers=CPU_ONLY)
        os.replace(tmp, cached)
    finally:
        Path(tmp).unlink(missing_ok=True)
    stale_prefix = cached.name.rsplit("-", 1)[0] + "-"
    for old in cached.parent.glob(f"{stale_prefix}*.onnx"):
        if old != cached:
            old.unlink(missing_ok=True)


def create_session(model: Path, providers: list[str], threads: int, cache: bool = True,
                   spin: bool = True) -> ort.InferenceSession:
    """A session for `model`, through the optimised cache when `cache` is set and the CPU runs it."""
    ort = runtime()

    options = _options(threads, spin=spin)
    if not cache or providers != CPU_ONLY:
        return ort.InferenceSession(str(model), options, providers=providers)
    cached = cached_model_path(model)
    if not cached.is_file():
        try:
            _save_optimised(model, cached, threads)
        except OSError:  # a read-only or full cache folder only costs speed
            return ort.InferenceSession(str(model), options, providers=providers)
    try:
        return ort.InferenceSession(str(cached), options, providers=providers)
    except Exception:  # a damaged cache file: drop it, use the model itself
        cached.unlink(missing_ok=True)
        return ort.InferenceSession(str(model), options, providers=providers)

