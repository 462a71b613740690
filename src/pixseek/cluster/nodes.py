"""What runs on a cluster node: read, hash and decode photos, then embed them.

The same `examine` as the local indexer reads and hashes each file and decodes only content
that no stored vector has (the index machine ships the catalog's content hashes). Batches are
plain column dicts (Ray Data's numpy format), so these functions run, and are tested, without
Ray. On CPU nodes one actor does both steps; with GPUs, CPU tasks decode for GPU actors.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from pixseek.cluster.shards import PixelPipeline, ShardRows
from pixseek.files import FileEntry
from pixseek.images import DECODE_VERSION
from pixseek.indexer import examine
from pixseek.model.preprocess import ClipPreprocessor
from pixseek.signals import ClipVectors

if TYPE_CHECKING:
    from pixseek.model.encoder import Encoder

KNOWN = -1  # "a stored vector has this content"; the catalog finds its row at ingest
Batch = dict[str, np.ndarray]  # Ray Data's "numpy" batch format: column name -> its values


def pipeline_name(preprocess: ClipPreprocessor) -> str:
    """The preprocessing a shard records: this decoder's version and the model's preprocessing."""
    return f"decode{DECODE_VERSION}-{preprocess.fingerprint}"


class KnownContent:
    """The catalog's content hashes, sorted, as one NumPy array of 16-byte strings (160 MB for
    10M photos, read without copying from Ray's object store by every task on a node)."""

    def __init__(self, hashes: np.ndarray):
        self._sorted = hashes

    @staticmethod
    def pack(hashes: Iterable[bytes]) -> np.ndarray:
        return np.sort(np.fromiter(hashes, dtype="S16"))

    def find(self, content: bytes) -> int | None:
        probe = np.array([content], dtype="S16")  # numpy compares fixed-size strings byte for byte
        at = int(np.searchsorted(self._sorted, probe)[0])
        return KNOWN if at < len(self._sorted) and self._sorted[at:at + 1] == probe else None


def decode_batch(batch: Batch, known: KnownContent, min_side: int, preprocess: ClipPreprocessor) -> Batch:
    """Rows (path bytes, size, mtime_ns) -> the shard columns, plus `pixels` for the rows that
    need the model (`needs_vector`; other rows carry zeros of the same shape)."""
    signals = [ClipVectors(min_side, preprocess)]  # the vector alone: the next local run reads the metadata
    outcomes = [examine(FileEntry(os.fsdecode(p), int(s), int(m)), known.find, signals)
                for p, s, m in zip(batch["path"], batch["size"], batch["mtime_ns"])]
    pixels = [o.raw.get(ClipVectors.name) for o in outcomes]
    needs = np.array([p is not None for p in pixels], dtype=bool)
    blank = np.zeros_like(preprocess(Image.new("RGB", (min_side, min_side))))
    return {
        "path": batch["path"], "size": batch["size"], "mtime_ns": batch["mtime_ns"],
        "content_hash": np.array([o.hash or b"" for o in outcomes], dtype=object),
        "width": np.array([o.size[0] for o in outcomes], dtype=np.int32),
        "height": np.array([o.size[1] for o in outcomes], dtype=np.int32),
        "skip_reason": np.array([o.error.reason if o.error else "" for o in outcomes], dtype=object),
        "skip_detail": np.array([o.error.detail if o.error else "" for o in outcomes], dtype=object),
        "needs_vector": needs,
        "pixels": np.stack([p if p is not None else blank for p in pixels]),
    }


def encode_batch(batch: Batch, encoder: Encoder, pipeline: PixelPipeline) -> Batch:
    """Decoded columns -> shard columns: the rows that need it get their vector."""
    needs = np.asarray(batch["needs_vector"], dtype=bool)
    vectors = np.zeros((len(needs), encoder.dim), dtype=np.float32)
    if needs.any():
        vectors[needs] = encoder.encode_pixels(np.asarray(batch["pixels"])[needs])
    columns = {name: value for name, value in batch.items() if name not in ("pixels", "needs_vector")}
    count = len(needs)
    columns.update(vector=vectors, has_vector=needs,
                   model_file_hash=np.array([pipeline.model_file_hash] * count, dtype=object),
                   preprocessing=np.array([pipeline.preprocessing] * count, dtype=object))
    return columns


def shard_rows(batches: list[Batch]) -> dict[PixelPipeline, ShardRows]:
    """Encoded batches (as the driver receives them) as shard rows, by the pipeline that made them."""
    columns = {name: np.concatenate([np.asarray(b[name]) for b in batches]) for name in batches[0]}
    groups: dict[PixelPipeline, ShardRows] = {}
    keys = [PixelPipeline(str(m), str(p)) for m, p in zip(columns["model_file_hash"], columns["preprocessing"])]
    for key in set(keys):
        pick = np.array([k == key for k in keys], dtype=bool)
        groups[key] = ShardRows(
            paths=[os.fsdecode(bytes(p)) for p in columns["path"][pick]],
            sizes=columns["size"][pick].astype(np.int64), mtimes=columns["mtime_ns"][pick].astype(np.int64),
            hashes=[bytes(h) or None for h in columns["content_hash"][pick]],
            widths=columns["width"][pick].astype(np.int32), heights=columns["height"][pick].astype(np.int32),
            vectors=np.asarray(columns["vector"][pick], dtype=np.float32),
            has_vector=columns["has_vector"][pick].astype(bool),
            skip_reasons=[str(r) or None for r in columns["skip_reason"][pick]],
            skip_details=[str(d) or None for d in columns["skip_detail"][pick]])
    return groups
