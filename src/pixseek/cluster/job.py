"""The cluster job, driven from the machine that holds the index.

plan (here, as for a local run) -> a Ray Data dataset of the files to embed -> actor pools on
the nodes (CPU nodes: one single-threaded actor per core reads, decodes and embeds; with GPUs:
CPU tasks on every node decode, one actor per GPU embeds) -> results stream back to the driver,
which writes them as Parquet shards and ingests each shard at once. Ray retries the work of a
lost node or actor; what reached a shard is committed, so a killed driver loses at most the
shard it was filling, and the next run plans only what is still missing.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from pixseek.cluster.ingest import Ingester
from pixseek.cluster.nodes import Batch, KnownContent, decode_batch, encode_batch, pipeline_name, shard_rows
from pixseek.cluster.session import ClusterInfo, ray_session
from pixseek.cluster.shards import PixelPipeline, new_run_id, new_shard_name, write_shard
from pixseek.cluster.shipping import ShippedModel, materialize, ship_model, tower_choice
from pixseek.environment import number
from pixseek.errors import ClusterError, PixseekError, ShardRefused
from pixseek.indexer import Plan, batch_size
from pixseek.model.bundle import Bundle, BundleConfig
from pixseek.engine.results import IndexReport, Progress, ProgressCallback
from pixseek.model.encoder import Encoder
from pixseek.store.catalog import Catalog

if TYPE_CHECKING:  # imported where used: Ray is an optional extra
    import numpy as np
    import ray.data
    from ray import ObjectRef

DEFAULT_SHARD_ROWS = 1024  # photos per shard and per ingest transaction (PIXSEEK_SHARD_ROWS)
SHARD_SECONDS = 10.0  # a shard is written at least this often while results arrive
GPU_BATCH = 128  # a GPU encoder's batch (3,083 images/s at 32, 6,084 at 128 on an H200, fp32)


class _EmbedPhotos:
    """CPU actor: read, decode and embed, on one core (many single-threaded ONNX Runtime
    sessions beat one many-threaded session: 16 x 48 against 264 images/s on 16 cores)."""

    def __init__(self, model: ShippedModel, known: list[ObjectRef[np.ndarray]]):
        import ray

        config = model.config
        self.encoder = Encoder(materialize(model), precision=config.precision, text_precision=config.text_precision,
                               device="cpu", threads=1)
        self.known = KnownContent(ray.get(known[0]))
        self.pipeline = PixelPipeline(model.image_file_hash, pipeline_name(self.encoder.preprocess))

    def __call__(self, batch: Batch) -> Batch:
        decoded = decode_batch(batch, self.known, self.encoder.image_size, self.encoder.preprocess)
        return encode_batch(decoded, self.encoder, self.pipeline)


class _EncodePixels:
    """GPU actor: embeds what the decode tasks prepared (on the CPU where ONNX Runtime has no
    CUDA provider on that node: install onnxruntime-gpu there)."""

    def __init__(self, model: ShippedModel):
        config = model.config
        self.encoder = Encoder(materialize(model), precision=config.precision, text_precision=config.text_precision,
                               device="auto")
        self.pipeline = PixelPipeline(model.image_file_hash, pipeline_name(self.encoder.preprocess))

    def __call__(self, batch: Batch) -> Batch:
        return encode_batch(batch, self.encoder, self.pipeline)


def _decode_photos(batch: Batch, config_json: str, known: list[ObjectRef[np.ndarray]]) -> Batch:
    """CPU task (GPU clusters): read and decode for the GPU actors."""
    import ray

    config = BundleConfig.from_json(config_json)
    return decode_batch(batch, KnownContent(ray.get(known[0])), config.image_size, config.preprocessor())


def _dataset(cluster: ClusterInfo, plan: Plan, model: ShippedModel, known_ref: ObjectRef[np.ndarray]) -> ray.data.Dataset:
    import pyarrow as pa
    import ray

    entries = plan.candidates
    table = pa.table({"path": pa.array([os.fsencode(e.path) for e in entries], pa.binary()),
                      "size": pa.array([e.size for e in entries], pa.int64()),
                      "mtime_ns": pa.array([e.mtime_ns for e in entries], pa.int64())})
    workers = cluster.gpus or cluster.cpus
    block = max(8, min(1024, len(entries) // (4 * workers)))  # enough blocks to keep every worker busy
    dataset: ray.data.Dataset = ray.data.from_arrow([table.slice(i, block) for i in range(0, len(entries), block)])
    known = [known_ref]  # in a list, so that Ray hands workers the reference, not a copy
    if cluster.gpus:
        # (Ray's hints take a function of the batch alone: they do not see fn_kwargs)
        dataset = dataset.map_batches(_decode_photos,  # type: ignore[arg-type]
                                      fn_kwargs={"config_json": model.config_json, "known": known},
                                      batch_size=batch_size(), num_cpus=1, batch_format="numpy")
        return dataset.map_batches(_EncodePixels, fn_constructor_kwargs={"model": model}, batch_size=GPU_BATCH,
                                   num_gpus=1, batch_format="numpy",
                                   compute=ray.data.ActorPoolStrategy(min_size=1, max_size=cluster.gpus))
    return dataset.map_batches(_EmbedPhotos, fn_constructor_kwargs={"model": model, "known": known},
                               batch_size=batch_size(), num_cpus=1, batch_format="numpy",
                               compute=ray.data.ActorPoolStrategy(min_size=1, max_size=cluster.cpus,
                                                                  initial_size=cluster.cpus))


class _ShardWriter:
    """Collects result batches and, every PIXSEEK_SHARD_ROWS photos or SHARD_SECONDS, writes
    them as shards and ingests them (deleting each ingested shard unless the shards are kept)."""

    def __init__(self, folder: Path, ingester: Ingester, keep: bool):
        self.limit = number("PIXSEEK_SHARD_ROWS", DEFAULT_SHARD_ROWS, minimum=1)
        self.folder = folder
        self.ingester = ingester
        self.keep = keep
        self.run = new_run_id()
        self.written = 0
        self._batches: list[Batch] = []
        self._rows = 0
        self._since = time.monotonic()

    def add(self, batch: Batch) -> None:
        self._batches.append(batch)
        self._rows += len(batch["path"])
        if self._rows >= self.limit or time.monotonic() - self._since >= SHARD_SECONDS:
            self.flush()

    def flush(self) -> None:
        batches, self._batches, self._rows, self._since = self._batches, [], 0, time.monotonic()
        if not batches:
            return
        for pipeline, rows in shard_rows(batches).items():
            self.written += 1
            path = write_shard(self.folder / new_shard_name(self.run, self.written), rows, pipeline)
            try:
                self.ingester.ingest_file(path)
            except ShardRefused as refusal:  # a node with another pixseek: its photos stay to do
                self.ingester.report.skipped.append((str(path), str(refusal)))
                continue
            if not self.keep:
                path.unlink()


def run_job(catalog: Catalog, plan: Plan, bundle: Bundle, precision: str | None, address: str, shards: Path,
            keep_shards: bool, progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
            dashboard: bool = False) -> IndexReport:
    """Embed `plan`'s candidates on the cluster at `address` and merge them into `catalog`."""
    report = IndexReport(unchanged=plan.unchanged, skipped_before=plan.skipped_before, skipped=list(plan.scan_errors))
    ingester = Ingester(catalog, bundle, plan, report)
    start = time.monotonic()
    if plan.candidates:
        shards.mkdir(parents=True, exist_ok=True)
        with ray_session(address, dashboard) as cluster:
            writer = _ShardWriter(shards, ingester, keep_shards)
            try:
                _stream(cluster, catalog, plan, bundle, precision, writer, report, start, progress, cancel)
            finally:
                writer.flush()  # what arrived is complete: commit it, even when the job failed
    ingester.batch.finish(report)
    report.elapsed = time.monotonic() - start
    return report


