"""Duplicates (exact copies, crafted near-copies, other views of a scene that must stay apart)
and RAW photos (real DNG files written in the test, a damaged one, RAW without rawpy)."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance

from conftest import make_photo
from pixseek.library import Library



def scene(path: Path, seed: int, size=(640, 480), view: tuple[int, int, int, int] | None = None) -> Path:
    """A generated scene (1.5x larger than `size`), seen through `view` (a crop box of it)."""
    big = make_photo(path.with_suffix(".big.png"), seed, size=(size[0] * 3 // 2, size[1] * 3 // 2))
    with Image.open(big) as image:
        w, h = image.size
        box = view or (w // 6, h // 6, w // 6 + size[0], h // 6 + size[1])
        image.crop(box).convert("RGB").save(path, quality=92)
    big.unlink()
    return path


def near_copies(original: Path, folder: Path) -> list[Path]:
    """What people's libraries fill up with: resized, recompressed, lightly cropped, edited."""
    folder.mkdir(parents=True, exist_ok=True)
    with Image.open(original) as image:
        image = image.convert("RGB")
        w, h = image.size
        made = {"small.jpg": image.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
                "cropped.jpg": image.crop((w // 50, h // 50, w - w // 50, h - h // 50)),
                "brighter.jpg": ImageEnhance.Brightness(image).enhance(1.25),
                "recoloured.jpg": ImageEnhance.Color(image).enhance(0.5)}
        paths = []
        for name, picture in made.items():
            picture.save(folder / f"{original.stem} {name}", quality=80)
            paths.append(folder / f"{original.stem} {name}")
        (folder / f"{original.stem} q40.jpg").write_bytes(_jpeg(image, 40))
        return paths + [folder / f"{original.stem} q40.jpg"]


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture
def library(pixseek_home, tmp_path):
    with Library.open(tmp_path / "index", create=True) as lib:
        yield lib


def groups_by_name(groups) -> list[set[str]]:
    return [{os.path.basename(p.path) for p in g.photos} for g in groups]


def test_near_copies_group_other_views_of_the_scene_do_not(library, tmp_path):
    photos = tmp_path / "photos"
    originals = [scene(photos / f"scene{i}.jpg", seed=100 + i) for i in range(3)]
    copies = {o.name: near_copies(o, photos / "edited") for o in originals}
    # Another photo of scene 0: the camera moved (a different part of the same scene).
    scene(photos / "scene0 other view.jpg", seed=100, view=(0, 0, 640, 480))
    scene(photos / "scene0 zoomed out.jpg", seed=100, view=(0, 0, 960, 720))
    for i in range(6):
        make_photo(photos / "others" / f"other{i}.jpg", seed=300 + i, size=(640, 480))
    library.index([photos])
    found = groups_by_name(library.duplicates())
    expected = [{o.name} | {c.name for c in copies[o.name]} for o in originals]
    assert sorted(map(sorted, found)) == sorted(map(sorted, expected))
    for group in library.duplicates():
        assert os.path.basename(group.photos[0].path).startswith("scene")  # the original: the most pixels
        assert not group.exact


def test_exact_copies_in_different_folders_group_best_copy_first(library, tmp_path):
    photos = tmp_path / "photos"
    original = make_photo(photos / "a" / "holiday.jpg", seed=1, size=(800, 600))
    for folder in ("b", "c/deeper"):
        (photos / folder).mkdir(parents=True)
        shutil.copy2(original, photos / folder / "holiday copy.jpg")
    os.utime(photos / "b" / "holiday copy.jpg", (1_500_000_000, 1_500_000_000))  # the oldest file time
    make_photo(photos / "a" / "different.jpg", seed=2)
    library.index([photos])
    (group,) = library.duplicates()
    assert group.exact and len(group.photos) == 3
    assert group.photos[0].path == str(photos / "b" / "holiday copy.jpg")  # same size: the oldest first
    assert [g.photos[0].path for g in library.duplicates(folder=str(photos / "c"))] == []
    (inside,) = library.duplicates(folder=str(photos / "a" / ".."))
    assert len(inside.photos) == 3


def test_duplicates_cli_lists_groups_and_never_deletes(pixseek_home, tmp_path):
    from test_cli import pixseek

    photos = tmp_path / "photos"
    original = make_photo(photos / "one.jpg", seed=5, size=(640, 480))
    shutil.copy(original, photos / "two.jpg")
    before = sorted(p.name for p in photos.iterdir())
    index = tmp_path / "index"
    pixseek("index", "--index", index, photos, "-q")
    text = pixseek("duplicates", "--index", index)
    assert text.returncode == 0 and "group 1: 2 exact copies" in text.stdout
    data = json.loads(pixseek("duplicates", "--index", index, "--json").stdout)
    assert data[0]["kind"] == "exact" and {os.path.basename(p["path"]) for p in data[0]["photos"]} == set(before)
    assert sorted(p.name for p in photos.iterdir()) == before
    bad = pixseek("duplicates", "--index", index, "--threshold", "1.5")
    assert bad.returncode == 1 and "threshold must be more than 0 and at most 1" in bad.stderr


# -- RAW ----------------------------------------------------------------------------------------

IDENTITY = [1, 1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 1, 0, 1, 1, 1]  # a 3x3 identity as SRATIONAL pairs


def write_dng(path: Path, rgb: np.ndarray, preview: np.ndarray | None = None, make: str = "pixseek",
              model: str = "test camera") -> Path:
    """A real DNG: the picture as a 16-bit RGGB Bayer mosaic (linear light), with the tags LibRaw
    needs (DNG version, CFA pattern, levels, colour matrix, white balance); optionally an 8-bit
    RGB preview in IFD 0, as cameras write a JPEG one."""
    tifffile = pytest.importorskip("tifffile")
    linear = (np.asarray(rgb, dtype=np.float64) / 255.0) ** 2.2
    mosaic = np.empty(rgb.shape[:2], dtype=np.uint16)
    for dy, dx, channel in ((0, 0, 0), (0, 1, 1), (1, 0, 1), (1, 1, 2)):
        mosaic[dy::2, dx::2] = linear[dy::2, dx::2, channel] * 4000 + 64
    common = [(50706, "B", 4, (1, 4, 0, 0), True), (50707, "B", 4, (1, 1, 0, 0), True),
              (50708, "s", 0, "pixseek test", True), (271, "s", 0, make, True), (272, "s", 0, model, True),
              (50721, "2i", 9, IDENTITY, True), (50778, "H", 1, (21,), True),
              (50728, "2I", 3, (1, 1, 1, 1, 1, 1), True)]
    raw = [(33421, "H", 2, (2, 2), True), (33422, "B", 4, (0, 1, 1, 2), True),
           (50714, "H", 1, (64,), True), (50717, "H", 1, (4064,), True)]
    path.parent.mkdir(parents=True, exist_ok=True)
    with tifffile.TiffWriter(path) as tif:
        if preview is not None:
            tif.write(preview, photometric="rgb", subfiletype=1, extratags=common, subifds=1)
            tif.write(mosaic, photometric=32803, subfiletype=0, extratags=raw)
        else:
            tif.write(mosaic, photometric=32803, subfiletype=0, extratags=common + raw)
    return path


def picture(seed: int, size=(640, 480)) -> np.ndarray:
    path = make_photo(Path(os.environ.get("TMPDIR", "/tmp")) / f"pixseek-raw-src-{os.getpid()}-{seed}.png", seed, size)
    try:
        return np.asarray(Image.open(path).convert("RGB"))
    finally:
        path.unlink()


def test_dng_indexes_by_preview_or_demosaic_and_twins_its_jpeg(library, tmp_path):
    pytest.importorskip("rawpy")
    photos = tmp_path / "photos"
    rgb = picture(11)
    write_dng(photos / "IMG_0001.DNG", rgb)  # sensor data only: demosaiced
    write_dng(photos / "IMG_0002.dng", picture(12), preview=picture(12), model="preview camera")  # preview
    Image.fromarray(rgb).save(photos / "IMG_0001.JPG", quality=90)  # the camera's JPEG twin
    make_photo(photos / "unrelated.jpg", seed=13, size=(640, 480))
    report = library.index([photos])
    assert report.indexed == 4 and not report.skipped
    by_name = {os.path.basename(r.path): r for r in library.search("a photo", k=10)}
    assert by_name["IMG_0002.dng"].metadata.camera == "pixseek preview camera"
    assert (by_name["IMG_0001.DNG"].metadata.width, by_name["IMG_0001.DNG"].metadata.height) == (640, 480)
    own = library.search(str(photos / "IMG_0002.dng"), k=1)[0]
    assert own.path.endswith("IMG_0002.dng") and own.score == pytest.approx(1.0, abs=1e-5)
    assert library.thumbnail(str(photos / "IMG_0001.DNG"), 128)[:2] == b"\xff\xd8"  # a JPEG thumbnail
    assert groups_by_name(library.duplicates()) == [{"IMG_0001.DNG", "IMG_0001.JPG"}]


def test_damaged_raw_is_skipped_with_its_reason(library, tmp_path):
    pytest.importorskip("rawpy")
    photos = tmp_path / "photos"
    good = write_dng(photos / "good.dng", picture(21))
    (photos / "truncated.dng").write_bytes(good.read_bytes()[:600])
    (photos / "not really.nef").write_bytes(b"this is a text file named like a RAW photo\n" * 20)
    report = library.index([photos])
    skipped = dict(report.skipped)
    assert report.indexed == 1 and set(map(os.path.basename, skipped)) == {"truncated.dng", "not really.nef"}
    assert all(reason.startswith("corrupt: not a readable RAW file") for reason in skipped.values())


def test_without_rawpy_raw_files_are_skipped_with_the_fix_and_retried_later(library, tmp_path, monkeypatch):
    from pixseek import raw

    photos = tmp_path / "photos"
    write_dng(photos / "later.dng", picture(31))
    make_photo(photos / "plain.jpg", seed=32)
    monkeypatch.setattr(raw, "_rawpy", False)  # as if rawpy were not installed
    report = library.index([photos])
    (reason,) = [r for p, r in report.skipped if p.endswith("later.dng")]
    assert reason == "RAW support not installed: install rawpy to index RAW photos: pip install 'pixseek[raw]'"
    assert library.index([photos]).skipped_before == 1  # not retried while rawpy is missing
    pytest.importorskip("rawpy")
    monkeypatch.setattr(raw, "_rawpy", None)  # installed now
    again = library.index([photos])
    assert again.indexed == 1 and not again.skipped
