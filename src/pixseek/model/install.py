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
from pixseek.model.bundle import CONFIG_NAME, DEFAULT_MODEL, Bundle, BundleConfig, first_line
from pixseek.model.encoder import Encoder
from pixseek.model.quantize import INT8_IMAGE_MODEL, QUANT_CANDIDATES, Agreement, check_agreement, quantize_image_tower
from pixseek.model.samples import sample_photos

PRECISIONS = ("int8", "fp32")
STAGING_PREFIX = ".staging-"
ARCHIVE_SUFFIXES = (".zip", ".tar.gz", ".tgz", ".tar")
Report = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def check_runs(bundle: Bundle, precision: str | None = None) -> Encoder:
    """Load both towers and embed one blank image and one text, as the real work will."""
    encoder = Encoder(bundle, precision=precision)
    size = bundle.config.image_size
    try:
        vectors = [encoder.encode_pixels(np.zeros((1, 3, size, size), np.float32)), encoder.encode_texts(["a photo"])]
    except ModelInvalid:
        raise
    except Exception as exc:  # tokenizers and ONNX Runtime raise untyped errors on damaged files
        raise ModelInvalid(f"model {bundle.name} does not run: {first_line(exc)}") from None
    for vector in vectors:
        if vector.shape != (1, bundle.config.embedding_dim) or not np.isfinite(vector).all():
            raise ModelInvalid(f"model {bundle.name} gives {vector.shape} vectors, not (1, {bundle.config.embedding_dim}) as its config says")
    return encoder


def _with_default(config: BundleConfig, towers: dict[str, str], precision: str) -> BundleConfig:
    others = {name: file for name, file in towers.items() if name != precision}
    return replace(config, precision=precision, image_model=towers[precision], image_variants=others)


def verify_int8(fp32: Encoder, int8: Encoder, photos: Path | None, count: int = 64) -> Agreement:
    pixels = np.stack([fp32.preprocess(image) for image in sample_photos(photos, count)])
    return check_agreement(fp32, int8, pixels)


def _settle_int8(bundle: Bundle, towers: dict[str, str], photos: Path | None, report: Report) -> bool:
    """Find an int8 tower that agrees with fp32: the shipped one, else each setting in turn.

    On success `towers["int8"]` names it; otherwise every rejected int8 file is deleted."""
    fp32 = check_runs(bundle.save_config(_with_default(bundle.config, towers, "fp32")), "fp32")
    attempts = [None] if "int8" in towers else list(QUANT_CANDIDATES)
    for settings in attempts:
        if settings is not None:
            report(f"quantizing the image tower to int8 ({settings.describe()}) ...")
            towers["int8"] = quantize_image_tower(bundle.path / towers["fp32"], bundle.path / INT8_IMAGE_MODEL, settings).name
        trial = bundle.save_config(_with_default(bundle.config, towers, "fp32"))
        agreement = verify_int8(fp32, check_runs(trial, "int8"), photos)
        report(agreement.summary())
        if agreement.accepted:
            return True
        (bundle.path / towers.pop("int8")).unlink()
    report("int8 does not agree with fp32 closely enough: the fp32 image tower stays the default")
    return False


