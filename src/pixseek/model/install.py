"""Installing a model: from the hub, from a folder or archive copied in by hand, or by exporting.

Every route builds the bundle in a hidden staging folder next to its final place, checks that it
really runs (and whether int8 is faithful enough to keep), and only then renames it into place, so
an interrupted or failed install never leaves a half-installed model behind.
"""

from __future__ import annotations

import shutil
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

from pixseek import paths
from pixseek.errors import ModelInvalid
from pixseek.model import export, known_models, sources
from pixseek.model.bundle import Bundle, first_line
from pixseek.model.encoder import Encoder
from pixseek.model.graph import read_tower
from pixseek.model.hub import download
from pixseek.model.known_models import DEFAULT_MODEL
from pixseek.model.quantize import (
    IMAGE_CANDIDATES, INT8_IMAGE_MODEL, INT8_TEXT_MODEL, TEXT_CANDIDATES, Agreement, check_agreement, check_text_agreement,
    image_vectors, quantize_tower,
)
from pixseek.model.samples import sample_photos

PRECISIONS = ("int8", "fp32")
INT8_FILES = {"image": INT8_IMAGE_MODEL, "text": INT8_TEXT_MODEL}
CANDIDATES = {"image": IMAGE_CANDIDATES, "text": TEXT_CANDIDATES}
STAGING_PREFIX = ".staging-"
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
Report = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_runs(bundle: Bundle, precision: str | None = None, text_precision: str | None = None) -> Encoder:
    """Load both towers and embed one blank image and one text, as the real work will."""
    encoder = Encoder(bundle, precision=precision, text_precision=text_precision)
    try:
        vectors = [encoder.encode_pixels(encoder.preprocess.blank(2)), encoder.encode_texts(["a photo", "two dogs"])]
    except ModelInvalid:
        raise
    except Exception as exc:  # tokenizers and ONNX Runtime raise untyped errors on damaged files
        raise ModelInvalid(f"model {bundle.name} does not run: {first_line(exc)}") from None
    for vector in vectors:
        if vector.shape != (2, bundle.config.embedding_dim) or not np.isfinite(vector).all():
            raise ModelInvalid(f"model {bundle.name} gives {vector.shape[1:]} vectors, not ({bundle.config.embedding_dim},) "
                               "as its config says")
    return encoder


class Int8Check:
    """Compares a bundle's int8 tower with its fp32 one on sample photos (made once, used for both,
    as are their vectors from the fp32 image tower: each candidate and the text check reuse them)."""

    def __init__(self, photos: Path | None, count: int = 64):
        self.photos, self.count = photos, count
        self._pixels: np.ndarray | None = None
        self._vectors: dict[str | None, np.ndarray] = {}

    def pixels(self, encoder: Encoder) -> np.ndarray:
        if self._pixels is None:
            self._pixels = np.stack([encoder.preprocess(image) for image in sample_photos(self.photos, self.count)])
        return self._pixels

    def vectors(self, encoder: Encoder, precision: str | None) -> np.ndarray:
        """The sample photos' vectors from image tower `precision` (the one `encoder` runs)."""
        if precision not in self._vectors:
            self._vectors[precision] = image_vectors(encoder, self.pixels(encoder))
        return self._vectors[precision]

    def __call__(self, bundle: Bundle, kind: str) -> Agreement:
        if kind == "image":
            fp32 = check_runs(bundle, "fp32", "fp32")
            return check_agreement(fp32, check_runs(bundle, "int8", "fp32"), self.pixels(fp32),
                                   reference=self.vectors(fp32, "fp32"))
        # The photos a text tower ranks come from the best image tower there is (fp32 unless a
        # model ships only another).
        image = "fp32" if "fp32" in bundle.config.towers("image") else None
        fp32 = check_runs(bundle, image, "fp32")
        return check_text_agreement(fp32, check_runs(bundle, image, "int8"), self.vectors(fp32, image))


def _settle_int8(bundle: Bundle, kind: str, towers: dict[str, str], check: Int8Check, report: Report) -> bool:
    """Find an int8 `kind` tower that agrees with fp32: the shipped one, else each setting in turn.

    On success `towers["int8"]` names it; otherwise every rejected int8 file is deleted."""
    attempts = [None] if "int8" in towers else list(CANDIDATES[kind])
    for settings in attempts:
        if settings is not None:
            report(f"quantizing the {kind} tower to int8 ({settings.describe()}) ...")
            towers["int8"] = quantize_tower(bundle.path / towers["fp32"], bundle.path / INT8_FILES[kind], settings).name
        agreement = check(bundle.save_config(bundle.config.with_towers(kind, towers, "fp32")), kind)
        report(agreement.summary())
        if agreement.accepted:
            return True
        (bundle.path / towers.pop("int8")).unlink()
    report(f"int8 does not agree with fp32 closely enough: the fp32 {kind} tower stays the default")
    return False


