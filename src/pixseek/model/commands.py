"""`pixseek model install | list | export`: the model commands, for the main CLI to mount.

The CLI calls `add_model_commands(subparsers)` and then `args.func(args)`, which returns an exit
code or raises PixseekError (printed as one line). This module imports nothing heavy, so that
building the parser costs nothing for `pixseek search`; each command imports what it needs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pixseek.model.bundle import DEFAULT_MODEL

PRECISION_HELP = "image tower precision: int8 (default; kept only if it agrees with fp32 on sample photos) or fp32"


def cmd_install(args: argparse.Namespace) -> int:
    from pixseek.model.install import install_from_hub, install_from_path

    options = dict(precision=args.precision, photos=args.photos, model_id=args.model_id)
    if args.source:
        install_from_path(args.source, args.name, **options)
    else:
        install_from_hub(args.name, args.repo, args.revision, **options)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    import os

    from pixseek import paths
    from pixseek.model.bundle import installed_bundles

    default = os.environ.get("PIXSEEK_MODEL") or DEFAULT_MODEL
    bundles = installed_bundles()
    if not bundles:
        print(f"no model installed in {paths.models_dir()}; install one with `pixseek model install`")
        return 0
    for bundle in bundles:
        marker = "*" if bundle.name == default else " "
        config = bundle.config
        print(f"{marker} {bundle.name:24} {bundle.size_bytes() / 1e6:7.0f} MB  {config.precision:4}  "
              f"{config.embedding_dim}-d  {config.image_size}px  {bundle.model_id}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pixseek.model.install import install_checkpoint

    install_checkpoint(args.checkpoint, args.name, precision=args.precision, photos=args.photos, model_id=args.model_id)
    return 0


def add_model_commands(subparsers) -> None:
    """Register `model install|list|export` on the CLI's subparsers; each sets `func`."""
    model = subparsers.add_parser("model", help="install, list and export CLIP models")
    commands = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)

    checks = argparse.ArgumentParser(add_help=False)
    checks.add_argument("--precision", choices=["int8", "fp32"], default="int8", help=PRECISION_HELP)
    checks.add_argument("--photos", type=Path, metavar="DIR", help="your photos to check int8 against fp32 (default: generated ones)")
    checks.add_argument("--model-id", metavar="ID", help="the id indexes record (default: the checkpoint's hub id or folder name)")

    p = commands.add_parser("install", parents=[checks], help="install a model from the Hugging Face hub or from a folder/archive",
                            description="Download a model once from the Hugging Face hub, or install one copied in by hand "
                                        "(a bundle folder, a CLIP checkpoint folder, or a .zip/.tar.gz of either).")
    p.add_argument("name", nargs="?", default=DEFAULT_MODEL, metavar="NAME", help=f"model name (default: {DEFAULT_MODEL})")
    p.add_argument("--from", dest="source", type=Path, metavar="PATH", help="install from this folder or archive (no network)")
    p.add_argument("--repo", metavar="OWNER/NAME", help="hub repo to download from (default: the one known for NAME)")
    p.add_argument("--revision", metavar="REV", help="hub branch, tag or commit (default: main)")
    p.set_defaults(func=cmd_install)

    p = commands.add_parser("list", help="show installed models and their sizes")
    p.set_defaults(func=cmd_list)

    p = commands.add_parser("export", parents=[checks], help="export a Hugging Face CLIP checkpoint to ONNX and install it (needs pixseek[export])")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint folder or hub id, e.g. openai/clip-vit-base-patch16")
    p.add_argument("--name", help="installed name (default: the checkpoint's folder or repo name)")
    p.set_defaults(func=cmd_export)
