"""How fast each catalogue model's image tower runs on this machine, measured in a few seconds.

A ViT's speed depends on its shape, not its weights, and almost all of its work is its identical
transformer layers. So a model that is not installed is measured by one layer of its exact shape
(tokens, width, 12 heads, 4x MLP) with random weights, built here with ONNX's own helpers (no
PyTorch), quantized to int8 as the installer quantizes, and run as the Encoder runs images: one
image per run, one thread per core, all cores at once; the images/s of the whole tower is that
rate divided by its depth (patch embedding and pooling, a few percent, are left out). An installed
model is measured on its own image tower instead. An architecture that is not a plain ViT
(MobileCLIP's FastViT) has no such stand-in and is measured only when installed.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pixseek.model.bundle import Bundle
from pixseek.model.encoder import Encoder
from pixseek.model.quantize import quantize_tower
from pixseek.model.sessions import CPU_ONLY, create_session

MEASURE_SECONDS = 0.6  # per model, after one warm-up run per thread
HEADS = 12


@dataclass(frozen=True)
class TowerShape:
    """A ViT image tower's shape: what its speed depends on."""

    tokens: int  # patches, plus the class token where the model has one
    width: int
    layers: int


# KnownModel.tower -> its shape; None: not a plain ViT (measured only when installed).
TOWERS: dict[str, TowerShape | None] = {
    "vit-b-32": TowerShape(50, 768, 12), "vit-b-32-256": TowerShape(65, 768, 12), "vit-b-16": TowerShape(197, 768, 12),
    "siglip-b-16": TowerShape(196, 768, 12), "siglip-b-16-384": TowerShape(576, 768, 12), "mobileclip-s2": None,
}


@dataclass(frozen=True)
class Speed:
    images_per_s: float
    measured_on: str  # "installed tower" or "one layer of its shape"


def _layer_graph(shape: TowerShape, path: Path) -> Path:
    """One pre-norm transformer layer of `shape` with random weights, as an ONNX file (fp32)."""
    rng = np.random.default_rng(0)
    width, head = shape.width, shape.width // HEADS

    def weight(name: str, *dims: int) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(dims) * 0.02).astype(np.float32), name)

    def const(name: str, values: list[int]) -> onnx.TensorProto:
        return numpy_helper.from_array(np.asarray(values, np.int64), name)

    initializers = [weight("qkv", width, 3 * width), weight("out", width, width), weight("up", width, 4 * width),
                    weight("down", 4 * width, width), weight("scale", width), weight("bias", width),
                    const("heads", [1, shape.tokens, 3, HEADS, head]), const("merged", [1, shape.tokens, width]),
                    numpy_helper.from_array(np.asarray(head ** -0.5, np.float32), "root")]
    node = helper.make_node
    nodes = [
        node("LayerNormalization", ["x", "scale", "bias"], ["n1"], axis=-1),
        node("MatMul", ["n1", "qkv"], ["qkv_out"]), node("Reshape", ["qkv_out", "heads"], ["split"]),
        node("Transpose", ["split"], ["qkv_heads"], perm=[2, 0, 3, 1, 4]),
        node("Gather", ["qkv_heads", "i0"], ["q"], axis=0), node("Gather", ["qkv_heads", "i1"], ["k"], axis=0),
        node("Gather", ["qkv_heads", "i2"], ["v"], axis=0),
        node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]), node("MatMul", ["q", "kt"], ["scores"]),
        node("Mul", ["scores", "root"], ["scaled"]), node("Softmax", ["scaled"], ["attention"], axis=-1),
        node("MatMul", ["attention", "v"], ["mixed"]), node("Transpose", ["mixed"], ["tokens_first"], perm=[0, 2, 1, 3]),
        node("Reshape", ["tokens_first", "merged"], ["merged_out"]), node("MatMul", ["merged_out", "out"], ["attended"]),
        node("Add", ["x", "attended"], ["h"]), node("LayerNormalization", ["h", "scale", "bias"], ["n2"], axis=-1),
        node("MatMul", ["n2", "up"], ["wide"]), node("Sigmoid", ["wide"], ["gate"]), node("Mul", ["wide", "gate"], ["act"]),
        node("MatMul", ["act", "down"], ["narrow"]), node("Add", ["h", "narrow"], ["y"]),
    ]
    initializers += [numpy_helper.from_array(np.asarray(i, np.int64), f"i{i}") for i in range(3)]
    graph = helper.make_graph(nodes, "layer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, shape.tokens, width])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, shape.tokens, width])], initializers)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _rate(run: Callable[[], object], threads: int) -> float:
    """Calls per second of `run` on `threads` threads at once: each thread's rate over at least
    MEASURE_SECONDS (and one call), after a warm-up call, summed."""
    def worker(_: int) -> float:
        run()
        start, count = time.perf_counter(), 0
        while True:
            run()
            count += 1
            elapsed = time.perf_counter() - start
            if elapsed >= MEASURE_SECONDS:
                return count / elapsed

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(worker, range(threads)))


def layer_speed(shape: TowerShape, threads: int | None = None) -> Speed:
    """The images/s of a tower of `shape`, from one int8 layer of it run on every core."""
    threads = threads or os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="pixseek-speed-") as folder:
        layer = quantize_tower(_layer_graph(shape, Path(folder) / "layer.onnx"), Path(folder) / "layer.int8.onnx")
        # one thread a run, as the Encoder runs each image (spin=False: as while indexing)
        session = create_session(layer, CPU_ONLY, 1, cache=False, spin=False)
        tokens = np.random.default_rng(1).standard_normal((1, shape.tokens, shape.width)).astype(np.float32)
        layers_per_s = _rate(lambda: session.run(None, {"x": tokens}), threads)
    return Speed(layers_per_s / shape.layers, "one layer of its shape")


def installed_speed(bundle: Bundle) -> Speed:
    """The images/s of an installed model's own image tower (its default precision), as indexing runs it."""
    encoder = Encoder(bundle, device="cpu")
    try:
        batch = np.repeat(encoder.preprocess.blank(1), max(encoder.threads, 1), axis=0)
        return Speed(_rate(lambda: encoder.encode_pixels(batch), 1) * len(batch), "installed tower")
    finally:
        encoder.close()