def _stream(cluster: ClusterInfo, catalog: Catalog, plan: Plan, bundle: Bundle, precision: str | None, writer: _ShardWriter,
            report: IndexReport, start: float, progress: ProgressCallback | None, cancel: threading.Event | None) -> None:
    import ray

    if not (cluster.gpus or cluster.cpus):
        raise ClusterError(f"the Ray cluster at {cluster.address} has no CPUs or GPUs for work")
    image_precision, text_precision = tower_choice(bundle, precision, gpu=cluster.gpus > 0)
    model = ship_model(bundle, image_precision, text_precision)
    known = ray.put(KnownContent.pack(catalog.content_hashes()))
    total, done = len(plan.candidates), 0
    try:
        for batch in _dataset(cluster, plan, model, known).iter_batches(batch_size=None, batch_format="numpy"):
            writer.add(batch)
            done += len(batch["path"])
            if progress:
                elapsed = time.monotonic() - start
                progress(Progress(done, total, report.indexed, report.reused, len(report.skipped) - len(plan.scan_errors),
                                  elapsed, done / elapsed if elapsed > 0 else 0.0, os.fsdecode(batch["path"][-1]),
                                  nodes=cluster.nodes_alive()))
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                return
    except PixseekError:
        raise
    except Exception as exc:  # Ray reports a failed job with its own exception types
        text = str(exc).strip()
        detail = text.splitlines()[0][:200] if text else type(exc).__name__
        raise ClusterError(f"the job on the Ray cluster failed ({detail}); every photo received so far is in "
                           "the index: run the same command again to finish") from exc
