"""`pixseek index` and `pixseek ingest`: bringing photos into the index, on this machine or from
a cluster's result shards."""

from __future__ import annotations

import argparse
import sys

from pixseek.cli.opening import has_index, open_library
from pixseek.cli.output import EXIT_INTERRUPTED, EXIT_USER_ERROR, note
from pixseek.cli.progress import ProgressBar, cancel_on_interrupt
from pixseek.errors import PixseekError
from pixseek.files import check_folder
from pixseek.model.bundle import default_model, installed_bundles
from pixseek.model.known_models import DEFAULT_MODEL


def first_model(args: argparse.Namespace) -> None:
    """The first index on a machine with no model installed: the default model, installed without
    asking, and one line saying that better ones exist."""
    if args.model or default_model() != DEFAULT_MODEL or has_index(args) or installed_bundles():
        return
    from pixseek.model.install import install_from_hub  # why: ~70 ms to import; a first run only

    for folder in args.folders:  # a mistyped folder is said before a download, not after
        check_folder(folder)
    note(f"no model installed: indexing with the default, {DEFAULT_MODEL}; better models exist "
         "(`pixseek model list --available`)")
    install_from_hub(DEFAULT_MODEL)


def cmd_index(args: argparse.Namespace) -> int:
    if args.reindex and not args.model:
        raise PixseekError("--reindex rebuilds the index for another model: name it with --model NAME")
    if not args.dry_run:
        first_model(args)
    with open_library(args, create=True, check_model=not args.reindex) as library:
        if args.dry_run:
            print(library.changes(args.folders).describe())
            return 0
        if args.vector_index:
            library.set_vector_index(args.vector_index)
        if (args.shards or args.dashboard) and not args.cluster:
            raise PixseekError("--shards and --dashboard go with --cluster")
        if args.cluster and args.reindex:
            raise PixseekError("--reindex runs on this machine only; leave out --cluster")
        cancel = cancel_on_interrupt()
        with ProgressBar() as bar:
            show = None if args.quiet else bar.show
            if args.cluster:
                report = library.index_on_cluster(args.folders, args.cluster, shards=args.shards, progress=show,
                                                  cancel=cancel, dashboard=args.dashboard,
                                                  include_hidden=args.include_hidden)
            elif args.reindex:
                report = library.reindex(args.model, args.folders, progress=show, cancel=cancel)
            else:
                report = library.index(args.folders, progress=show, cancel=cancel, include_hidden=args.include_hidden,
                                       read_text=args.text, find_faces=args.faces)
    print(report.describe())
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}")
    return EXIT_INTERRUPTED if report.cancelled else 0


def cmd_ingest(args: argparse.Namespace) -> int:
    with open_library(args, create=True) as library:
        report = library.ingest(args.folder)
    print(report.describe())
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}")
    for refusal in report.refused:
        print(f"pixseek: error: {refusal}", file=sys.stderr)
    return EXIT_USER_ERROR if report.refused else 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("index", parents=[common], help="index (or update) folders of images")
    p.add_argument("folders", nargs="*", metavar="FOLDER", help="folders to index (default: those already indexed)")
    p.add_argument("--precision", choices=["int8", "fp32"], help="image tower precision (default: the model's)")
    p.add_argument("--dry-run", action="store_true", help="only count new, changed and deleted files")
    p.add_argument("--vector-index", choices=["auto", "flat", "ivf", "ivf4"],
                   help="force exact (flat) or approximate (ivf: 8-bit codes; ivf4: 4-bit PQ codes, for tens "
                        "of millions) search, or choose by size (auto, the default); remembered")
    p.add_argument("--include-hidden", action=argparse.BooleanOptionalAction,
                   help="index hidden files and folders (names starting with '.'); remembered (default: left out)")
    p.add_argument("--text", action=argparse.BooleanOptionalAction,
                   help="read the words in photos after indexing them, for `pixseek search --says`; remembered "
                        "(default: on, unless $PIXSEEK_READ_TEXT=no)")
    p.add_argument("--faces", action=argparse.BooleanOptionalAction,
                   help="find the faces in photos and group them into people, for `pixseek search --person`; "
                        "remembered (default: on where a face model is installed, see `pixseek people install`)")
    p.add_argument("--reindex", action="store_true",
                   help="rebuild the index for --model (every photo embedded again); the old index answers searches "
                        "until the new one is complete; an interrupted rebuild resumes")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--cluster", metavar="ADDRESS",
                   help="decode and embed on a Ray cluster: ray://HEAD:10001, HEAD:6379, auto ($RAY_ADDRESS), "
                        "or local (a private Ray on this machine, 127.0.0.1 only); needs pixseek[cluster]")
    p.add_argument("--shards", metavar="DIR", help="with --cluster: keep the result shards in DIR (for `pixseek ingest`)")
    p.add_argument("--dashboard", action="store_true", help="with --cluster local: start Ray's dashboard on 127.0.0.1")
    p.set_defaults(func=cmd_index)

    p = commands.add_parser("ingest", parents=[common], help="merge cluster result shards (Parquet) into the index")
    p.add_argument("folder", metavar="DIR", help="a folder of shards written by `pixseek index --cluster ... --shards DIR`")
    p.set_defaults(func=cmd_ingest)
