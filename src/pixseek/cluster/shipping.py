"""The model travels with the job: the driver puts the bundle's files in Ray's object store and
each node writes them to a local folder once, so nodes need pixseek installed but no model,
and every node runs exactly the files the index machine has.

Only what an encoder actor opens is shipped (the chosen image tower, a text tower the Encoder
insists on, the tokenizer), under a config that names just those files. The image tower's
sha256 names the model file in every shard row, so ingest can refuse vectors from other files.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pixseek.model.bundle import CONFIG_NAME, Bundle, BundleConfig
from pixseek.model.encoder import default_precision

if TYPE_CHECKING:  # both imported where used
    import numpy as np
    from ray import ObjectRef

_hash_cache: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path) -> str:
    """sha256 of a file (cached by path, size and mtime: tower files are hundreds of MB)."""
    stat = os.stat(path)
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key not in _hash_cache:
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            while block := handle.read(1 << 20):
                digest.update(block)
        _hash_cache[key] = digest.hexdigest()
    return _hash_cache[key]


@dataclass(frozen=True)
class ShippedModel:
    """A bundle's needed files as object refs (kept inside this object so Ray passes them as
    refs, not values), its narrowed config, and the image tower's sha256."""

    config_json: str
    files: dict[str, ObjectRef[np.ndarray]]  # file name -> a uint8 array (zero-copy on the node)
    image_file_hash: str

    @property
    def config(self) -> BundleConfig:
        return BundleConfig.from_json(self.config_json)


def ship_model(bundle: Bundle, image_precision: str, text_precision: str) -> ShippedModel:
    """Put the files an Encoder with these precisions opens into the object store (driver side)."""
    import numpy as np
    import ray

    config = bundle.config
    image_file = bundle.tower_path("image", image_precision).name
    text_file = bundle.tower_path("text", text_precision).name
    narrowed = (config.with_towers("image", {image_precision: image_file}, image_precision)
                .with_towers("text", {text_precision: text_file}, text_precision))
    files: dict[str, ObjectRef[np.ndarray]] = {}
    for name in {image_file, text_file, config.tokenizer}:
        files[name] = ray.put(np.fromfile(bundle.path / name, dtype=np.uint8))
    return ShippedModel(narrowed.to_json(), files, file_sha256(bundle.path / image_file))


def materialize(shipped: ShippedModel) -> Bundle:
    """The shipped bundle as a folder on this node (written once per node, atomically)."""
    import ray

    target = Path(tempfile.gettempdir()) / "pixseek-cluster" / "models" / shipped.image_file_hash[:32]
    if not (target / CONFIG_NAME).is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=target.parent))
        try:
            for name, ref in shipped.files.items():
                ray.get(ref).tofile(staging / name)
            (staging / CONFIG_NAME).write_text(shipped.config_json)
            os.rename(staging, target)
        except OSError:
            if not (target / CONFIG_NAME).is_file():  # else another actor on this node won the race
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    bundle = Bundle(target, shipped.config)
    if file_sha256(bundle.tower_path("image")) != shipped.image_file_hash:
        raise RuntimeError(f"the model files in {target} differ from the ones shipped; delete the folder")
    return bundle


def tower_choice(bundle: Bundle, precision: str | None, gpu: bool) -> tuple[str, str]:
    """(image, text) precisions for encoder actors: as the Encoder would choose on that device
    (fp32 on CUDA, whose provider runs int8 MatMuls on the CPU), `precision` forcing the image tower."""
    providers = ["CUDAExecutionProvider"] if gpu else []
    return (precision or default_precision(bundle, "image", providers),
            default_precision(bundle, "text", providers))


def accepted_tower_hashes(bundle: Bundle) -> set[str]:
    """sha256 of every image tower file of the bundle: shards made with any of them are this model."""
    return {file_sha256(bundle.path / name) for name in bundle.config.towers("image").values()}