def choose_precision(bundle: Bundle, precision: str, photos: Path | None, report: Report) -> Bundle:
    """Make int8 the default image tower if it agrees with fp32 on sample photos, else fp32."""
    if precision not in PRECISIONS:
        raise ModelInvalid(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    towers = {**bundle.config.image_variants, bundle.config.precision: bundle.config.image_model}
    if "fp32" not in towers:
        if precision not in towers:
            raise ModelInvalid(f"model {bundle.name} has no {precision} image tower")
        report(f"model {bundle.name} ships only an {precision} image tower, so it cannot be checked against fp32")
    elif precision == "int8" and not _settle_int8(bundle, towers, photos, report):
        precision = "fp32"
    return bundle.save_config(_with_default(bundle.config, towers, precision))


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


def install_built(name: str, build: Callable[[Path], Path], precision: str = "int8", photos: Path | None = None, report: Report = _stderr) -> Bundle:
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
    report(f"installed model {name} ({installed.model_id}, {installed.config.precision}, {installed.size_bytes() / 1e6:.0f} MB) in {destination}")
    return installed


def copy_bundle(source: Path, workdir: Path) -> Path:
    """Only the files a bundle's config names, so stray files in the source are not installed."""
    bundle = Bundle.load(source)
    config = bundle.config
    workdir.mkdir(parents=True)
    for name in {CONFIG_NAME, config.image_model, config.text_model, config.tokenizer, *config.image_variants.values()}:
        if not (source / name).is_file():
            raise ModelInvalid(f"model at {source} is incomplete: {name} is missing")
        shutil.copy2(source / name, workdir / name)
    return workdir


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


def _find_model_folder(root: Path) -> Path | None:
    """The shallowest folder under `root` holding a bundle config or a checkpoint config."""
    for marker in (CONFIG_NAME, "config.json"):
        found = sorted(root.rglob(marker), key=lambda p: len(p.parts))
        if found:
            return found[0].parent
    return None


def build_from_path(source: Path, model_id: str | None = None) -> Callable[[Path], Path]:
    """The build step for a folder or archive: a bundle is copied, a checkpoint exported."""
    source = Path(source).expanduser()
    if not source.exists():
        raise ModelInvalid(f"{source} does not exist")
    if source.is_file() and not source.name.lower().endswith(ARCHIVE_SUFFIXES):
        raise ModelInvalid(f"{source} is not a model folder or an archive ({', '.join(ARCHIVE_SUFFIXES)})")

    def build(workdir: Path) -> Path:
        folder = source
        if source.is_file():
            _extract(source, workdir.parent / ".unpacked")
            folder = _find_model_folder(workdir.parent / ".unpacked")
            if folder is None:
                raise ModelInvalid(f"{source.name} holds no pixseek model bundle and no CLIP checkpoint")
        if (folder / CONFIG_NAME).is_file():
            return copy_bundle(folder, workdir)
        if (folder / "config.json").is_file():
            return export_checkpoint_into(folder, workdir, model_id)
        raise ModelInvalid(f"{folder} is neither a pixseek model bundle ({CONFIG_NAME}) nor a CLIP checkpoint (config.json)")

    return build


def export_checkpoint_into(checkpoint: Path | str, workdir: Path, model_id: str | None) -> Path:
    from pixseek.model.export import export_checkpoint
    from pixseek.model.hub import read_checkpoint_name

    name = model_id or (read_checkpoint_name(Path(checkpoint)) if Path(checkpoint).is_dir() else str(checkpoint))
    return export_checkpoint(str(checkpoint), workdir, name or Path(checkpoint).name).path


def install_from_path(source: Path, name: str = DEFAULT_MODEL, precision: str = "int8", photos: Path | None = None,
                      model_id: str | None = None, report: Report = _stderr) -> Bundle:
    """Install a bundle folder, a checkpoint folder, or an archive of either, as model `name`."""
    return install_built(name, build_from_path(source, model_id), precision, photos, report)


def install_from_hub(name: str = DEFAULT_MODEL, repo_id: str | None = None, revision: str | None = None,
                     precision: str = "int8", photos: Path | None = None, model_id: str | None = None,
                     report: Report = _stderr) -> Bundle:
    """Download model `name` (or `repo_id`) once from the hub and install it; a checkpoint is exported."""
    from pixseek.model.export import require_export_extra
    from pixseek.model.hub import KNOWN_REPOS, download

    repo_id = repo_id or KNOWN_REPOS.get(name)
    if repo_id is None:
        raise ModelInvalid(f"no hub repo is known for model {name!r}; name one with --repo OWNER/NAME")
    report(f"downloading {repo_id} from the Hugging Face hub ...")
    fetched = download(repo_id, revision, before_checkpoint=require_export_extra)

    def build(workdir: Path) -> Path:
        if fetched.kind == "bundle":
            return copy_bundle(fetched.folder, workdir)
        report(f"exporting {repo_id} to ONNX ...")
        return export_checkpoint_into(fetched.folder, workdir, model_id or repo_id)

    return install_built(name, build, precision, photos, report)


def install_checkpoint(checkpoint: str, name: str | None = None, precision: str = "int8", photos: Path | None = None,
                       model_id: str | None = None, report: Report = _stderr) -> Bundle:
    """Export a Hugging Face CLIP checkpoint (folder or hub id) and install it."""
    name = name or Path(str(checkpoint).rstrip("/")).name
    return install_built(name, lambda workdir: export_checkpoint_into(checkpoint, workdir, model_id), precision, photos, report)


def install_random(name: str, preset: str = "vit-b-32", seed: int = 0, bpe_file: Path | None = None,
                   precision: str = "int8", photos: Path | None = None, report: Report = _stderr) -> Bundle:
    """A random-weight CLIP of a real shape, installed like any model: for benchmarks and machines
    that cannot get the real weights. Its model id says it is random, so no index mixes it up."""
    from pixseek.model.export import default_bpe_file, export_random

    bpe = bpe_file or default_bpe_file()
    return install_built(name, lambda workdir: export_random(preset, workdir, bpe, seed).path, precision, photos, report)
