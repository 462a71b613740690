"""Odd files: each is indexed correctly or skipped with its reason; none crashes a run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from odd_files import exif_rotated_jpeg, palette_alpha_png, sixteen_bit_png, write_odd_corpus
from pixseek.errors import ImageError
from pixseek.images import decode
from pixseek.library import Library


def test_odd_corpus_is_indexed_or_skipped_with_reasons(pixseek_home, tmp_path):
    root = tmp_path / "odd"
    root.mkdir()
    expected = write_odd_corpus(root)
    with Library.open(tmp_path / "index", create=True) as library:
        report = library.index([root])
        indexed = {os.path.relpath(r.path, root) for r in library._index.catalog.files_under([str(root)])}
        status = library.status()
    reasons = {os.path.relpath(path, root): reason for path, reason in report.skipped}
    for name, outcome in expected.items():
        if outcome == "indexed":
            assert name in indexed, f"{name!r} should be indexed, got {reasons.get(name)!r}"
        else:
            assert name not in indexed, f"{name!r} should be skipped"
            assert reasons.get(name, "").startswith(outcome), f"{name!r}: {reasons.get(name)!r} != {outcome!r}"
    assert not any(".hidden" in p or "._apple" in p for p in indexed)
    assert status.consistent
    assert len(indexed) == sum(1 for o in expected.values() if o == "indexed")


def test_skips_are_remembered_and_retried_only_when_the_file_changes(pixseek_home, tmp_path):
    root = tmp_path / "odd"
    root.mkdir()
    bad = root / "bad.jpg"
    bad.write_bytes(b"not an image")
    with Library.open(tmp_path / "index", create=True) as library:
        assert [r for _, r in library.index([root]).skipped] == ["not an image: unrecognised format"]
        second = library.index([root])
        assert (second.skipped, second.skipped_before) == ([], 1)
        Image.new("RGB", (50, 50), (1, 2, 3)).save(bad, "JPEG")
        third = library.index([root])
        assert third.indexed == 1 and library.skipped() == []


def _index_within(library: Library, root: Path, seconds: float = 60):
    """library.index([root]), failing instead of hanging if something opens the pipe."""
    import threading

    done: list = []
    worker = threading.Thread(target=lambda: done.append(library.index([root])), daemon=True)
    worker.start()
    worker.join(seconds)
    assert done, "the run hung: a pipe was opened"
    return done[0]


def test_a_pipe_named_like_a_photo_is_a_skip_with_its_reason_remembered_until_it_goes(pixseek_home, tmp_path):
    from conftest import make_photo

    root = tmp_path / "odd"
    make_photo(root / "photo.jpg", seed=1)
    make_photo(root / "album.jpg" / "inside.jpg", seed=2)  # a folder named like a photo is walked
    pipe = root / "pipe.jpg"
    os.mkfifo(pipe)
    reason = "not a regular file: a pipe (FIFO)"
    with Library.open(tmp_path / "index", create=True) as library:
        first = _index_within(library, root)
        assert (first.indexed, first.skipped) == (2, [(str(pipe), reason)])
        assert library.skipped() == [(str(pipe), reason)] and library.status().skipped == 1
        second = _index_within(library, root)  # still there: still skipped, once, never opened
        assert (second.indexed, second.unchanged) == (0, 2)
        assert library.skipped() == [(str(pipe), reason)] and library.status().consistent
        pipe.unlink()
        _index_within(library, root)
        assert library.skipped() == []


def test_exif_orientation_is_applied():
    upright = decode(exif_rotated_jpeg(6))  # 90 degrees clockwise: 120x60 becomes 60x120, red on top
    assert upright.size == (60, 120)
    top, bottom = np.asarray(upright)[5, 30], np.asarray(upright)[-5, 30]
    assert top[0] > 200 and top[2] < 60 and bottom[2] > 200 and bottom[0] < 60


def test_sixteen_bit_is_scaled_not_clipped():
    pixels = np.asarray(decode(sixteen_bit_png()))[0, :, 0]
    assert pixels[0] == 0 and pixels[-1] == 255
    assert 100 < pixels[128] < 156  # the middle of the ramp stays mid-grey


def test_palette_transparency_lies_on_white():
    pixels = np.asarray(decode(palette_alpha_png()))
    assert tuple(pixels[10, 10]) == (0, 255, 0)
    assert tuple(pixels[10, 50]) == (255, 255, 255)  # transparent index 0


def test_decode_errors_have_reasons():
    with pytest.raises(ImageError, match="empty file"):
        decode(b"")
    with pytest.raises(ImageError, match="not an image"):
        decode(b"hello world" * 10)


def test_unreadable_folder_is_reported_and_keeps_its_entries(pixseek_home):
    """Permissions don't bind root, so as root the indexer runs in a user namespace
    (`unshare -U`), where root's override of file permissions does not apply."""
    from conftest import make_photo

    base = Path(tempfile.mkdtemp(prefix="pixseek-perm-"))
    try:
        os.chmod(base, 0o777)
        photos = base / "photos"
        make_photo(photos / "ok.jpg", seed=1)
        make_photo(photos / "locked" / "inside.jpg", seed=2)
        home = base / "home"
        subprocess.run(["cp", "-r", str(pixseek_home), str(home)], check=True)
        subprocess.run(["chmod", "-R", "a+rwX", str(base)], check=True)
        env = dict(os.environ, PIXSEEK_HOME=str(home))

        def index_as_user():
            prefix = ["unshare", "-U"] if os.geteuid() == 0 else []
            return subprocess.run(prefix + [sys.executable, "-m", "pixseek.cli", "index", "-q", str(photos)],
                                  env=env, capture_output=True, text=True, timeout=120)

        first = index_as_user()
        assert first.returncode == 0, first.stderr
        assert "2 indexed" in first.stdout
        os.chmod(photos / "locked", 0o000)
        second = index_as_user()
        assert second.returncode == 0, second.stderr
        assert "unreadable folder" in second.stdout and "0 removed" in second.stdout
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(base)])
        subprocess.run(["rm", "-rf", str(base)])


def test_heic_photos_are_indexed_when_pillow_heif_is_installed(pixseek_home, tmp_path):
    pillow_heif = pytest.importorskip("pillow_heif")  # an optional extra; the test extra installs it
    pillow_heif.register_heif_opener()
    root = tmp_path / "phone"
    root.mkdir()
    Image.new("RGB", (640, 480), (200, 30, 30)).save(root / "IMG_0001.HEIC", "HEIF")
    Image.new("RGB", (480, 640), (30, 30, 200)).save(root / "img_0002.heif", "HEIF")
    with Library.open(tmp_path / "index", create=True) as library:
        report = library.index([root])
        assert (report.indexed, report.skipped) == (2, [])
        first = str(root / "IMG_0001.HEIC")
        from pixseek.engine.query import parse_query

        assert library.search(parse_query(images=[first]), k=1)[0].path == first
