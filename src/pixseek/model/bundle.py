"""A model bundle: a folder holding the two ONNX towers, the tokenizer and `pixseek-model.json`.

The config names everything the engine needs to run the model without knowing where it came
from: embedding size, CLIP preprocessing constants, context length and a model id that the
index records, so that vectors from different models are never mixed.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixseek import paths
from pixseek.atomic import write_bytes
from pixseek.errors import ModelInvalid, ModelNotInstalled
from pixseek.model.known_models import DEFAULT_MODEL, install_hint, installed_name

if TYPE_CHECKING:
    from pixseek.model.preprocess import ClipPreprocessor

CONFIG_NAME = "pixseek-model.json"
BUNDLE_FORMAT = 2
# Format 1 bundles (before the hub layouts) read as format 2 with the new fields' defaults.
READABLE_FORMATS = (1, 2)
# Per tower: the config fields naming its default precision, its default file and its other files.
TOWER_FIELDS = {"image": ("precision", "image_model", "image_variants"),
                "text": ("text_precision", "text_model", "text_variants")}
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def default_model() -> str:
    """The model used when none is named: $PIXSEEK_MODEL, else pixseek's default."""
    return os.environ.get("PIXSEEK_MODEL") or DEFAULT_MODEL


STAND_IN_PREFIX = "random/"  # the model id of random-weight models (export_random, install_random)


