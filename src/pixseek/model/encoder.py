"""The Encoder: CLIP image and text towers on ONNX Runtime, returning unit-length float32 vectors.

Sessions are created on first use, so a text search never pays for loading the image tower
and indexing never loads the text tower. CUDA is used when ONNX Runtime offers it.
"""

from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from pixseek import paths
from pixseek.errors import ModelInvalid
from pixseek.model.bundle import Bundle, first_line
from pixseek.model.graph import NUMPY_TYPES
from pixseek.model.sessions import create_session, runtime
from pixseek.model.tokenizer import TextTokenizer

if TYPE_CHECKING:
    import onnxruntime as ort

DEVICES = ("auto", "cpu", "cuda")
log = logging.getLogger(__name__)


def _providers(device: str) -> list[str]:
    ort = runtime()

    available = ort.get_available_providers()
    if device == "cuda" and "CUDAExecutionProvider" not in available:
        raise ModelInvalid("CUDA was asked for, but this ONNX Runtime has no CUDA provider (pip install onnxruntime-gpu)")
    if device in ("auto", "cuda") and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def usable_cores() -> int:
    """Cores this process may run on (a container or `taskset` may allow fewer than the machine has)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1

SIDE_BY_SIDE = 4  # photos read at once at most by the passes after the vectors (text, faces)


def side_by_side() -> tuple[int, int]:
    """(photos read side by side, ONNX Runtime threads each) for the passes after the vectors
    (text, faces). One photo's small convolutions spread over many threads poorly: on 2 cores,
    two photos side by side on a thread each read 1.3-1.4x the photos a second that one photo
    at a time on two threads did (docs/text-in-photos.md)."""
    cores = usable_cores()
    photos = min(cores, SIDE_BY_SIDE)
    return photos, max(1, cores // photos)


def _threads(threads: int | None) -> int:
    value = threads or os.environ.get("PIXSEEK_THREADS") or 0
    try:
        return int(value) or usable_cores()
    except ValueError:
        raise ModelInvalid(f"PIXSEEK_THREADS={value!r} is not a number of threads") from None


def default_precision(bundle: Bundle, kind: str, providers: list[str]) -> str:
    """The bundle's default precision for tower `kind`, except fp32 on CUDA: ONNX Runtime's CUDA
    provider has no kernels for dynamically quantized MatMuls, so int8 would run them on the CPU."""
    towers = bundle.config.towers(kind)
    if providers[:1] == ["CUDAExecutionProvider"] and "fp32" in towers:
        return "fp32"
    return bundle.config.precision if kind == "image" else bundle.config.text_precision


def normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: np.ndarray = vectors / np.maximum(norms, 1e-12)  # (NumPy's stubs: Any)
    return unit


class Encoder:
    """`precision` picks the image tower, `text_precision` the text tower (None: the bundle's)."""

    def __init__(self, bundle: Bundle, precision: str | None = None, device: str | None = None, threads: int | None = None,
                 text_precision: str | None = None):
        self.bundle = bundle
        self.device = device or os.environ.get("PIXSEEK_DEVICE", "auto")
        if self.device not in DEVICES:
            raise ModelInvalid(f"unknown device {self.device!r}; use one of {', '.join(DEVICES)}")
        providers = _providers(self.device) if self.device != "cpu" else []
        self.precision = precision or default_precision(bundle, "image", providers)
        self.text_precision = text_precision or default_precision(bundle, "text", providers)
        self.threads = _threads(threads)
        self.image_model_path = bundle.tower_path("image", self.precision)
        self.text_model_path = bundle.tower_path("text", self.text_precision)
        for path, kind in ((self.image_model_path, "image"), (self.text_model_path, "text")):
            if not path.is_file():
                raise ModelInvalid(f"model {bundle.name} is incomplete: its {kind} tower {path.name} is missing; reinstall it")
        self.preprocess = bundle.config.preprocessor()
        # Each image in a run of its own, several runs at once with one thread each: on the CPU as
        # fast as batches (measured within 5%), and a photo's vector is then the same bit for bit
        # whatever it is batched with (dynamic int8 scales activations per run). A GPU needs
        # batches; a tower exported for one image takes nothing else.
        self.one_image_per_run = bundle.config.image_batch == 1 or providers[:1] != ["CUDAExecutionProvider"]
        self._sessions: dict[str, ort.InferenceSession] = {}
        self._tokenizer: TextTokenizer | None = None
        self._single_runs: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._tokenizer_lock = threading.Lock()
        self._preloads: list[threading.Thread] = []

    @property
    def model_id(self) -> str:
        return self.bundle.model_id

    @property
    def dim(self) -> int:
        return self.bundle.config.embedding_dim

    @property
    def image_size(self) -> int:
        return self.bundle.config.image_size

    @property
    def providers(self) -> list[str]:
        return _providers(self.device)

    def describe(self) -> str:
        """Where and how the towers run, in a few words (for status displays)."""
        where = "CUDA" if self.providers[:1] == ["CUDAExecutionProvider"] else f"CPU, {self.threads} threads"
        images = "each image alone" if self.one_image_per_run else "in batches"
        return f"{where}: {self.precision} image tower ({images}), {self.text_precision} text tower"

    def _session(self, kind: str) -> ort.InferenceSession:
        with self._lock:
            if kind not in self._sessions:
                path = self.image_model_path if kind == "image" else self.text_model_path
                try:
                    # Only installed models use the optimised-model cache: not one being installed
                    # (in a staging folder), not a folder named by path, whose copies would pile up.
                    cache = kind == "text" and self.bundle.path.parent.resolve() == paths.models_dir().resolve()
                    # A tower that takes one image at a time runs several at once, one thread each.
                    threads = 1 if kind == "image" and self.one_image_per_run else self.threads
                    # The text tower answers one query at a time: spinning threads cut its latency.
                    self._sessions[kind] = create_session(path, self.providers, threads, cache, spin=kind == "text")
                    if "CUDAExecutionProvider" in self.providers[:1] and \
                            "CUDAExecutionProvider" not in self._sessions[kind].get_providers():
                        log.warning("ONNX Runtime has CUDA but could not use it (a driver or CUDA library is missing): "
                                    "the %s tower runs on the CPU", kind)
                except Exception as exc:  # ORT raises its own untyped errors for damaged files
                    detail = first_line(exc).replace(str(path), path.name)
                    raise ModelInvalid(f"model {self.bundle.name}: cannot load {path.name} ({detail}); reinstall it") from None
            return self._sessions[kind]

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Embed a batch of preprocessed images (as `self.preprocess` makes them, stacked)."""
        session = self._session("image")
        spec = session.get_inputs()[0]
        pixels = np.ascontiguousarray(pixels, dtype=NUMPY_TYPES.get(spec.type, np.float32))

        def run(batch: np.ndarray) -> np.ndarray:
            return np.asarray(session.run(None, {spec.name: batch})[0], dtype=np.float32)

        if not self.one_image_per_run or len(pixels) == 1:
            return normalise(run(pixels))
        with self._lock:
            if self._single_runs is None:
                self._single_runs = ThreadPoolExecutor(self.threads, thread_name_prefix="pixseek-encode")
        return normalise(np.concatenate(list(self._single_runs.map(run, [pixels[i : i + 1] for i in range(len(pixels))]))))

    def encode_images(self, images: list[Image.Image]) -> np.ndarray:
        return self.encode_pixels(np.stack([self.preprocess(image) for image in images]))

    def _text_tokenizer(self) -> TextTokenizer:
        with self._tokenizer_lock:
            if self._tokenizer is None:
                config = self.bundle.config
                try:
                    self._tokenizer = TextTokenizer(self.bundle.tokenizer_path, config.context_length, config.pad_id,
                                                    config.text_clean, config.language_codes)
                except Exception as exc:  # tokenizers raises untyped errors for damaged files
                    raise ModelInvalid(f"model {self.bundle.name}: cannot load its tokenizer ({first_line(exc)}); "
                                       "reinstall it") from None
            return self._tokenizer

    def tokenize(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return self._text_tokenizer()(texts)

    def preload(self, *kinds: str) -> threading.Thread:
        """Load towers ("text", "image") in the background, e.g. while a search opens its index.

        Errors are not lost: the tower is loaded again, and fails again, when it is used.
        """
        def load() -> None:
            for kind in kinds:
                try:
                    self._session(kind)
                    if kind == "text":
                        self._text_tokenizer()
                except ModelInvalid:
                    pass

        thread = threading.Thread(target=load, name="pixseek-model-preload", daemon=True)
        thread.start()
        self._preloads.append(thread)
        return thread

    def close(self) -> None:
        """Wait for background loads: a process that exits while ONNX Runtime is still building a
        session in another thread is aborted by the C++ runtime ("terminate called ...")."""
        while self._preloads:
            self._preloads.pop().join()
        if self._single_runs is not None:
            self._single_runs.shutdown()
            self._single_runs = None

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        ids, mask = self.tokenize(texts)
        session = self._session("text")
        inputs = session.get_inputs()
        if self.bundle.config.trim_padding and not isinstance(inputs[0].shape[-1], int):
            # CLIP's text attention is causal and reads out the end token, so the padding after
            # it never changes the result: a tower with a free sequence axis can skip it (~4x faster).
            length = max(int(mask.sum(axis=1).max()), 1)
            ids, mask = ids[:, :length], mask[:, :length]

        def run(rows: slice) -> np.ndarray:
            feeds = {spec.name: (mask if "mask" in spec.name else ids)[rows].astype(NUMPY_TYPES.get(spec.type, np.int64))
                     for spec in inputs}
            return np.asarray(session.run(None, feeds)[0], dtype=np.float32)

        if inputs[0].shape[0] == 1:  # a tower exported for one text at a time
            return normalise(np.concatenate([run(slice(i, i + 1)) for i in range(len(texts))]))
        return normalise(run(slice(None)))
