"""What every hub-layout converter shares: reading their JSON, placing their ONNX towers in a
bundle (with their weight files, a batch made dynamic where the graph allows it), and checking
that a tower takes what its layout promises, so that a surprise is one clear line at install
rather than wrong vectors later."""

from __future__ import annotations

import json
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixseek.errors import ModelInvalid
from pixseek.model.bundle import CONFIG_NAME, BundleConfig, first_line
from pixseek.model.graph import TowerGraph, make_batch_dynamic, read_tower

if TYPE_CHECKING:
    from tokenizers import Tokenizer


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or one line saying what is wrong with it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelInvalid(f"{path.name} is missing from the model files") from None
    except (OSError, ValueError) as exc:
        raise ModelInvalid(f"{path.name} is damaged ({first_line(exc)})") from None
    if not isinstance(data, dict):
        raise ModelInvalid(f"{path.name} is damaged (not a JSON object)")
    return data


def tower_file(kind: str, precision: str) -> str:
    """A tower's file name in a bundle: image.onnx for fp32, image.int8.onnx, text.fp16.onnx ..."""
    return f"{kind}.onnx" if precision == "fp32" else f"{kind}.{precision}.onnx"


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ModelInvalid(message)


def image_input(graph: TowerGraph, name: str) -> tuple[str, int | None]:
    """The preprocessing layout an image tower takes ("float32-nchw" or "uint8-nhwc") and its
    image size when the graph fixes it."""
    require(len(graph.inputs) == 1, f"{name} takes {len(graph.inputs)} inputs; an image tower takes one")
    port = graph.inputs[0]
    require(len(port.shape) == 4, f"{name} takes a {len(port.shape)}-d input; an image tower takes a batch of images")
    if port.type == "uint8":
        require(port.shape[3] == 3, f"{name} takes uint8 images that are not height x width x RGB")
        size = port.shape[1]
        return "uint8-nhwc", size if isinstance(size, int) else None
    require(port.type in ("float", "float16") and port.shape[1] == 3,
            f"{name} takes {port.type} {port.shape}; expected float RGB images (N, 3, size, size)")
    size = port.shape[2]
    return "float32-nchw", size if isinstance(size, int) else None


def text_input(graph: TowerGraph, name: str) -> int | None:
    """Check that a text tower takes token ids (and perhaps a mask); its fixed context length, if any."""
    require(1 <= len(graph.inputs) <= 2 and all(p.type in ("int32", "int64") for p in graph.inputs),
            f"{name} takes {[(p.name, p.type) for p in graph.inputs]}; expected token ids (and an attention mask)")
    length = graph.inputs[0].shape[-1] if len(graph.inputs[0].shape) == 2 else None
    require(length is not None, f"{name} takes ids of shape {graph.inputs[0].shape}; expected (batch, length)")
    return length if isinstance(length, int) else None


def embedding_size(graph: TowerGraph, name: str, declared: int | None) -> int:
    dim = graph.outputs[0].shape[-1] if graph.outputs[0].shape else None
    found = dim if isinstance(dim, int) else declared
    if not isinstance(found, int) or found <= 0:
        raise ModelInvalid(f"{name} does not say how long its vectors are")
    if declared is not None and isinstance(dim, int):
        require(dim == declared, f"{name} gives {dim}-d vectors, but the model's config says {declared}")
    return found


@dataclass(frozen=True)
class PlacedTower:
    """A tower put into a bundle: what its graph takes and gives, its file by precision, and
    whether it takes any batch."""

    graph: TowerGraph
    files: dict[str, str]
    dynamic: bool


def place_tower(source: Path, workdir: Path, kind: str) -> PlacedTower:
    """Put the tower `source` (and the files its weights live in) into the bundle at `workdir` as
    `kind`. An image tower fixed at one image is freed where the graph allows it."""
    graph = read_tower(source)
    name = tower_file(kind, graph.precision)
    destination = workdir / name
    dynamic = graph.batch != 1 or (kind == "image" and make_batch_dynamic(source, destination))
    if not destination.exists():
        shutil.copyfile(source, destination)
    for data in graph.data_files:
        require(Path(data).name == data and not (workdir / data).exists(),
                f"{source.name} keeps its weights in {data!r}, which cannot be placed in a bundle")
        shutil.copyfile(source.parent / data, workdir / data)
    return PlacedTower(graph, {graph.precision: name}, dynamic)


def write_bundle(workdir: Path, config: BundleConfig) -> Path:
    (workdir / CONFIG_NAME).write_text(config.to_json())
    return workdir


def new_config(image: PlacedTower, text: PlacedTower, **fields: Any) -> BundleConfig:
    """A bundle config for one shipped tower of each kind (the installer adds int8 copies)."""
    (image_precision, image_file), = image.files.items()
    (text_precision, text_file), = text.files.items()
    return BundleConfig(image_model=image_file, precision=image_precision, text_model=text_file,
                        text_precision=text_precision, data_files=[*image.graph.data_files, *text.graph.data_files],
                        image_batch=0 if image.dynamic else 1, **fields)


def interpolation(resample: int | str) -> str:
    """Pillow's resample number (2 bilinear, 3 bicubic) or open_clip's name, as preprocess.py names it."""
    names = {2: "bilinear", 3: "bicubic", "bilinear": "bilinear", "bicubic": "bicubic"}
    require(resample in names, f"the model resizes images with filter {resample!r}; pixseek reproduces bicubic and bilinear")
    return names[resample]


def prefix_of(names: Collection[str], *markers: str) -> str | None:
    """The shortest folder prefix ("" or "a/b/") under which every marker file is in `names`."""
    found = [name[: -len(markers[0])] for name in names if name == markers[0] or name.endswith("/" + markers[0])]
    matching = [prefix for prefix in found if all(prefix + marker in names for marker in markers[1:])]
    return min(matching, key=len) if matching else None


def load_tokenizer(path: Path) -> Tokenizer:
    """A tokenizer.json as a `tokenizers.Tokenizer`, or one line saying it is damaged."""
    from tokenizers import Tokenizer

    try:
        return Tokenizer.from_file(str(path))
    except FileNotFoundError:
        raise ModelInvalid(f"{path.name} is missing from the model files") from None
    except Exception as exc:  # tokenizers raises untyped errors on damaged files
        raise ModelInvalid(f"{path.name} is not a usable tokenizer ({first_line(exc)})") from None
