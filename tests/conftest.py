"""Shared fixtures: an isolated PIXSEEK_HOME, a tiny random CLIP exported through the real
export path, and folders of real image files generated on the fly."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from pixseek.model.sessions import runtime
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
SHARED_PHOTOS = ROOT.parent / "shared" / "data" / "photos"
TEST_MODEL = "tiny-test"


def without_stand_in_note(stderr: str) -> str:
    """stderr without the note every search with the test model carries (a random stand-in)."""
    return "".join(line for line in stderr.splitlines(True) if "has random weights, a stand-in" not in line)


def short_temp_dir(prefix: str) -> Path:
    """An empty folder for Ray's temp files: under $TMPDIR where that is short, else under /tmp,
    because Ray puts Unix sockets in it (session_<time>_<pid>/sockets/plasma_store) and a socket
    path may not exceed 107 bytes."""
    base = tempfile.gettempdir()
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base if len(base) <= 24 else "/tmp"))


def pytest_configure(config):
    """Ray's test harness writes the address of the cluster it starts to $RAY_TMPDIR/ray (by
    default /tmp/ray, which a machine where Ray never ran lacks and which every Ray user of the
    machine shares): each test process gets an empty one of its own, as a new machine would."""
    ray_root = short_temp_dir("pxr-")
    (ray_root / "ray").mkdir()
    config.ray_root = ray_root
    os.environ["RAY_TMPDIR"] = str(ray_root)
    # OCR costs ~2 s a process and ~35 ms a photo: only the tests of text in photos turn it on
    os.environ.setdefault("PIXSEEK_READ_TEXT", "no")
    runtime()  # ONNX Runtime's telemetry off in every test process, sessions made by tests included


# The files whose run is longest (a chain of Ray clusters; the hub layouts' PyTorch references):
# first in line, so that `make test`'s workers (one file each at a time) do not end with one
# of them alone on several minutes of it.
LONGEST_FILES = ("test_cluster.py", "test_model_layouts.py")


@pytest.hookimpl(trylast=True)  # after pytest-randomly's shuffle, which it keeps among the others
def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.path.name not in LONGEST_FILES)


def pytest_unconfigure(config):
    shutil.rmtree(getattr(config, "ray_root", ""), ignore_errors=True)


@pytest.fixture(scope="session")
def clip_vocab() -> Path:
    """OpenAI's BPE vocabulary, as pixseek ships it."""
    from pixseek.model.clip_bpe import VOCAB_FILE

    return VOCAB_FILE


def clip_tokenizer_from_bpe(bpe_file: Path):
    """The reference: transformers' CLIPTokenizer built from OpenAI's vocabulary file the way
    CLIP's SimpleTokenizer lays it out (pixseek builds its tokenizer.json without transformers)."""
    import gzip

    from transformers import CLIPTokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    lines = gzip.open(bpe_file, "rt", encoding="utf-8").read().split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    symbols = list(bytes_to_unicode().values())
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={token: i for i, token in enumerate(tokens)}, merges=merges)


@pytest.fixture(scope="session")
def tiny_bundle_dir(tmp_path_factory, clip_vocab) -> Path:
    """A tiny random-weight CLIP bundle, exported once per test run: the xdist workers of one run
    share it (their temp folders have one parent, new for each run); tests copy it, never change it."""
    from filelock import FileLock

    from pixseek.model.export import export_random

    base = tmp_path_factory.getbasetemp()  # under xdist: <this run's folder>/popen-gwN
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    destination = shared / "tiny-model" / TEST_MODEL
    with FileLock(shared / "tiny-model.lock"):
        if not destination.exists():
            export_random("tiny", destination, seed=0)
    return destination


@pytest.fixture
def pixseek_home(tmp_path, monkeypatch, tiny_bundle_dir) -> Path:
    """An isolated pixseek home with the tiny model installed as the default model."""
    home = tmp_path / "home"
    models = home / "models"
    models.mkdir(parents=True)
    shutil.copytree(tiny_bundle_dir, models / TEST_MODEL)
    monkeypatch.setenv("PIXSEEK_HOME", str(home))
    monkeypatch.setenv("PIXSEEK_MODEL", TEST_MODEL)
    monkeypatch.delenv("PIXSEEK_INDEX", raising=False)
    monkeypatch.delenv("PIXSEEK_MODELS", raising=False)
    return home


def make_photo(path: Path, seed: int, size=(320, 240), fmt: str | None = None, mode: str = "RGB") -> Path:
    """A distinct, deterministic picture: a colour gradient with a few random shapes."""
    rng = np.random.default_rng(seed)
    w, h = size
    x = np.linspace(0, 1, w)[None, :, None]
    y = np.linspace(0, 1, h)[:, None, None]
    base = rng.random(3)[None, None, :] * 255
    pixels = (base * (0.5 + 0.5 * x) + (255 - base) * 0.5 * y) % 256
    image = Image.fromarray(pixels.astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w)), int(rng.integers(0, h))
        x1, y1 = x0 + int(rng.integers(10, w // 2)), y0 + int(rng.integers(10, h // 2))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)([x0, y0, x1, y1], fill=colour)
    if mode != "RGB":
        image = image.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format=fmt)
    return path


@pytest.fixture
def photo_dir(tmp_path) -> Path:
    """A folder of 12 generated photos in nested folders, mixed formats and name cases."""
    root = tmp_path / "photos"
    for i in range(12):
        sub = root / ("trip" if i % 3 == 0 else "home") / ("deep" if i % 4 == 0 else "")
        ext = [".jpg", ".JPG", ".jpeg", ".png"][i % 4]
        make_photo(sub / f"photo {i}{ext}", seed=i)
    return root


@pytest.fixture(scope="session")
def tiny_checkpoint_dir(tmp_path_factory, clip_vocab) -> Path:
    """A tiny random CLIP in Hugging Face format (as `save_pretrained` writes it), for export routes."""
    from pixseek.model.export import random_clip

    folder = tmp_path_factory.mktemp("checkpoint")
    random_clip("tiny", seed=3).save_pretrained(folder)
    clip_tokenizer_from_bpe(clip_vocab).save_pretrained(folder)
    return folder


def make_copies(folder: Path, count: int, size=(2400, 1800), start: int = 0) -> list[Path]:
    """`count` JPEGs of one picture, each with its own bytes (a numbered comment segment), so
    each is hashed and decoded like a photo of its own; far faster to make than distinct ones."""
    folder.mkdir(parents=True, exist_ok=True)
    base = make_photo(folder / ".base.jpg", seed=count, size=size)
    data = base.read_bytes()
    base.unlink()
    made = []
    for i in range(start, start + count):
        comment = f"copy {i}".encode()
        segment = b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big") + comment
        path = folder / f"copy {i:05d}.jpg"
        path.write_bytes(data[:2] + segment + data[2:])
        made.append(path)
    return made
