"""What `pip install pixseek` brings: no PyTorch, and every file the package needs at run time.

pixseek installs its models as ready ONNX files, so PyTorch (several GB with its CUDA packages)
must never be a dependency; it lives in the optional `export` extra only. Resolved by pip itself
(`--dry-run --report`), as a fresh virtualenv would be.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile

from conftest import ROOT

HEAVY = {"torch", "torchvision", "transformers", "tensorflow", "jax"}


def test_pip_install_resolves_without_torch(tmp_path):
    report = tmp_path / "report.json"
    subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                    "--report", str(report), str(ROOT)], check=True, timeout=900, capture_output=True)
    names = {item["metadata"]["name"].lower().replace("_", "-") for item in json.loads(report.read_text())["install"]}
    print(f"\npip install . would install {len(names)} packages")
    assert {"onnxruntime", "faiss-cpu", "tokenizers", "huggingface-hub", "pixseek"} <= names
    assert not names & HEAVY and not [n for n in names if n.startswith("nvidia-")]


def test_wheel_carries_the_files_used_at_run_time(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(tmp_path), str(ROOT)],
                   check=True, timeout=900, capture_output=True)
    (wheel,) = tmp_path.glob("pixseek-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"pixseek/model/assets/bpe_simple_vocab_16e6.txt.gz", "pixseek/model/assets/LICENSE-CLIP-VOCAB.txt"} <= names