def stand_in_warning(model_id: str) -> str | None:
    """The one wording every face shows for a random-weight stand-in (what `make run` installs
    where the real weights cannot be downloaded), so nobody takes its rankings for search."""
    if not model_id.startswith(STAND_IN_PREFIX):
        return None
    return (f"{model_id} has random weights, a stand-in for testing: its results are meaningless; "
            "install the real model to search by meaning")


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (ONNX Runtime's run to pages), or its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class BundleConfig:
    model_id: str
    embedding_dim: int
    image_size: int = 224
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    context_length: int = 77
    image_model: str = "image.onnx"
    text_model: str = "text.onnx"
    tokenizer: str = "tokenizer.json"
    precision: str = "fp32"
    # Other image towers in the folder by precision, e.g. {"fp32": "image.onnx"}.
    image_variants: dict[str, str] = field(default_factory=dict)
    # The same for the text tower (added later: bundles without these fields have an fp32 text tower).
    text_precision: str = "fp32"
    text_variants: dict[str, str] = field(default_factory=dict)
    # How images are prepared (see preprocess.py): the defaults are Hugging Face CLIP's.
    resize_mode: str = "shortest"
    crop_rounding: str = "floor"
    interpolation: str = "bicubic"
    image_layout: str = "float32-nchw"
    # 1 where the image tower only takes one image at a time (batch fixed at export), else 0.
    image_batch: int = 0
    # How text is prepared (see tokenizer.py): cleaning, the id that pads, and whether padding may
    # be cut (true for CLIP's causal text towers, which read the end token; false where a tower
    # reads a fixed position or the whole sequence).
    text_clean: str = "clip"
    pad_id: int = 0
    trim_padding: bool = True
    # "flores200" where the text tower reads the query's language code first (NLLB-CLIP), else "".
    language_codes: str = ""
    # Files that towers keep their weights in (ONNX external data), named by the towers.
    data_files: list[str] = field(default_factory=list)
    # Where the model came from: hub layout, repo and revision, or the folder it was installed from.
    source: dict[str, str] = field(default_factory=dict)
    format: int = BUNDLE_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def files(self) -> list[str]:
        """Every file of the bundle that this config names, itself excepted."""
        return [self.tokenizer, *self.towers("image").values(), *self.towers("text").values(), *self.data_files]

    def towers(self, kind: str) -> dict[str, str]:
        """Every file of tower `kind` ("image" or "text") by precision, the default included."""
        precision, model, variants = TOWER_FIELDS[kind]
        return {**getattr(self, variants), getattr(self, precision): getattr(self, model)}

    def with_towers(self, kind: str, towers: dict[str, str], default: str) -> BundleConfig:
        """This config with tower `kind` made of `towers`, `default` being the one used unless asked."""
        precision, model, variants = TOWER_FIELDS[kind]
        others = {name: file for name, file in towers.items() if name != default}
        fields: dict[str, Any] = {precision: default, model: towers[default], variants: others}
        return replace(self, **fields)

    def preprocessor(self) -> ClipPreprocessor:
        """The image preprocessing this model was trained with."""
        # why: NumPy and Pillow, which the CLI's parser (it imports this module) must not load
        from pixseek.model.preprocess import ClipPreprocessor

        return ClipPreprocessor(self.image_size, self.mean, self.std, self.resize_mode, self.crop_rounding,
                                self.interpolation, self.image_layout)

    def check(self) -> None:
        """Refuse settings this pixseek cannot reproduce (a damaged or newer config)."""
        # why: as in preprocessor()
        from pixseek.model.preprocess import CROP_ROUNDINGS, INTERPOLATIONS, LAYOUTS, RESIZE_MODES
        from pixseek.model.tokenizer import CLEANING, LANGUAGE_CODES

        allowed = {"resize_mode": RESIZE_MODES, "crop_rounding": CROP_ROUNDINGS, "interpolation": tuple(INTERPOLATIONS),
                   "image_layout": LAYOUTS, "text_clean": tuple(CLEANING), "language_codes": LANGUAGE_CODES}
        for name, choices in allowed.items():
            if getattr(self, name) not in choices:
                raise ModelInvalid(f"model bundle config has {name} {getattr(self, name)!r}; "
                                   f"expected one of {', '.join(choices)}")
        if not (isinstance(self.embedding_dim, int) and self.embedding_dim > 0 and isinstance(self.image_size, int)
                and self.image_size > 0 and isinstance(self.context_length, int) and self.context_length > 1):
            raise ModelInvalid("model bundle config has an impossible embedding size, image size or context length")

    @classmethod
    def from_json(cls, text: str) -> BundleConfig:
        data = json.loads(text)
        if data.get("format") not in READABLE_FORMATS:
            raise ModelInvalid(f"model bundle format {data.get('format')!r} is not supported (this pixseek reads "
                               f"{', '.join(map(str, READABLE_FORMATS))}); a newer pixseek made it")
        data["format"] = BUNDLE_FORMAT
        data["mean"] = tuple(data["mean"])
        data["std"] = tuple(data["std"])
        known = cls.__dataclass_fields__
        config = cls(**{k: v for k, v in data.items() if k in known})
        for name in config.files():
            # A config from a download or a copied-in folder must not reach outside its bundle.
            if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
                raise ModelInvalid(f"model bundle config names {name!r}, which is not a file name in the bundle")
        config.check()
        return config


@dataclass(frozen=True)
class Bundle:
    path: Path
    config: BundleConfig

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def model_id(self) -> str:
        return self.config.model_id

    def tower_path(self, kind: str, precision: str | None = None) -> Path:
        """The file of tower `kind` ("image" or "text") for `precision` (None: the bundle's default)."""
        default = getattr(self.config, TOWER_FIELDS[kind][0])
        file = self.config.towers(kind).get(precision or default)
        if file is None:
            raise ModelInvalid(f"model {self.name} has no {precision} {kind} tower")
        return self.path / file

    def image_model_path(self, precision: str | None = None) -> Path:
        return self.tower_path("image", precision)

    @property
    def text_model_path(self) -> Path:
        return self.tower_path("text")

    @property
    def tokenizer_path(self) -> Path:
        return self.path / self.config.tokenizer

    def size_bytes(self) -> int:
        return sum(f.stat().st_size for f in self.path.iterdir() if f.is_file())

    def save_config(self, config: BundleConfig) -> Bundle:
        """Write a new config atomically and return the updated bundle."""
        write_bytes(self.path / CONFIG_NAME, config.to_json().encode())
        return Bundle(self.path, config)

    @classmethod
    def load(cls, path: Path) -> Bundle:
        path = Path(path)
        config_file = path / CONFIG_NAME
        if not config_file.is_file():
            raise ModelInvalid(f"{path} is not a pixseek model bundle (no {CONFIG_NAME})")
        try:
            config = BundleConfig.from_json(config_file.read_text())
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelInvalid(f"{config_file} is damaged: {exc}") from None
        bundle = cls(path, config)
        for name in config.files():
            if not (path / name).is_file():
                raise ModelInvalid(f"model {path.name} is incomplete: {name} is missing; reinstall it")
        return bundle


def installed_bundles() -> list[Bundle]:
    """Every valid bundle in the models folder, by name."""
    root = paths.models_dir()
    if not root.is_dir():
        return []
    bundles = []
    for child in sorted(root.iterdir()):
        if not child.name.startswith(".") and (child / CONFIG_NAME).is_file():
            try:
                bundles.append(Bundle.load(child))
            except ModelInvalid:
                continue
    return bundles


def find_bundle(name_or_path: str | None = None, model_id: str | None = None) -> Bundle:
    """Resolve a bundle by folder path, installed name, or the model id an index recorded."""
    if model_id is not None:
        for bundle in installed_bundles():
            if bundle.model_id == model_id:
                return bundle
        raise ModelNotInstalled(f"this index was built with model {model_id!r}, which is not installed; "
                                f"{install_hint(installed_name(model_id))}")
    name = name_or_path or default_model()
    candidate = Path(name).expanduser()
    if candidate.is_dir():
        return Bundle.load(candidate)
    installed = paths.models_dir() / name
    if installed.is_dir():
        return Bundle.load(installed)
    raise ModelNotInstalled(f"model {name!r} is not installed; {install_hint(name)}")