def choose_precision(bundle: Bundle, precision: str, photos: Path | None, report: Report) -> Bundle:
    """Make int8 the default of each tower where it agrees with fp32 on sample photos, else fp32.

    A tower shipped only in another precision (rclip's int8 or fp16 exports) is used as shipped;
    one whose weights live in a separate file (over 2 GB) stays fp32."""
    if precision not in PRECISIONS:
        raise ModelInvalid(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    check = Int8Check(photos)
    for kind in ("image", "text"):
        towers, chosen = bundle.config.towers(kind), precision
        if "fp32" not in towers:
            chosen = precision if precision in towers else next(iter(towers))
            report(f"model {bundle.name} ships only an {chosen} {kind} tower, so it cannot be checked against fp32")
        elif precision == "int8" and "int8" not in towers and read_tower(bundle.path / towers["fp32"]).data_files:
            report(f"the {kind} tower keeps its weights in a separate file (too large to quantize here): it stays fp32")
            chosen = "fp32"
        elif precision == "int8" and not _settle_int8(bundle, kind, towers, check, report):
            chosen = "fp32"
        bundle = bundle.save_config(bundle.config.with_towers(kind, towers, chosen))
    return bundle


@contextmanager
def _staging(name: str) -> Iterator[Path]:
    """A private folder beside the final one (same file system, so the last step is a rename).

    The per-name lock keeps two installs of one model apart and lets the next install sweep
    away what a killed one left behind.
    """
    from filelock import FileLock

    root = paths.models_dir()
    root.mkdir(parents=True, exist_ok=True)
    prefix = f"{STAGING_PREFIX}{name}-"
    with FileLock(str(root / f".{name}.lock")):
        for stale in root.iterdir():  # mkdtemp adds 8 characters, none a "-": model "a" never sweeps "a-b"'s
            rest = stale.name[len(prefix):]
            if stale.name.startswith(prefix) and len(rest) == 8 and "-" not in rest:
                shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=root))
        try:
            yield staging
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def install_built(name: str, build: Callable[[Path], Path], precision: str = "int8", photos: Path | None = None,
                  report: Report = _stderr) -> Bundle:
    """Run `build(workdir) -> bundle folder`, settle its precision, check it runs, move it into place."""
    if not name or name.startswith(".") or "/" in name or "\\" in name:
        raise ModelInvalid(f"{name!r} is not a usable model name")
    if photos is not None and not Path(photos).is_dir():
        raise ModelInvalid(f"the photos folder {photos} does not exist")
    destination = paths.models_dir() / name
    with _staging(name) as staging:
        built = Path(build(staging / name))
        check_runs(Bundle.load(built))  # what was shipped, before spending time on quantization
        bundle = choose_precision(Bundle.load(built), precision, photos, report)
        check_runs(bundle)
        if destination.exists():
            destination.rename(staging / ".replaced")
        built.chmod(0o755)  # staging folders are private (mkdtemp); a model is not
        built.rename(destination)
    installed = Bundle.load(destination)
    report(f"installed model {name} ({installed.model_id}, {installed.config.precision}, "
           f"{installed.size_bytes() / 1e6:.0f} MB) in {destination}")
    return installed


def _extract(archive: Path, into: Path) -> None:
    """Unpack safely: no member may land outside `into`."""
    into.mkdir(parents=True)
    try:
        if archive.name.lower().endswith(".zip"):
            with zipfile.ZipFile(archive) as zf:
                for member in zf.namelist():
                    target = (into / member).resolve()
                    if not target.is_relative_to(into.resolve()):
                        raise ModelInvalid(f"{archive.name} has an unsafe path: {member}")
                zf.extractall(into)
        else:
            with tarfile.open(archive) as tf:
                tf.extractall(into, filter="data")
    except (zipfile.BadZipFile, tarfile.TarError, EOFError, OSError) as exc:
        raise ModelInvalid(f"cannot unpack {archive}: {first_line(exc)}") from None


