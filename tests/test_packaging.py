"""What the pixseek wheel carries: every file the package needs at run time, built offline.

That `pip install pixseek` brings no PyTorch is checked by `make install`
(scripts/check_install_plan.py), since pip must ask the package index for it.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


def test_wheel_carries_the_files_used_at_run_time(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet", "-w",
                    str(tmp_path), str(ROOT)],
                   check=True, timeout=900, capture_output=True)
    (wheel,) = tmp_path.glob("pixseek-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"pixseek/model/assets/bpe_simple_vocab_16e6.txt.gz", "pixseek/model/assets/LICENSE-CLIP-VOCAB.txt"} <= names
