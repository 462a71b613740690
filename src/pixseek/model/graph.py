"""Reading and adjusting ONNX towers from other projects' exports, with the `onnx` package.

Hub exports differ in what their graphs take and give (names, element types, a batch fixed at
1, fp16 or int8 weights, weights in separate files); the converters read that here instead of
trusting file names, and the installer makes a fixed batch dynamic where the graph allows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from pixseek.errors import ModelInvalid
from pixseek.model.bundle import first_line
from pixseek.model.sessions import runtime

if TYPE_CHECKING:  # both imported where used: the CLI starts without them
    import onnx
    import onnxruntime as ort

# Operators that only int8-quantized graphs contain.
QUANTIZED_OPS = {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "QLinearMatMul", "QLinearConv",
                 "MatMulIntegerToFloat", "DequantizeLinear", "QuantizeLinear"}
ELEMENT_TYPES = {1: "float", 2: "uint8", 6: "int32", 7: "int64", 10: "float16"}
# ONNX Runtime's names of those element types, as NumPy types (ids may be int32 or int64,
# pixels float32, float16 or uint8).
NUMPY_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(uint8)": np.uint8,
               "tensor(int32)": np.int32, "tensor(int64)": np.int64}


@dataclass(frozen=True)
class Port:
    """One input or output of a graph: its name, element type and shape (a str for a free axis)."""

    name: str
    type: str
    shape: tuple[int | str, ...]


@dataclass(frozen=True)
class TowerGraph:
    inputs: tuple[Port, ...]
    outputs: tuple[Port, ...]
    precision: str  # "fp32", "fp16" or "int8", from the weights and operators
    data_files: tuple[str, ...]  # files its weights live in (ONNX external data), relative to the graph

    @property
    def batch(self) -> int | str:
        """The first input's batch axis: 1 when fixed at one, a name when free."""
        return self.inputs[0].shape[0] if self.inputs[0].shape else 1


def _port(value: onnx.ValueInfoProto) -> Port:
    tensor = value.type.tensor_type
    dims = tuple(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim)
    return Port(value.name, ELEMENT_TYPES.get(tensor.elem_type, str(tensor.elem_type)), dims)


def _load(path: Path) -> onnx.ModelProto:
    import onnx

    try:
        return onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises its own untyped errors on damaged files
        raise ModelInvalid(f"{path.name} is not a readable ONNX model ({first_line(exc)})") from None


def read_tower(path: Path) -> TowerGraph:
    """What a tower takes and gives, without loading its weights."""
    from onnx import TensorProto

    model = _load(path)
    graph = model.graph
    weights = {init.name for init in graph.initializer}
    inputs = tuple(_port(v) for v in graph.input if v.name not in weights)
    if not inputs or not graph.output:
        raise ModelInvalid(f"{path.name} has no inputs or no outputs")
    data_files = sorted({entry.value for init in graph.initializer if init.data_location == TensorProto.EXTERNAL
                         for entry in init.external_data if entry.key == "location"})
    ops = {node.op_type for node in graph.node}
    fp16 = inputs[0].type == "float16" or any(init.data_type == TensorProto.FLOAT16 for init in graph.initializer)
    precision = "int8" if ops & QUANTIZED_OPS else "fp16" if fp16 else "fp32"
    return TowerGraph(inputs, tuple(_port(v) for v in graph.output), precision, tuple(data_files))


