"""`make run` on a machine with no photo folder given: it indexes the demo photos (real photos
shipped with their licence), searches them, and says how to point pixseek at one's own."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
from PIL import Image

from conftest import ROOT, TEST_MODEL

DEMO = ROOT / "demo" / "photos"


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


def test_the_demo_photos_are_real_photos_with_their_licence():
    photos = sorted(DEMO.glob("*.jpg"))
    licence = (ROOT / "demo" / "LICENSE.md").read_text(encoding="utf-8")
    assert len(photos) >= 5
    for photo in photos:
        assert f"| {photo.name} |" in licence, f"{photo.name} has no licence line"
        with Image.open(photo) as image:
            assert image.format == "JPEG" and min(image.size) >= 224 and image.mode == "RGB"


def test_make_run_without_photos_indexes_the_demo_set_and_says_what_next(pixseek_home, tmp_path):
    """The default model here is the tiny test model installed under the default name (no hub)."""
    shutil.copytree(pixseek_home / "models" / TEST_MODEL, pixseek_home / "models" / "clip-vit-b-32")
    env = {k: v for k, v in os.environ.items() if k not in ("PIXSEEK_MODEL", "MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    result = subprocess.run(["make", "-s", "run", f"DEMO_INDEX={tmp_path / 'demo-index'}"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stdout + result.stderr
    count = len(list(DEMO.glob("*.jpg")))
    assert f"{count} indexed, 0 reused, 0 unchanged, 0 removed, 0 skipped" in result.stdout
    hits = [line.split("\t") for line in result.stdout.splitlines() if "\t" in line]
    assert len(hits) == 5 and all(os.path.dirname(path) == str(DEMO) for _, path in hits)
    assert "make run PHOTOS=~/Pictures" in result.stdout and "source .venv/bin/activate" in result.stdout
    assert not (pixseek_home / "indexes").exists()  # the demo has an index of its own: yours stays yours
