"""The face packs `pixseek people install NAME` knows, and installing one (from the hub or a folder).

Immich publishes InsightFace's packs as ready ONNX graphs on the Hugging Face hub, one repo a
pack, `detection/model.onnx` (SCRFD) and `recognition/model.onnx` (ArcFace); InsightFace's own
zips hold the same graphs as `det_*.onnx` and `w600k_*.onnx` (or `glintr100.onnx`). Either
layout, or a pack pixseek installed, can be installed from a folder copied in by hand.

InsightFace's pretrained packs are licensed for non-commercial research only: `licence` says so
and every face shows it before installing (the CLI asks, or wants --accept-licence).

Thresholds published per pack: `min_score`, the detection score a face needs (0.7, Immich's
default; 0.5 for buffalo_s, measured on its real weights); `match_threshold`, the cosine two faces
of one person reach (0.5, i.e. Immich's default maximum cosine distance of 0.5); `detection_side`,
the longest side the detector sees (640; 480 for buffalo_s). See docs/people.md.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pixseek.errors import PixseekError
from pixseek.model.bundle import first_line
from pixseek.model.faces import DETECTION_FILE, DETECTION_SIDE, RECOGNITION_FILE, PackConfig, check_graphs, packs_dir

NON_COMMERCIAL = "InsightFace model licence: non-commercial research use only"
# buffalo_s: the pack measured here on its real weights to meet the detection, grouping and speed
# bars on 2 cores (docs/people.md); buffalo_l is more exact on hard faces and ~10x the work
DEFAULT_PACK = "buffalo_s"


@dataclass(frozen=True)
class KnownPack:
    name: str
    title: str
    repo: str
    revision: str
    download_mb: int
    licence: str
    min_score: float = 0.7
    match_threshold: float = 0.5
    detection_side: int = DETECTION_SIDE


KNOWN_PACKS: tuple[KnownPack, ...] = (
    KnownPack("buffalo_l", "InsightFace buffalo_l: SCRFD 10G detector, ArcFace ResNet-50 (WebFace600K)",
              "immich-app/buffalo_l", "main", 183, NON_COMMERCIAL),
    # Measured on its real weights (docs/people.md): SCRFD 500M scores real faces lower than 10G
    # does: at 0.7 it found 73% of the faces of 80 px in tests/fixtures/real_faces.json, at 0.5
    # (InsightFace's own default) 95%, as many at 480 px as at 640, indexing 10% faster.
    KnownPack(DEFAULT_PACK, "InsightFace buffalo_s: SCRFD 500M detector, ArcFace MobileFaceNet (fast, less exact)",
              "immich-app/buffalo_s", "main", 16, NON_COMMERCIAL, min_score=0.5, detection_side=480),
    KnownPack("antelopev2", "InsightFace antelopev2: SCRFD 10G detector, ArcFace ResNet-100 (Glint360K)",
              "immich-app/antelopev2", "main", 265, NON_COMMERCIAL),
)
BY_NAME = {pack.name: pack for pack in KNOWN_PACKS}


def known(name: str) -> KnownPack:
    if name not in BY_NAME:
        raise PixseekError(f"unknown face model {name!r}; known: {', '.join(BY_NAME)} (or install one from a folder)")
    return BY_NAME[name]


def _graphs_in(folder: Path) -> tuple[Path, Path]:
    """(detector, recogniser) in a pack folder of any layout pixseek knows."""
    for det, rec in ((DETECTION_FILE, RECOGNITION_FILE), ("detection/model.onnx", "recognition/model.onnx")):
        if (folder / det).is_file() and (folder / rec).is_file():
            return folder / det, folder / rec
    detectors = sorted(folder.glob("det_*.onnx")) + sorted(folder.glob("scrfd*.onnx"))
    recognisers = sorted(folder.glob("w600k_*.onnx")) + sorted(folder.glob("glintr*.onnx"))
    if detectors and recognisers:
        return detectors[0], recognisers[0]
    raise PixseekError(f"{folder} holds no face model pixseek knows (detection/model.onnx and recognition/model.onnx, "
                       "or InsightFace's det_*.onnx and w600k_*.onnx)")


def install(name: str, source: Path | None = None, model_id: str | None = None, licence: str | None = None,
            min_score: float | None = None, match_threshold: float | None = None,
            detection_side: int | None = None) -> Path:
    """Install pack `name` from the folder `source`, else from the hub (a catalogue pack), checked,
    into `<models>/faces/<name>` (written aside, then renamed); its folder. The figures not given
    are the catalogue's for a known name (defaults otherwise)."""
    entry = BY_NAME.get(name)
    if source is None:
        source = _download(known(name))
    elif not source.expanduser().is_dir():
        raise PixseekError(f"no folder at {source} to install a face model from")
    detection, recognition = _graphs_in(source.expanduser())
    check_graphs(detection, recognition)
    config = PackConfig(name=name, model_id=model_id or (entry.repo if entry else f"local/{name}"),
                        licence=licence or (entry.licence if entry else "as its source states"),
                        match_threshold=match_threshold if match_threshold is not None else
                        (entry.match_threshold if entry else 0.5),
                        min_score=min_score if min_score is not None else (entry.min_score if entry else 0.7),
                        detection_side=detection_side or (entry.detection_side if entry else DETECTION_SIDE))
    target = packs_dir() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target.parent))
    try:
        shutil.copyfile(detection, staging / DETECTION_FILE)
        shutil.copyfile(recognition, staging / RECOGNITION_FILE)
        config.write(staging)
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _download(pack: KnownPack) -> Path:
    """The pack's two graphs fetched into huggingface_hub's cache (resumable); the snapshot folder."""
    from huggingface_hub import constants, hf_hub_download

    # why: huggingface_hub loads only where a pack is downloaded
    from pixseek.model.hub import OFFLINE_HINT, DownloadFailed, check_reachable

    if not constants.HF_HUB_OFFLINE:
        check_reachable(pack.repo)  # seconds, not huggingface_hub's ~25 s of retries, when offline
    try:
        for name in ("detection/model.onnx", "recognition/model.onnx"):
            path = Path(hf_hub_download(pack.repo, name, revision=pack.revision))
        return path.parents[1]
    except Exception as exc:  # huggingface_hub's and its HTTP client's errors alike
        raise DownloadFailed(f"cannot download {pack.repo} ({first_line(exc)}); {OFFLINE_HINT}") from None
