"""Large synthetic indexes for the query, cold-start and scale benchmarks.

Vectors are a Gaussian mixture on the unit sphere: a few thousand centroids inside a cone (as
CLIP image embeddings share a common direction), clusters of Zipf-like sizes, points about 0.75
cosine from their centroid. Uniform noise would make nearest neighbours meaningless and flatter
an approximate index. The catalog is real: real SQLite rows written in bulk through Catalog, one
per real (empty) file on disk, so that search's path checks and the scan see what they would;
each row has the metadata of a photo without EXIF (its file time; the filters benchmark adds
synthetic capture times, cameras and places).
Held-out queries from the same mixture come with their exact top-10, computed by brute force.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from benchmarks.common import CACHE, bench_models

DIM = 512
PER_FOLDER = 1000
QUERIES = 200
BATCH = 20_000
LARGE = 2_000_000  # beyond, datasets are built chunk by chunk (build_large)


def dataset_dir(size: int) -> Path:
    return CACHE / f"dataset-{size}"


def centroids(size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    count = int(min(4000, max(100, size // 250)))
    axis = rng.normal(size=DIM)
    axis /= np.linalg.norm(axis)
    centres = axis * 1.0 + rng.normal(size=(count, DIM)) / np.sqrt(DIM) * 1.2
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, count + 1) ** 0.7
    return centres.astype(np.float32), weights / weights.sum()


def mixture(centres: np.ndarray, weights: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    picks = rng.choice(len(centres), size=count, p=weights)
    points = centres[picks] + rng.normal(size=(count, DIM)).astype(np.float32) * (0.9 / np.sqrt(DIM))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


def vectors(size: int) -> tuple[np.ndarray, np.ndarray]:
    """`size` indexed vectors and QUERIES held-out query vectors (deterministic)."""
    rng = np.random.default_rng(size)
    centres, weights = centroids(size, rng)
    data = np.concatenate([mixture(centres, weights, min(BATCH, size - i), rng) for i in range(0, size, BATCH)])
    return data, mixture(centres, weights, QUERIES, rng)


def exact_top(data: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """Row numbers of each query's exact top-k (brute force in blocks)."""
    best_scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    for start in range(0, len(data), 100_000):
        scores = queries @ data[start:start + 100_000].T
        top = np.argpartition(-scores, k, axis=1)[:, :k]
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], axis=1)
        best_rows = np.concatenate([best_rows, top + start], axis=1)
        keep = np.argsort(-best_scores, axis=1)[:, :k]
        best_scores, best_rows = np.take_along_axis(best_scores, keep, 1), np.take_along_axis(best_rows, keep, 1)
    return best_rows


class TopK:
    """Each query's exact top-k over rows seen so far, fed chunk by chunk (for sizes that do not fit in RAM)."""

    def __init__(self, queries: np.ndarray, k: int = 10):
        self.queries, self.k = queries, k
        self.scores = np.full((len(queries), 0), -np.inf, dtype=np.float32)
        self.rows = np.zeros((len(queries), 0), dtype=np.int64)

    def add(self, chunk: np.ndarray, first_row: int) -> None:
        scores = self.queries @ chunk.T
        top = np.argpartition(-scores, self.k, axis=1)[:, :self.k]
        self.scores = np.concatenate([self.scores, np.take_along_axis(scores, top, 1)], axis=1)
        self.rows = np.concatenate([self.rows, top + first_row], axis=1)
        keep = np.argsort(-self.scores, axis=1)[:, :self.k]
        self.scores, self.rows = np.take_along_axis(self.scores, keep, 1), np.take_along_axis(self.rows, keep, 1)


