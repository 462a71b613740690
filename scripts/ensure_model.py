"""`make run`'s model step: make sure the default model is installed, whatever the network.

Installed already: nothing to do. Otherwise the real model comes from the Hugging Face hub as
ready ONNX files (no PyTorch). Where the hub cannot be reached, a random-weight model of the same
shape is installed under the default name so that the pipeline runs, with a loud warning that its
search results mean nothing; making it needs the export extra (PyTorch), so without it this
script exits with NEEDS_EXPORT_EXTRA and `make run` installs the extra and calls it again.
"""

from __future__ import annotations

import argparse
import sys

from pixseek.errors import ModelInvalid, ModelNotInstalled, PixseekError
from pixseek.model.bundle import find_bundle
from pixseek.model.known_models import DEFAULT_MODEL
from pixseek.model.export import RANDOM_PRESETS, require_export_extra
from pixseek.model.hub import DownloadFailed
from pixseek.model.install import install_from_hub, install_random

NEEDS_EXPORT_EXTRA = 3

WARNING = f"""
{'!' * 78}
WARNING: the model installed as "{DEFAULT_MODEL}" has RANDOM WEIGHTS (the Hugging Face hub could
not be reached). Indexing and search run at full speed, but SEARCH RESULTS ARE MEANINGLESS.
Install the real CLIP ViT-B/32, then index again:
  online:   pixseek model install
  offline:  pixseek model install --from PATH   (the files of Xenova/clip-vit-base-patch32 or any
            catalogue model's hub repo, a pixseek bundle, or a .zip/.tar.gz of one; see docs/model.md)
{'!' * 78}
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--random-preset", default="vit-b-32", choices=sorted(RANDOM_PRESETS),
                        help="shape of the random-weight stand-in (default: vit-b-32, the real model's)")
    args = parser.parse_args(argv)
    try:
        bundle = find_bundle(DEFAULT_MODEL)
        print(f"model {bundle.name} is installed ({bundle.model_id}, {bundle.config.precision})")
        if bundle.model_id.startswith("random/"):
            print(WARNING, file=sys.stderr)
        return 0
    except (ModelNotInstalled, ModelInvalid):
        pass
    try:
        try:
            install_from_hub(DEFAULT_MODEL)
        except DownloadFailed as error:
            print(f"ensure_model: {error}", file=sys.stderr)
            try:
                require_export_extra()
            except ModelInvalid:
                print("ensure_model: the random-weight stand-in needs the export extra (PyTorch)", file=sys.stderr)
                return NEEDS_EXPORT_EXTRA
            print(WARNING, file=sys.stderr)
            install_random(DEFAULT_MODEL, args.random_preset)
            print(WARNING, file=sys.stderr)
    except PixseekError as error:
        print(f"ensure_model: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
