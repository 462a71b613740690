"""benchmarks/gpu.py on a machine without CUDA: it says so and runs the CPU path at a tiny size
(the tiny model, a few photos), every line but the CUDA calls; a real process, as it is run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import make_photo

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.processes  # a whole benchmark process (~20 s on 2 busy cores): `make test`, not test-fast
def test_the_gpu_benchmark_runs_the_cpu_path_and_says_cuda_is_absent(pixseek_home, tmp_path):
    from pixseek.model.sessions import runtime

    if "CUDAExecutionProvider" in runtime().get_available_providers():
        pytest.skip("this machine has CUDA: the benchmark is run for real, not as a smoke test")
    photos, camera = tmp_path / "photos", tmp_path / "camera"
    for i in range(3):
        make_photo(photos / f"{i}.jpg", seed=i)
    make_photo(camera / "big.jpg", seed=9, size=(2000, 1500))
    script = ("import json, sys; from benchmarks.gpu import main; "
              "print(json.dumps(main(sys.argv[1:])))")
    done = subprocess.run([sys.executable, "-c", script, "--model", os.environ["PIXSEEK_MODEL"], "--photos-dir",
                           str(photos), "--camera-dir", str(camera), "--count", "4", "--no-save"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CUDA absent: the CPU path at a tiny size" in done.stdout
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["cuda"] is False
    assert {(r["precision"], r["batch"]) for r in result["encoder"]} >= {("fp32", 1), ("fp32", 4)}
    assert all(r["images_per_s"] > 0 and r["where"].startswith("CPU") for r in result["encoder"])
    ends = result["end_to_end"]
    assert (ends["photos"]["photos"], ends["camera"]["photos"]) == (3, 1)
    assert all(r["photos_per_s"] > 0 and r["gpu_memory_mib"] is None for r in ends.values())
