"""Fuzz the decoding path with random and mutated bytes: every input either decodes to an RGB
image or raises ImageError, within a bounded time. Nothing else may escape: one bad file must
never stop an index run.

PIXSEEK_FUZZ_EXAMPLES raises the example count for a long run (its figures are in
docs/reliability.md); the default keeps the suite fast.
"""

from __future__ import annotations

import io
import os
import time
from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from pixseek.errors import ImageError
from pixseek.images import decode
from reliability_kit import record

EXAMPLES = int(os.environ.get("PIXSEEK_FUZZ_EXAMPLES", 400))
SECONDS_PER_INPUT = 2.0
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _seed_files() -> dict[str, bytes]:
    """Small valid files in every format Pillow can write, the ones we index and the ones we
    refuse: mutations of real structure reach deeper into the decoders than random bytes."""
    pixels = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    image = Image.fromarray(pixels)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "camera"
    variants = [("JPEG", {}), ("JPEG", {"progressive": True}), ("JPEG", {"exif": exif.tobytes()}), ("PNG", {}),
                ("GIF", {}), ("TIFF", {}), ("TIFF", {"compression": "tiff_lzw"}), ("WEBP", {}), ("BMP", {}),
                ("ICO", {}), ("DDS", {}), ("TGA", {}), ("PCX", {}), ("QOI", {}), ("PPM", {}), ("SGI", {})]
    seeds = {}
    for fmt, options in variants:
        buffer = io.BytesIO()
        image.save(buffer, fmt, **options)
        seeds[f"{fmt} {sorted(options)}"] = buffer.getvalue()
    buffer = io.BytesIO()
    image.convert("P").save(buffer, "PNG", transparency=3)
    seeds["PNG palette"] = buffer.getvalue()
    return seeds


SEEDS = _seed_files()
FIGURES = {"inputs": Counter(), "outcomes": Counter(), "slowest_s": 0.0}


def _mutate(data: bytes, edits: list[tuple[int, int, int]]) -> bytes:
    out = bytearray(data)
    for kind, position, value in edits:
        if not out:
            break
        at = position % len(out)
        if kind == 0:
            out[at] = value
        elif kind == 1:
            out[at:at] = bytes([value]) * (1 + value % 16)
        elif kind == 2:
            del out[at:at + 1 + value % 64]
        else:
            del out[at:]
    return bytes(out)


def _check(data: bytes, kind: str) -> None:
    start = time.perf_counter()
    try:
        image = decode(data, min_side=224)
        outcome = "decoded"
        assert image.mode == "RGB" and image.width >= 1 and image.height >= 1
    except ImageError as error:
        outcome = error.reason
    elapsed = time.perf_counter() - start
    assert elapsed < SECONDS_PER_INPUT, f"{elapsed:.1f} s for one {len(data)}-byte input"
    FIGURES["inputs"][kind] += 1
    FIGURES["outcomes"][outcome] += 1
    FIGURES["slowest_s"] = max(FIGURES["slowest_s"], elapsed)


edit = st.tuples(st.integers(0, 3), st.integers(0, 2**20), st.integers(0, 255))


@FUZZ
@given(name=st.sampled_from(sorted(SEEDS)), edits=st.lists(edit, min_size=1, max_size=8))
def test_mutated_images_decode_or_raise_image_error(name, edits):
    _check(_mutate(SEEDS[name], edits), "mutated")


@FUZZ
@given(magic=st.sampled_from([b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"RIFF\0\0\0\0WEBP",
                              b"II*\0", b"MM\0*", b"BM"]),
       body=st.binary(max_size=2048))
def test_random_bytes_behind_a_magic_number_raise_image_error(magic, body):
    _check(magic + body, "random")


@pytest.fixture(scope="module", autouse=True)
def _write_figures():
    yield
    record("fuzz-images", {"examples_per_test": EXAMPLES, "inputs": dict(FIGURES["inputs"]),
                           "outcomes": dict(FIGURES["outcomes"]), "seed_formats": sorted(SEEDS),
                           "slowest_input_s": round(FIGURES["slowest_s"], 3)})
