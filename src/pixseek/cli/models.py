"""`pixseek model install | list | export`: installing, listing and exporting CLIP models.

The parser calls `add_model_commands(subparsers)` and then `args.func(args)`, which returns an
exit code or raises PixseekError (printed as one line). This module imports nothing heavy, so that
building the parser costs nothing for `pixseek search`; each command imports what it needs.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from pixseek import paths
from pixseek.model.bundle import default_model, installed_bundles, stand_in_warning
from pixseek.model.known_models import DEFAULT_MODEL, KNOWN_MODELS

PRECISION_HELP = "image tower precision: int8 (default; kept only if it agrees with fp32 on sample photos) or fp32"


def cmd_install(args: argparse.Namespace) -> int:
    from pixseek.model.install import install_from_hub, install_from_path  # why: the hub client and ONNX: ~70 ms

    options = dict(precision=args.precision, photos=args.photos, model_id=args.model_id)
    if args.source:
        install_from_path(args.source, args.name, **options)
    else:
        install_from_hub(args.name, args.repo, args.revision, **options)
    return 0


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def list_available(installed: set[str], default: str, as_json: bool) -> int:
    """The catalogue: what each model is, costs and gives, and whether it is installed."""
    if as_json:
        print(json.dumps([{**asdict(e), "installed": e.name in installed} for e in KNOWN_MODELS], indent=2))
        return 0
    print(f"{'':2}{'NAME':34}{'DOWNLOAD':>10}{'DIM':>5}{'IMG/S':>7}{'FLICKR':>8}{'COCO':>6}  LICENCE")
    for entry in KNOWN_MODELS:
        marker = ("*" if entry.name == default else " ") + ("+" if entry.name in installed else " ")
        speed = "-" if entry.images_per_s is None else f"{entry.images_per_s:.0f}"
        flickr, coco = entry.recall or (None, None)
        print(f"{marker}{entry.name:34}{entry.download_mb:>7} MB{entry.embedding_dim:>5}{speed:>7}"
              f"{_percent(flickr):>8}{_percent(coco):>6}  {entry.licence}")
        print(f"{'':4}{entry.title}; {entry.languages}; {entry.repo} ({entry.layout} layout)")
    print("\n* default  + installed.  IMG/S: int8 image tower, 2 cores (benchmarks/models.py).  FLICKR, COCO: "
          "open_clip's published text->image R@1 (%) on Flickr30k and MS-COCO 5k.  Install: pixseek model install NAME")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    default = default_model()
    bundles = installed_bundles()
    if args.available:  # a random stand-in installed under a catalogue name is not that model
        return list_available({b.name for b in bundles if not stand_in_warning(b.model_id)}, default, args.json)
    if not bundles:
        print(f"no model installed in {paths.models_dir()}; install one with `pixseek model install` "
              "(`pixseek model list --available` shows the choice)")
        return 0
    for bundle in bundles:
        marker = "*" if bundle.name == default else " "
        config = bundle.config
        origin = config.source.get("repo") or config.source.get("from") or ""
        print(f"{marker} {bundle.name:24} {bundle.size_bytes() / 1e6:7.0f} MB  {config.precision:4}  "
              f"{config.embedding_dim}-d  {config.image_size}px  {bundle.model_id}  {origin}".rstrip())
        if stand_in_warning(bundle.model_id):
            print(f"{'':4}warning: {stand_in_warning(bundle.model_id)}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pixseek.model.install import install_checkpoint  # why: as in cmd_install

    install_checkpoint(args.checkpoint, args.name, precision=args.precision, photos=args.photos, model_id=args.model_id)
    return 0


def add_model_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `model install|list|export` on the CLI's subparsers; each sets `func`."""
    model = subparsers.add_parser("model", help="install, list and export CLIP models")
    commands = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    checks = argparse.ArgumentParser(add_help=False)
    checks.add_argument("--precision", choices=["int8", "fp32"], default="int8", help=PRECISION_HELP)
    checks.add_argument("--photos", type=Path, metavar="DIR",
                        help="your photos to check int8 against fp32 (default: generated ones)")
    checks.add_argument("--model-id", metavar="ID",
                        help="the id indexes record (default: the catalogue's, or the checkpoint's hub id or folder name)")

    p = commands.add_parser("install", parents=[checks],
                            help="install a model from the Hugging Face hub or from a folder/archive",
                            description="Download a catalogue model (`pixseek model list --available`) once from the Hugging "
                                        "Face hub as ready ONNX files, or any hub repo in a known layout (--repo), or install "
                                        "model files copied in by hand (--from: a folder or .zip/.tar.gz in the Xenova, "
                                        "Immich or rclip layout, a pixseek bundle, or a CLIP checkpoint).")
    p.add_argument("name", nargs="?", default=DEFAULT_MODEL, metavar="NAME",
                   help=f"catalogue model, or the name to install under (default: {DEFAULT_MODEL})")
    p.add_argument("--from", dest="source", type=Path, metavar="PATH", help="install from this folder or archive (no network)")
    p.add_argument("--repo", metavar="OWNER/NAME", help="any hub repo in a known layout, instead of NAME's catalogue entry")
    p.add_argument("--revision", metavar="REV", help="with --repo: hub branch, tag or commit (default: main)")
    p.set_defaults(func=cmd_install)

    p = commands.add_parser("list", help="show installed models, or with --available the models pixseek can install")
    p.add_argument("--available", action="store_true",
                   help="the catalogue: size, vector length, speed, published recall, licence")
    p.add_argument("--json", action="store_true", help="machine-readable (with --available)")
    p.set_defaults(func=cmd_list)

    p = commands.add_parser("export", parents=[checks],
                            help="export a Hugging Face CLIP checkpoint to ONNX and install it (needs pixseek[export])")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint folder or hub id, e.g. openai/clip-vit-base-patch16")
    p.add_argument("--name", help="installed name (default: the checkpoint's folder or repo name)")
    p.set_defaults(func=cmd_export)