def _random_feed(spec: ort.NodeArg, batch: int, rng: np.random.Generator) -> np.ndarray:
    """Inputs for an ONNX Runtime input `spec`: ids, pixels or floats of its type and shape."""
    dtype = NUMPY_TYPES.get(spec.type, np.float32)
    shape = [batch, *[d if isinstance(d, int) and d > 0 else 8 for d in spec.shape[1:]]]
    if dtype in (np.int32, np.int64):
        return rng.integers(1, 100, shape).astype(dtype)
    if dtype == np.uint8:
        return rng.integers(0, 256, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def batch_independent(path: Path, batch: int = 3) -> bool:
    """True when the tower runs a batch of `batch` and gives each item what it gives it alone."""
    ort = runtime()

    options = ort.SessionOptions()
    options.log_severity_level = 4  # a graph that cannot take the batch fails loudly in ORT's log
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        rng = np.random.default_rng(0)
        feeds = {spec.name: _random_feed(spec, batch, rng) for spec in session.get_inputs()}
        together = np.asarray(session.run(None, feeds)[0], dtype=np.float32)
        alone = np.concatenate([np.asarray(session.run(None, {k: v[i : i + 1] for k, v in feeds.items()})[0], dtype=np.float32)
                                for i in range(batch)])
    except Exception:  # ORT's shape errors are untyped; any of them means "not with this batch"
        return False
    return together.shape == alone.shape and np.allclose(together, alone, rtol=1e-3, atol=1e-4)


def _reshape_targets(graph: onnx.GraphProto) -> dict[str, onnx.TensorProto]:
    """The constant target shapes of Reshape nodes (initializers or Constant nodes) that nothing
    else reads, by name: the tensors that hold a batch fixed at export."""
    from collections import Counter

    readers = Counter(name for node in graph.node for name in node.input)
    shapes = {node.input[1] for node in graph.node if node.op_type == "Reshape" and len(node.input) > 1
              and not any(a.name == "allowzero" and a.i for a in node.attribute)}
    tensors = {init.name: init for init in graph.initializer}
    tensors.update({node.output[0]: node.attribute[0].t for node in graph.node
                    if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value"})
    reshape_reads = Counter(node.input[1] for node in graph.node if node.op_type == "Reshape" and len(node.input) > 1)
    return {name: tensors[name] for name in shapes if name in tensors and readers[name] == reshape_reads[name]}


def _leading_axis_from_batch(graph: onnx.GraphProto, batch_input: str) -> None:
    """Make every Expand whose target shape leads with 1 lead with the input's batch size instead
    (CLIP's class token is expanded to (1, 1, width) in a graph traced at batch 1)."""
    from onnx import helper, numpy_helper

    prefix = "pixseek_batch_"
    graph.initializer.extend([numpy_helper.from_array(np.array([value], np.int64), f"{prefix}{name}")
                              for name, value in (("zero", 0), ("one", 1), ("end", 2**62))])
    zero, one, end = (f"{prefix}{name}" for name in ("zero", "one", "end"))
    nodes = [helper.make_node("Shape", [batch_input], [f"{prefix}shape"]),
             helper.make_node("Slice", [f"{prefix}shape", zero, one], [f"{prefix}size"])]
    for index, node in enumerate(list(graph.node)):
        if node.op_type == "Expand":
            target, name = node.input[1], f"{prefix}expand{index}_"
            nodes += [helper.make_node("Slice", [target, zero, one], [name + "lead"]),
                      helper.make_node("Slice", [target, one, end], [name + "rest"]),
                      helper.make_node("Equal", [name + "lead", one], [name + "is_one"]),
                      helper.make_node("Where", [name + "is_one", f"{prefix}size", name + "lead"], [name + "batch"]),
                      helper.make_node("Concat", [name + "batch", name + "rest"], [name + "target"], axis=0)]
            node.input[1] = name + "target"
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)


def make_batch_dynamic(source: Path, destination: Path) -> bool:
    """Write a copy of a tower exported with its batch fixed at 1 that takes any batch, if the graph
    allows it: the batch axis of inputs and outputs is freed, reshapes to a fixed leading 1 copy
    their input's leading axis instead (a 0 in ONNX's Reshape), and expansions to a leading 1
    expand to the batch. Kept only when the copy gives each image exactly what the original does
    alone (checked by running it); returns whether it was kept. CLIP's image towers pass; SigLIP's
    attention-pooling head (sequence-first) does not, and runs one image at a time."""
    import onnx
    from onnx import numpy_helper

    model = _load(source)
    graph = model.graph
    if any(init.data_location == onnx.TensorProto.EXTERNAL for init in graph.initializer):
        return False  # too large to rewrite in memory; run it one image at a time
    weights = {init.name for init in graph.initializer}
    inputs = [v for v in graph.input if v.name not in weights]
    for value in [*inputs, *graph.output]:
        dims = value.type.tensor_type.shape.dim
        if dims and dims[0].HasField("dim_value") and dims[0].dim_value == 1:
            dims[0].dim_param = "batch"
    del graph.value_info[:]  # shapes inferred for batch 1 would contradict a larger batch
    for tensor in _reshape_targets(graph).values():
        shape = numpy_helper.to_array(tensor)
        if shape.ndim == 1 and len(shape) > 1 and shape[0] == 1:
            tensor.CopyFrom(numpy_helper.from_array(np.concatenate([[0], shape[1:]]).astype(shape.dtype), tensor.name))
    _leading_axis_from_batch(graph, inputs[0].name)
    onnx.save(model, str(destination))
    if batch_independent(destination):
        return True
    destination.unlink(missing_ok=True)
    return False
