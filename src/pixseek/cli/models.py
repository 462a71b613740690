"""`pixseek model install | list | export`: installing, listing and exporting CLIP models.

The parser calls `add_model_commands(subparsers)` and then `args.func(args)`, which returns an
exit code or raises PixseekError (printed as one line). This module imports nothing heavy, so that
building the parser costs nothing for `pixseek search`; each command imports what it needs.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import asdict
from pathlib import Path

from pixseek import paths
from pixseek.errors import PixseekError
from pixseek.model.bundle import Bundle, default_model, installed_bundles, stand_in_warning
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


def _count(text: str) -> int:
    """A photo count on the command line: a whole number, 1 or more."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of photos (a whole number, 1 or more)")
    return int(text)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def _library_photos(index: str | None, given: int | None) -> tuple[int, str]:
    """How many photos the speed table plans for, and where that number comes from."""
    # why: the index's store and the speed probe (NumPy, ONNX) load only for --available
    from pixseek.cli.opening import has_index, open_library
    from pixseek.model.choice import ASSUMED_PHOTOS

    if given is not None:
        return given, "as given"
    where = argparse.Namespace(index=index, model=None, device=None)
    if has_index(where):
        try:
            with open_library(where, check_model=False) as library:
                status = library.status(check=False)
            return status.images, f"the photos in the index {status.index_dir}"
        except PixseekError as exc:
            return ASSUMED_PHOTOS, f"assumed: the index could not be read ({exc})"
    return ASSUMED_PHOTOS, "assumed: no index yet (--library-size N to plan for another number)"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def list_available(bundles: dict[str, Bundle], default: str, args: argparse.Namespace) -> int:
    """The catalogue: what each model is, costs and gives, whether it is installed, and (measured
    here, in a few seconds) how fast its image tower runs on this machine and which to choose."""
    from pixseek.model.choice import measure, recommend  # why: ONNX and NumPy, measured only here

    installed = set(bundles)
    if args.json and not args.measure:
        print(json.dumps([{**asdict(e), "installed": e.name in installed} for e in KNOWN_MODELS], indent=2))
        return 0
    photos, counted = _library_photos(args.index, args.library_size)
    estimates = measure(bundles)
    best, reason = recommend(estimates, photos)
    if args.json:
        print(json.dumps({"library_photos": photos, "counted": counted, "recommended": best and best.name, "why": reason,
                          "models": [{**asdict(e.entry), "installed": e.entry.name in installed,
                                      "images_per_s_here": e.speed and e.speed.images_per_s,
                                      "measured_on": e.speed and e.speed.measured_on,
                                      "index_seconds_here": e.index_seconds(photos)} for e in estimates]}, indent=2))
        return 0
    print(f"{'':2}{'NAME':34}{'DOWNLOAD':>10}{'DIM':>5}{'IMG/S':>7}{'HERE':>7}{'INDEX':>9}{'FLICKR':>8}{'COCO':>6}  LICENCE")
    for estimate in estimates:
        entry = estimate.entry
        marker = ("*" if entry.name == default else " ") + ("+" if entry.name in installed else " ")
        speed = "-" if entry.images_per_s is None else f"{entry.images_per_s:.0f}"
        rate = None if estimate.speed is None else estimate.speed.images_per_s
        here = "-" if rate is None else f"{rate:.{1 if rate < 10 else 0}f}"
        flickr, coco = entry.recall or (None, None)
        print(f"{marker}{entry.name:34}{entry.download_mb:>7} MB{entry.embedding_dim:>5}{speed:>7}{here:>7}"
              f"{_duration(estimate.index_seconds(photos)):>9}{_percent(flickr):>8}{_percent(coco):>6}  {entry.licence}")
        source = "" if entry.recall_source == "open_clip" else f"; recall: {entry.recall_source}"
        measured = "" if estimate.speed is None else f"; HERE measured on {estimate.speed.measured_on}"
        print(f"{'':4}{entry.title}; {entry.languages}; {entry.repo} ({entry.layout} layout){source}{measured}")
    print(f"\n* default  + installed.  IMG/S: int8 image tower, the project's 2-core test machine (benchmarks/models.py).  "
          f"HERE: measured now on this machine ({os.cpu_count()} cores), image tower alone: a random layer of the "
          f"model's shape, or the installed tower.  INDEX: {photos:,} photos at that speed ({counted}); decoding "
          "the photos adds to it.  FLICKR, COCO: published text->image R@1 (%), open_clip's unless noted.  "
          "Install: pixseek model install NAME")
    if best is not None:
        print(f"\nrecommended: {best.name}: {reason}")
    else:
        print(f"\nno recommendation: {reason}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    default = default_model()
    bundles = installed_bundles()
    if args.available:  # a random stand-in installed under a catalogue name is not that model
        return list_available({b.name: b for b in bundles if not stand_in_warning(b.model_id)}, default, args)
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
                   help="the catalogue: size, vector length, published recall, licence, and each model's speed measured "
                        "here, the time to index your photos, and a recommendation")
    p.add_argument("--json", action="store_true", help="machine-readable (with --available; measured only with --measure)")
    p.add_argument("--measure", action="store_true", help="with --available --json: measure the speeds too")
    p.add_argument("--index", metavar="PATH", help="with --available: the index whose photo count to plan for "
                                                   "(default: $PIXSEEK_INDEX or the user data folder)")
    p.add_argument("--library-size", type=_count, metavar="N", help="with --available: plan for N photos")
    p.set_defaults(func=cmd_list)

    p = commands.add_parser("export", parents=[checks],
                            help="export a Hugging Face CLIP checkpoint to ONNX and install it (needs pixseek[export])")
    p.add_argument("checkpoint", metavar="CHECKPOINT", help="checkpoint folder or hub id, e.g. openai/clip-vit-base-patch16")
    p.add_argument("--name", help="installed name (default: the checkpoint's folder or repo name)")
    p.set_defaults(func=cmd_export)
