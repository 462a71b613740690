"""Parquet shards: what a cluster job hands back, one file per few thousand photos.

A row is one photo: its path (bytes, as the catalog keeps it), size, mtime, content hash, pixel
size, and either its vector, a skip reason (the node could not use the file), or neither (a
stored vector already has this content: the catalog supplies it at ingest). Every row names the
image tower file that made its vector (sha256) and the pixel pipeline (decode version and the
model's preprocessing fingerprint): vectors made any other way are not comparable, so such a
shard is refused as a whole. A shard is written to a temporary file, fsynced and renamed, so a
killed writer leaves no half shard under a shard's name.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from pixseek import atomic
from pixseek.errors import ClusterError, ShardRefused

if TYPE_CHECKING:  # the cluster extra, imported where used (pyarrow ships no type hints)
    import pyarrow

SUFFIX = ".parquet"
COLUMNS = ("path", "size", "mtime_ns", "content_hash", "width", "height", "vector", "skip_reason", "skip_detail",
           "model_file_hash", "preprocessing")


@dataclass(frozen=True)
class PixelPipeline:
    """What a vector depends on besides the photo: the tower file and the preprocessing."""

    model_file_hash: str
    preprocessing: str


@dataclass
class ShardRows:
    """A shard's columns as Python/NumPy values (vectors[i] is meaningful where has_vector[i])."""

    paths: list[str]
    sizes: np.ndarray
    mtimes: np.ndarray
    hashes: list[bytes | None]  # None where the file could not be read
    widths: np.ndarray
    heights: np.ndarray
    vectors: np.ndarray
    has_vector: np.ndarray
    skip_reasons: list[str | None]
    skip_details: list[str | None]

    def __len__(self) -> int:
        return len(self.paths)


def _pyarrow() -> Any:  # the pyarrow module, which ships no type hints
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise ClusterError("reading and writing shards needs pyarrow: pip install 'pixseek[cluster]'") from None
    return pyarrow


def _schema(dim: int) -> pyarrow.Schema:
    pa = _pyarrow()

    return pa.schema([("path", pa.binary()), ("size", pa.int64()), ("mtime_ns", pa.int64()),
                      ("content_hash", pa.binary(16)), ("width", pa.int32()), ("height", pa.int32()),
                      ("vector", pa.list_(pa.float32(), dim)), ("skip_reason", pa.string()),
                      ("skip_detail", pa.string()), ("model_file_hash", pa.string()), ("preprocessing", pa.string())])


def list_shards(folder: Path) -> list[Path]:
    """The shards in `folder`, oldest name first (temporary files of a killed writer excluded)."""
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix == SUFFIX and not p.name.startswith(".")) \
        if folder.is_dir() else []


def new_shard_name(run: str, number: int) -> str:
    return f"shard-{run}-{number:06d}{SUFFIX}"


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def write_shard(path: Path, rows: ShardRows, pipeline: PixelPipeline) -> Path:
    """Write `rows` as the shard `path` (temporary file, fsync, rename)."""
    pa = _pyarrow()
    pq = pa.parquet

    dim = rows.vectors.shape[1]
    count = len(rows)
    flat = pa.array(np.ascontiguousarray(rows.vectors, dtype=np.float32).reshape(-1))
    vectors = pa.FixedSizeListArray.from_arrays(flat, dim, mask=pa.array(~rows.has_vector))
    table = pa.Table.from_arrays([
        pa.array([os.fsencode(p) for p in rows.paths], pa.binary()),
        pa.array(rows.sizes, pa.int64()), pa.array(rows.mtimes, pa.int64()),
        pa.array(rows.hashes, pa.binary(16)),
        pa.array(rows.widths, pa.int32()), pa.array(rows.heights, pa.int32()),
        vectors, pa.array(rows.skip_reasons, pa.string()), pa.array(rows.skip_details, pa.string()),
        pa.array([pipeline.model_file_hash] * count, pa.string()),
        pa.array([pipeline.preprocessing] * count, pa.string()),
    ], schema=_schema(dim))
    with atomic.replacing(path, prefix=".shard-", sync=True) as handle:
        pq.write_table(table, handle, compression="zstd")
    return Path(path)


def read_shard(path: Path, accepted: set[PixelPipeline], dim: int) -> ShardRows:
    """The rows of shard `path`, refused (ShardRefused) if damaged, or if made with a tower file
    or preprocessing not in `accepted`, or with vectors of another size than `dim`."""
    pa = _pyarrow()
    pq = pa.parquet

    name = Path(path).name
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise ShardRefused(f"shard {name} is damaged or not a shard ({detail}); nothing in it was ingested") from None
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise ShardRefused(f"shard {name} is not a pixseek shard (no {', '.join(missing)} column)")
    pipelines = set(zip(table["model_file_hash"].to_pylist(), table["preprocessing"].to_pylist()))
    for model_hash, preprocessing in pipelines:
        if PixelPipeline(model_hash, preprocessing) in accepted:
            continue
        if model_hash not in {a.model_file_hash for a in accepted}:
            raise ShardRefused(f"shard {name} was made with another model (its image tower {str(model_hash)[:12]} is "
                               f"not one of this index's model files); nothing in it was ingested")
        raise ShardRefused(f"shard {name} was made with another preprocessing ({preprocessing}, this index's "
                           f"model uses {', '.join(sorted(a.preprocessing for a in accepted))}); nothing in it was ingested")
    vector_type = table.schema.field("vector").type
    if getattr(vector_type, "list_size", dim) != dim:
        raise ShardRefused(f"shard {name} holds {vector_type.list_size}-d vectors, this index {dim}-d")
    column = table["vector"].combine_chunks()
    has_vector = ~np.asarray(column.is_null(), dtype=bool)
    values = np.asarray(column.values, dtype=np.float32)  # null rows keep their slots in a fixed-size list
    vectors = values[column.offset * dim:(column.offset + len(column)) * dim].reshape(len(column), dim)
    return ShardRows(
        paths=[os.fsdecode(p) for p in table["path"].to_pylist()],
        sizes=table["size"].to_numpy(), mtimes=table["mtime_ns"].to_numpy(),
        hashes=table["content_hash"].to_pylist(),
        widths=table["width"].to_numpy(), heights=table["height"].to_numpy(),
        vectors=vectors, has_vector=has_vector,
        skip_reasons=table["skip_reason"].to_pylist(), skip_details=table["skip_detail"].to_pylist())
