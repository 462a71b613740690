"""Stand-ins for a face pack, made at test time with the graph interface of InsightFace's
(SCRFD det_10g: input `input.1` [1,3,H,W], nine outputs: scores [1,N,1], box distances [1,N,4]
and landmark offsets [1,N,10] at strides 8, 16, 32, two anchors a place; ArcFace w600k_r50:
`input.1` [N,3,112,112] -> `683` [N,512]), so the real loading, decoding, alignment, storage,
grouping and search run on them.

Random weights would find random faces, so the detector's weights are chosen instead: it
"sees" a face where a 31x31 window at stride 16 is saturated red (a drawn red disc centred on a
multiple of 16 px), with a fixed 96 px box and landmarks where ArcFace's template puts them.
The recogniser is random: a 7x7 average of the aligned face, centred, times a random matrix, so
the same drawing gives the same vector and different colours around the disc different ones.
`draw_face` draws such a face, with a person's colours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from pixseek.model.faces import TEMPLATE

BOX_HALF = 3.0  # the box's half side, in strides (96 px at stride 16)
PALETTE = [(0, 160, 0), (0, 0, 200), (230, 230, 0), (0, 200, 200), (255, 255, 255), (90, 60, 20), (0, 0, 0),
           (120, 120, 255), (60, 130, 60), (200, 200, 120)]


def _detector(path: Path, square: int | None = None) -> None:
    """`square`: the input's height and width fixed at that side, as some exports fix them."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes, inits = [], []

    def const(name: str, value: np.ndarray, dtype: type = np.float32) -> str:
        inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    const("redness_w", np.array([1.0, -0.5, -0.5]).reshape(1, 3, 1, 1))
    nodes.append(helper.make_node("Conv", ["input.1", "redness_w"], ["red"]))
    outputs = {}
    for stride in (8, 16, 32):
        window = 2 * stride - 1
        nodes.append(helper.make_node("AveragePool", ["red"], [f"avg{stride}"], kernel_shape=[window, window],
                                      strides=[stride, stride], pads=[stride - 1] * 4))
        gain, shift = (10.0, 1.5) if stride == 16 else (1.0, 20.0)  # only stride 16 finds faces
        const(f"gain{stride}", np.array(gain))
        const(f"shift{stride}", np.array(shift))
        nodes.append(helper.make_node("Sub", [f"avg{stride}", f"shift{stride}"], [f"s{stride}a"]))
        nodes.append(helper.make_node("Mul", [f"s{stride}a", f"gain{stride}"], [f"s{stride}b"]))
        nodes.append(helper.make_node("Sigmoid", [f"s{stride}b"], [f"s{stride}c"]))
        nodes.append(helper.make_node("Concat", [f"s{stride}c", f"s{stride}c"], [f"s{stride}d"], axis=1))
        zero = const(f"zero{stride}", np.array(0.0))
        nodes.append(helper.make_node("Mul", [f"avg{stride}", zero], [f"z{stride}"]))
        distances = np.full(8, BOX_HALF)
        offsets = np.array([((x - 56) / 112 * 2 * BOX_HALF, (y - 56) / 112 * 2 * BOX_HALF) for x, y in TEMPLATE])
        for kind, per_anchor, values in (("bbox", 4, distances), ("kps", 10, np.tile(offsets.reshape(-1), 2))):
            const(f"{kind}{stride}v", values.reshape(1, 2 * per_anchor, 1, 1))
            nodes.append(helper.make_node("Add", [f"z{stride}", f"{kind}{stride}v"], [f"{kind}{stride}a"]))
        for kind, source, width in (("score", f"s{stride}d", 1), ("bbox", f"bbox{stride}a", 4), ("kps", f"kps{stride}a", 10)):
            nodes.append(helper.make_node("Transpose", [source], [f"{kind}{stride}t"], perm=[0, 2, 3, 1]))
            shape = const(f"{kind}{stride}shape", np.array([1, -1, width]), np.int64)
            outputs[(kind, stride)] = f"{kind}_{stride}"
            nodes.append(helper.make_node("Reshape", [f"{kind}{stride}t", shape], [f"{kind}_{stride}"]))
    order = [(kind, stride) for kind in ("score", "bbox", "kps") for stride in (8, 16, 32)]
    graph = helper.make_graph(
        nodes, "scrfd-stand-in",
        [helper.make_tensor_value_info("input.1", TensorProto.FLOAT, [1, 3, square or "h", square or "w"])],
        [helper.make_tensor_value_info(outputs[key], TensorProto.FLOAT, [1, None, {"score": 1, "bbox": 4, "kps": 10}[key[0]]])
         for key in order], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def _recogniser(path: Path, seed: int, raw: bool = False) -> None:
    """`raw`: as Immich's newer exports, uint8 NHWC in, the normalisation inside the graph."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = np.random.default_rng(seed).standard_normal((147, 512)).astype(np.float32)
    inits = [numpy_helper.from_array(weights, "proj")]
    source = "input.1"
    nodes = []
    if raw:
        inits += [numpy_helper.from_array(np.array(127.5, dtype=np.float32), name) for name in ("mean", "std")]
        nodes += [helper.make_node("Cast", ["input.1"], ["as_float"], to=TensorProto.FLOAT),
                  helper.make_node("Transpose", ["as_float"], ["nchw"], perm=[0, 3, 1, 2]),
                  helper.make_node("Sub", ["nchw", "mean"], ["centred_pixels"]),
                  helper.make_node("Div", ["centred_pixels", "std"], ["normalised"])]
        source = "normalised"
    nodes += [helper.make_node("AveragePool", [source], ["pooled"], kernel_shape=[16, 16], strides=[16, 16]),
             helper.make_node("Flatten", ["pooled"], ["flat"], axis=1),
             helper.make_node("ReduceMean", ["flat"], ["flat_mean"], axes=[1], keepdims=1),
             helper.make_node("Sub", ["flat", "flat_mean"], ["centred"]),
             helper.make_node("MatMul", ["centred", "proj"], ["683"])]
    shape, kind = (["N", 112, 112, 3], TensorProto.UINT8) if raw else (["N", 3, 112, 112], TensorProto.FLOAT)
    graph = helper.make_graph(nodes, "arcface-stand-in", [helper.make_tensor_value_info("input.1", kind, shape)],
                              [helper.make_tensor_value_info("683", TensorProto.FLOAT, ["N", 512])], inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))


def make_pack_source(folder: Path, seed: int = 0, raw: bool = False, square: int | None = None) -> Path:
    """A folder in Immich's layout (detection/model.onnx, recognition/model.onnx) holding stand-ins
    (`raw`: a recogniser taking uint8 NHWC faces; `square`: a detector whose input size is fixed)."""
    (folder / "detection").mkdir(parents=True, exist_ok=True)
    (folder / "recognition").mkdir(parents=True, exist_ok=True)
    _detector(folder / "detection" / "model.onnx", square)
    _recogniser(folder / "recognition" / "model.onnx", seed, raw)
    return folder


def install_stand_in(folder: Path, name: str = "stand-in", seed: int = 0, match_threshold: float = 0.8) -> Path:
    """The stand-ins installed as face pack `name` through pixseek's installer (PIXSEEK_HOME set)."""
    from pixseek.model.faces_packs import install

    source = make_pack_source(folder / f"{name}-source", seed)
    return install(name, source, model_id=f"random/faces-{name}-{seed}", licence="test stand-in",
                   min_score=0.5, match_threshold=match_threshold)


def person_colours(person: int) -> list[tuple[int, int, int]]:
    rng = np.random.default_rng(1000 + person)
    return [PALETTE[int(i)] for i in rng.integers(0, len(PALETTE), 8)]


def draw_face(image: Image.Image, centre: tuple[int, int], person: int) -> None:
    """A stand-in face of `person` centred at `centre` (each a multiple of 16 for an exact box):
    a red disc, and eight squares of the person's colours around it."""
    draw = ImageDraw.Draw(image)
    cx, cy = centre
    draw.rectangle([cx - 46, cy - 46, cx + 46, cy + 46], fill=(128, 128, 128))
    for (dx, dy), colour in zip([(-1, -1), (0, -1), (1, -1), (-1, 0), (1, 0), (-1, 1), (0, 1), (1, 1)],
                                person_colours(person)):
        x, y = cx + dx * 33, cy + dy * 33
        draw.rectangle([x - 11, y - 11, x + 11, y + 11], fill=colour)
    draw.ellipse([cx - 21, cy - 21, cx + 21, cy + 21], fill=(255, 0, 0))


def photo_with_faces(path: Path, faces: list[tuple[tuple[int, int], int]], size=(640, 480),
                     background: Path | None = None) -> Path:
    """A JPEG (PNG if the name says so) with stand-in faces ((centre, person) pairs) drawn on a
    real photo (`background`, scaled to `size`) or on a grey gradient."""
    if background is not None:
        image = Image.open(background).convert("RGB").resize(size)
    else:
        ramp = np.linspace(60, 190, size[0], dtype=np.float32)[None, :, None]
        image = Image.fromarray(np.broadcast_to(ramp, (size[1], size[0], 3)).astype(np.uint8))
    for centre, person in faces:
        draw_face(image, centre, person)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, quality=95) if path.suffix.lower() in (".jpg", ".jpeg") else image.save(path)
    return path
