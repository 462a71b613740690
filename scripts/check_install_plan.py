"""What `pip install pixseek` would bring, resolved by pip itself as a fresh virtualenv would be:
the engine's own packages and no PyTorch (several GB with its CUDA packages), which lives in the
optional `export` extra only.

It asks the package index, so `make install` runs it (once per change of pyproject.toml) and
the test suite, which must not need the network, does not. Exits 1 with one line on failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIRED = {"onnxruntime", "faiss-cpu", "tokenizers", "huggingface-hub", "pixseek"}
HEAVY = {"torch", "torchvision", "transformers", "tensorflow", "jax"}


def planned_packages() -> set[str]:
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "report.json"
        subprocess.run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                        "--report", str(report), str(ROOT)], check=True, timeout=900, capture_output=True)
        plan = json.loads(report.read_text())["install"]
    return {item["metadata"]["name"].lower().replace("_", "-") for item in plan}


def main() -> int:
    names = planned_packages()
    missing = REQUIRED - names
    heavy = sorted(names & HEAVY) + sorted(n for n in names if n.startswith("nvidia-"))
    if missing or heavy:
        print(f"check_install_plan: pip install . would lack {sorted(missing)} and bring {heavy}", file=sys.stderr)
        return 1
    print(f"check_install_plan: pip install . brings {len(names)} packages, no PyTorch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