def build_large(size: int) -> dict:
    """dataset-<size> for sizes whose vectors do not fit in RAM (10M x 512 float32 is 20 GB):
    the same mixture, generated, written and scored chunk by chunk; no float16 comparison."""
    from pixseek.model import find_bundle
    from pixseek.store.catalog import Catalog, NewFile

    folder = dataset_dir(size)
    done = folder / "timings.npy"
    if done.is_file():
        return np.load(done, allow_pickle=True).item()
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(size)
    centres, weights = centroids(size, rng)
    queries = mixture(centres, weights, QUERIES, rng)
    timings = {"size": size}
    start = time.perf_counter()
    make_files(folder / "files", size)
    timings["make_files_s"] = time.perf_counter() - start
    os.environ["PIXSEEK_MODELS"] = str(bench_models())
    catalog = Catalog.open(folder / "index", create=True, model_id=find_bundle("bench-vit-b-32").model_id, dim=DIM)
    catalog.add_roots([str(folder / "files")])
    truth = TopK(queries)
    start = time.perf_counter()
    for i in range(0, size, BATCH):
        chunk = mixture(centres, weights, min(BATCH, size - i), np.random.default_rng([size, i]))
        truth.add(chunk, i)
        paths = [str(folder / "files" / f"{n // PER_FOLDER:05d}" / f"{n:07d}.jpg") for n in range(i, i + len(chunk))]
        stats = [os.stat(p) for p in paths]
        catalog.commit_batch(added=[NewFile(p, st.st_size, st.st_mtime_ns, n.to_bytes(16, "little"), 640, 480, {"clip": v})
                                    for n, (p, st, v) in enumerate(zip(paths, stats, chunk), start=i)])
    timings["catalog_write_s"] = time.perf_counter() - start
    timings.update(_vector_index(folder, catalog))
    np.save(folder / "queries.npy", queries)
    np.save(folder / "truth.npy", truth.rows + 1)  # row ids start at 1
    np.save(done, timings)
    return timings


def _vector_index(folder: Path, catalog) -> dict:
    """Build and save the index's vector index from its catalog (then closed); its timing."""
    from pixseek.store.live_index import LiveVectorIndex

    start = time.perf_counter()
    live = LiveVectorIndex(folder / "index", catalog)
    live.save()
    catalog.close()
    return {"vector_index_build_s": time.perf_counter() - start, "vector_index": live.index.describe()}


def make_files(root: Path, size: int) -> None:
    for start in range(0, size, PER_FOLDER):
        folder = root / f"{start // PER_FOLDER:05d}"
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(start, min(start + PER_FOLDER, size)):
            open(folder / f"{i:07d}.jpg", "wb").close()


def build(size: int) -> dict:
    """Make (once) dataset-<size>: files/, index/ (catalog + saved vector index), queries."""
    from pixseek.files import scan
    from pixseek.metadata import PhotoMetadata
    from pixseek.model import find_bundle
    from pixseek.signals import Description
    from pixseek.store.catalog import Catalog, NewFile

    folder = dataset_dir(size)
    done = folder / "timings.npy"
    if done.is_file():
        return np.load(done, allow_pickle=True).item()
    shutil.rmtree(folder, ignore_errors=True)
    data, queries = vectors(size)
    timings = {}
    start = time.perf_counter()
    make_files(folder / "files", size)
    timings["make_files_s"] = time.perf_counter() - start
    entries = sorted(scan([str(folder / "files")]), key=lambda e: e.path)
    os.environ["PIXSEEK_MODELS"] = str(bench_models())
    catalog = Catalog.open(folder / "index", create=True, model_id=find_bundle("bench-vit-b-32").model_id, dim=DIM)
    catalog.add_roots([str(folder / "files")])
    start = time.perf_counter()
    for i in range(0, size, BATCH):
        catalog.commit_batch(added=[NewFile(e.path, e.size, e.mtime_ns, n.to_bytes(16, "little"), 640, 480,
                                            {"clip": v, "metadata": Description(
                                                PhotoMetadata(e.mtime_ns / 1e9, 0, "file", 640, 480))})
                                    for n, (e, v) in enumerate(zip(entries[i:i + BATCH], data[i:i + BATCH]), start=i)])
    timings["catalog_write_s"] = time.perf_counter() - start
    timings.update(_vector_index(folder, catalog), size=size)
    np.save(folder / "queries.npy", queries)
    np.save(folder / "truth.npy", exact_top(data, queries) + 1)  # row ids start at 1
    np.save(folder / "fp16_top.npy", exact_top(data.astype(np.float16).astype(np.float32), queries) + 1)
    np.save(done, timings)
    return timings


if __name__ == "__main__":
    from benchmarks.common import emit

    size = int(sys.argv[2])
    emit(build_large(size) if size > LARGE else build(size))
