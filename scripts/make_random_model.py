"""Install a full-size random-weight CLIP ViT-B/32 (fp32 + checked int8) for benchmarks.

The real weights cannot be downloaded on every machine, and speed does not depend on the weights'
values, so benchmarks run on this. Its model id ("random/vit-b-32-seed0") keeps its indexes apart
from the real model's.

usage: python scripts/make_random_model.py [--name clip-vit-b-32-random] [--precision int8|fp32]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pixseek.errors import PixseekError
from pixseek.model.export import RANDOM_PRESETS
from pixseek.model.install import PRECISIONS, install_random

RANDOM_MODEL = "clip-vit-b-32-random"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--name", default=RANDOM_MODEL, help=f"installed name (default: {RANDOM_MODEL})")
    parser.add_argument("--preset", default="vit-b-32", choices=sorted(RANDOM_PRESETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precision", default="int8", choices=PRECISIONS)
    parser.add_argument("--photos", type=Path, metavar="DIR", help="photos for the int8 check (default: generated)")
    args = parser.parse_args(argv)
    try:
        install_random(args.name, args.preset, args.seed, precision=args.precision, photos=args.photos)
    except PixseekError as error:
        print(f"make_random_model: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