def _unpacked(source: Path, workdir: Path) -> Path:
    """The folder holding the model files: `source` itself, or where its archive was unpacked."""
    if source.is_dir():
        return source
    _extract(source, workdir.parent / ".unpacked")
    return workdir.parent / ".unpacked"


def build_from_path(source: Path, model_id: str | None = None) -> Callable[[Path], Path]:
    """The build step for a folder or archive in any hub layout (see `sources`)."""
    source = Path(source).expanduser()
    if not source.exists():
        raise ModelInvalid(f"{source} does not exist")
    if source.is_file() and not source.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise ModelInvalid(f"{source} is not a model folder or an archive ({', '.join(ARCHIVE_SUFFIXES)})")

    def build(workdir: Path) -> Path:
        layout, folder = sources.detect_folder(_unpacked(source, workdir), source)
        if getattr(layout, "NEEDS_EXPORT", False):
            export.require_export_extra()
        built = layout.convert(folder, workdir, model_id or known_models.model_id_for(layout.NAME, folder.name))
        return _record_source(built, {"layout": layout.NAME, "from": str(source)})

    return build


def _record_source(folder: Path, source: dict[str, str]) -> Path:
    """Note in the bundle where it came from (`pixseek model list` shows it)."""
    bundle = Bundle.load(folder)
    bundle.save_config(replace(bundle.config, source={**bundle.config.source, **source}))
    return folder


def install_from_path(source: Path, name: str = DEFAULT_MODEL, precision: str = "int8", photos: Path | None = None,
                      model_id: str | None = None, report: Report = _stderr) -> Bundle:
    """Install a model folder or archive in any supported layout, as model `name`, offline."""
    return install_built(name, build_from_path(source, model_id), precision, photos, report)


def install_from_hub(name: str = DEFAULT_MODEL, repo_id: str | None = None, revision: str | None = None,
                     precision: str = "int8", photos: Path | None = None, model_id: str | None = None,
                     report: Report = _stderr) -> Bundle:
    """Download model `name` from the hub (a catalogue entry, or any repo `repo_id` in a known
    layout) and install it. Ready ONNX exports need no PyTorch; a checkpoint is exported."""

    if repo_id is None:
        entry = known_models.entry_for(name)
        if entry is None:
            raise ModelInvalid(f"{name!r} is not in pixseek's catalogue of models ({', '.join(known_models.BY_NAME)}); "
                               "name a hub repo to install another")
        report(f"downloading {entry.repo} (revision {entry.revision[:12]}, about {entry.download_mb} MB) "
               "from the Hugging Face hub ...")
        fetched = download(entry.repo, entry.revision, sources.BY_NAME[entry.layout], entry.root)
        model_id = model_id or entry.model_id
    else:
        report(f"downloading {repo_id} from the Hugging Face hub ...")
        fetched = download(repo_id, revision)

    def build(workdir: Path) -> Path:
        if getattr(fetched.layout, "NEEDS_EXPORT", False):
            report(f"exporting {fetched.repo_id} to ONNX ...")
        built = fetched.layout.convert(fetched.folder, workdir, model_id or fetched.repo_id)
        return _record_source(built, {"layout": fetched.layout.NAME, "repo": fetched.repo_id, "revision": fetched.commit})

    return install_built(name, build, precision, photos, report)


def install_checkpoint(checkpoint: str, name: str | None = None, precision: str = "int8", photos: Path | None = None,
                       model_id: str | None = None, report: Report = _stderr) -> Bundle:
    """Export a Hugging Face CLIP checkpoint (folder or hub id) and install it."""
    def build(workdir: Path) -> Path:
        if Path(checkpoint).is_dir():
            return sources.checkpoint.convert(Path(checkpoint), workdir, model_id)
        return sources.checkpoint.export_checkpoint(str(checkpoint), workdir, model_id or str(checkpoint)).path

    name = name or Path(str(checkpoint).rstrip("/")).name
    return install_built(name, build, precision, photos, report)


def install_random(name: str, preset: str = "vit-b-32", seed: int = 0, precision: str = "int8",
                   photos: Path | None = None, report: Report = _stderr) -> Bundle:
    """A random-weight CLIP of a real shape, installed like any model: for benchmarks and machines
    that cannot get the real weights. Its model id says it is random, so no index mixes it up."""
    return install_built(name, lambda workdir: export.export_random(preset, workdir, seed).path, precision, photos, report)
