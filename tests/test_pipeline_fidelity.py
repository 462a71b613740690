"""Nothing lost on the way: the faster pipeline (issue 21) stores what the reference path gives.

The reference is computed here, file by file, the plain way: the bytes read, `decode`, the
preprocessor's float arithmetic (value * scale - offset, channels first), the encoder on that one
image, imagehash.phash of the 32x32 grey picture, `read_metadata`, and decode's error for a file
that cannot be used. An index run must store exactly that: the same vectors (one image per run:
a vector does not depend on its batch), the same hash bits, metadata and skip reasons.
"""

from __future__ import annotations

import os
from pathlib import Path

import imagehash
import numpy as np
import pytest
from PIL import Image

from conftest import make_photo
from pixseek.errors import ImageError
from pixseek.images import decode, perceptual_hash, read_file
from pixseek.library import Library
from pixseek.metadata import read_metadata
from pixseek.model.preprocess import ClipPreprocessor
from pixseek.store.catalog import Catalog

CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


def reference_pixels(preprocessor: ClipPreprocessor, image: Image.Image) -> np.ndarray:
    """The preprocessing as it was computed before the look-up table: float arithmetic per pixel."""
    pixels = np.asarray(preprocessor.crop(image)).astype(np.float32)
    stds = np.asarray(preprocessor.std, dtype=np.float32)
    scale = (1.0 / (255.0 * stds)).reshape(1, 1, 3)
    offset = (np.asarray(preprocessor.mean, dtype=np.float32) / stds).reshape(1, 1, 3)
    return np.ascontiguousarray((pixels * scale - offset).transpose(2, 0, 1))


def reference_hash(image: Image.Image) -> int:
    small = image.convert("L").resize((32, 32), Image.Resampling.LANCZOS, reducing_gap=2.0)
    return int(str(imagehash.phash(small)), 16)


def flat_and_split() -> list[Image.Image]:
    """Pictures whose DCT has exact zeros, so that the median ties: the bits depend on the arithmetic."""
    split = Image.new("RGB", (300, 200), (50, 50, 50))
    split.paste((200, 200, 200), (0, 0, 150, 200))
    return [Image.new("RGB", (300, 200), colour) for colour in ((0, 0, 0), (128, 128, 128), (10, 200, 30))] + [split]


def test_the_perceptual_hash_has_imagehashs_bits(tmp_path):
    images = flat_and_split() + [Image.open(make_photo(tmp_path / f"{i}.jpg", seed=i, size=(400 + 37 * i, 300)))
                                 for i in range(6)]
    assert [perceptual_hash(image) for image in images] == [reference_hash(image) for image in images]


@pytest.mark.parametrize("settings", [dict(mean=CLIP_MEAN, std=CLIP_STD),
                                      dict(mean=(0.5,) * 3, std=(0.5,) * 3, resize_mode="squash", crop_rounding="round")])
def test_the_preprocessed_pixels_are_the_float_arithmetics(tmp_path, settings):
    preprocessor = ClipPreprocessor(64, **settings)
    for i, size in enumerate([(320, 240), (97, 300), (64, 64)]):
        image = Image.open(make_photo(tmp_path / f"{i}.png", seed=i, size=size))
        ours = preprocessor(image)
        assert ours.dtype == np.float32 and ours.flags.c_contiguous
        assert np.array_equal(ours, reference_pixels(preprocessor, image.convert("RGB")))


def _folder(root: Path) -> Path:
    """Photos down every decode path: small and large JPEGs (reduced-size decode), EXIF rotation
    and capture time, PNG with alpha, a flat picture, and two files that cannot be used."""
    make_photo(root / "small.jpg", seed=1)
    make_photo(root / "large.jpg", seed=2, size=(1600, 1200))
    make_photo(root / "alpha.png", seed=3, size=(200, 300), mode="RGBA")
    Image.new("RGB", (300, 200), (128, 128, 128)).save(root / "flat.jpg")
    rotated = Image.open(make_photo(root / ".plain.jpg", seed=4, size=(480, 320)))
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8769)[0x9003] = "2024:05:06 07:08:09"
    rotated.save(root / "rotated.jpg", exif=exif)
    (root / ".plain.jpg").unlink()
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    (root / "truncated.jpg").write_bytes((root / "large.jpg").read_bytes()[:2000])
    return root


def test_an_index_run_stores_what_the_reference_path_gives(pixseek_home, tmp_path):
    folder = _folder(tmp_path / "photos")
    with Library.open(tmp_path / "index", create=True) as library:
        report = library.index([folder])
        encoder = library.encoder
        expected_vectors, expected_hashes, expected_skips, expected_meta = {}, {}, {}, {}
        for path in sorted(str(p) for p in folder.iterdir()):
            data = read_file(path)
            try:
                image = decode(data, min_side=encoder.image_size, name=path)
            except ImageError as error:
                expected_skips[path] = error.reason
                continue
            expected_vectors[path] = encoder.encode_pixels(reference_pixels(encoder.preprocess, image)[None])[0]
            expected_hashes[path] = reference_hash(image)
            expected_meta[path] = read_metadata(data, path, os.stat(path).st_mtime_ns)
    assert report.indexed == 5 and len(expected_skips) == 2
    catalog = Catalog.open(tmp_path / "index", create=False)
    try:
        paths = {int(i): p for i, p in catalog.paths_for(catalog.ids_under()).items()}
        vectors, hashes = catalog.values("clip", paths), catalog.values("phash", paths)
        described = catalog.descriptions(list(paths))
        assert sorted(paths.values()) == sorted(expected_vectors)
        for id_, path in paths.items():
            assert np.array_equal(vectors[id_], expected_vectors[path]), path
            assert hashes[id_] == expected_hashes[path], path
            assert described[id_].metadata == expected_meta[path], path
        assert dict(catalog.skipped()) == expected_skips
    finally:
        catalog.close()
