"""The `pixseek` command line: a thin face over the Library.

User errors (PixseekError) print one line and exit 1: the engine's words, then the CLI's own
how-to for that kind of error (a command or a flag). Ctrl-C during indexing stops after the
batch in flight is committed (a second Ctrl-C stops at once; the index stays consistent).
Results go to stdout, one per line as score TAB path; everything else (notes, "no results",
errors) goes to stderr, so scripts read only results.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from pixseek import __version__
from pixseek.errors import (EmptyQuery, FolderNotIndexed, HoldsIndexedFolders, IndexCorrupt, IndexIncompatible,
                            IndexNotFound, PixseekError)
from pixseek.model.commands import add_model_commands
from pixseek.engine.query import DEFAULT_K

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130
# The CLI's spelling of the engine's advice for each kind of error (looked up along the error's
# class hierarchy): the engine says "indexing a folder makes one", the CLI adds the command.
HINTS = {
    IndexNotFound: lambda error: "`pixseek index FOLDER`",
    IndexCorrupt: lambda error: "`pixseek index`",
    IndexIncompatible: lambda error: (f"`pixseek index --model {error.model} --reindex`, or --index PATH"
                                      if error.model else "--index PATH"),
    EmptyQuery: lambda error: "`pixseek search WORDS`, or --image PHOTO",
    HoldsIndexedFolders: lambda error: "`pixseek remove " + " ".join(shlex.quote(f) for f in error.inside) + "`",
    FolderNotIndexed: lambda error: "`pixseek status` shows them",
}


def error_line(error: PixseekError) -> str:
    hint = next((HINTS[kind](error) for kind in type(error).__mro__ if kind in HINTS), None)
    return f"pixseek: error: {error}" + (f" ({hint})" if hint else "")


def note(text: str) -> None:
    print(f"pixseek: note: {text}", file=sys.stderr)


def _library(args, create: bool = False, check_model: bool = True):
    """The index `--index` names; with `check_model`, refused when built with another model than `--model`."""
    from pixseek.library import Library

    return Library.open(args.index, model=args.model, create=create, precision=getattr(args, "precision", None),
                        device=args.device, other_model="refuse" if check_model else "use its own")


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


# -- index ------------------------------------------------------------------------------------

class _ProgressBar:
    """The indexing progress bar, drawn from the first progress report on (so that a run that
    fails before any, a missing folder, prints only its error line). The time left is the
    engine's estimate, from saved batches; a cluster run also shows the nodes alive."""

    def __init__(self):
        self._bar = None

    def show(self, p) -> None:
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(TextColumn("indexing"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[rate]:.1f} img/s"), TextColumn("{task.fields[left]}"),
                                 TextColumn("{task.fields[nodes]}"), console=_console(stderr=True), transient=True)
            self._bar.start()
            self._task = self._bar.add_task("index", total=None, rate=0.0, left="", nodes="")
        left = f"{_duration(p.eta)} left" if p.eta is not None else "estimating time left"
        nodes = f"{p.nodes} nodes" if p.nodes else ""
        self._bar.update(self._task, completed=p.done, total=p.total, rate=p.rate, left=left, nodes=nodes)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def _cancel_on_interrupt() -> threading.Event:
    cancel = threading.Event()

    def handler(signum, frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping after the current batch (Ctrl-C again to stop at once)", file=sys.stderr)

    signal.signal(signal.SIGINT, handler)
    return cancel


def _first_model(args) -> None:
    """The first index on a machine with no model installed: the default model, installed without
    asking, and one line saying that better ones exist."""
    from pixseek.library import index_exists
    from pixseek.model.bundle import DEFAULT_MODEL, default_model, installed_bundles

    if args.model or default_model() != DEFAULT_MODEL or index_exists(args.index) or installed_bundles():
        return
    from pixseek.files import check_folder
    from pixseek.model.install import install_from_hub

    for folder in args.folders:  # a mistyped folder is said before a download, not after
        check_folder(folder)
    note(f"no model installed: indexing with the default, {DEFAULT_MODEL}; better models exist "
         "(`pixseek model list --available`)")
    install_from_hub(DEFAULT_MODEL)


def cmd_index(args) -> int:
    if args.reindex and not args.model:
        raise PixseekError("--reindex rebuilds the index for another model: name it with --model NAME")
    if not args.dry_run:
        _first_model(args)
    with _library(args, create=True, check_model=not args.reindex) as library:
        if args.dry_run:
            print(library.changes(args.folders).describe())
            return 0
        if args.vector_index:
            library.set_vector_index(args.vector_index)
        if (args.shards or args.dashboard) and not args.cluster:
            raise PixseekError("--shards and --dashboard go with --cluster")
        if args.cluster and args.reindex:
            raise PixseekError("--reindex runs on this machine only; leave out --cluster")
        cancel = _cancel_on_interrupt()
        with _ProgressBar() as bar:
            show = None if args.quiet else bar.show
            if args.cluster:
                report = library.index_on_cluster(args.folders, args.cluster, shards=args.shards, progress=show,
                                                  cancel=cancel, dashboard=args.dashboard,
                                                  include_hidden=args.include_hidden)
            elif args.reindex:
                report = library.reindex(args.model, args.folders, progress=show, cancel=cancel)
            else:
                report = library.index(args.folders, progress=show, cancel=cancel, include_hidden=args.include_hidden)
    print(report.describe())
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}")
    return EXIT_INTERRUPTED if report.cancelled else 0


def cmd_ingest(args) -> int:
    with _library(args, create=True) as library:
        report = library.ingest(args.folder)
    print(report.describe())
    for path, reason in report.skipped:
        print(f"  skipped {path}: {reason}")
    for refusal in report.refused:
        print(f"pixseek: error: {refusal}", file=sys.stderr)
    return EXIT_USER_ERROR if report.refused else 0


# -- search -----------------------------------------------------------------------------------

def search_filters(args):
    from pixseek.filters import SearchFilters

    return SearchFilters.parse(after=args.after, before=args.before, year=args.year, camera=args.camera,
                               place=args.place, near=args.near, radius=args.radius, folder=args.within)



def cmd_search(args) -> int:
    from pixseek.engine.query import parse_query

    query = parse_query(args.terms, args.image, args.negative)
    read = query.terms[:len(args.terms)]
    if not args.quiet and any(term.image or term.weight != 1 for term in read):
        note(f"searching for {query.describe()}")  # a weight or an image file was read from the words
    filters = search_filters(args)
    with _library(args) as library:
        results = library.search(query, k=args.k, min_score=args.min_score, filters=filters, sort=args.sort)
        missing = [folder for folder in library.folder_details() if not folder.present]
        if library.model_warning:  # said even with -q: results of a stand-in must not pass for real ones
            note(library.model_warning)
        if not args.quiet:
            for folder in missing:
                note(f"{folder.path} is missing (an unmounted drive?): its {folder.images} photos are not searched; "
                     f"remount it, or `pixseek remove {folder.path}`")
        if args.json:
            # ASCII JSON: names that are not valid UTF-8 travel as \udcXX escapes (os.fsencode restores them).
            print(json.dumps([r.to_dict() for r in results]))
            return 0
        if args.null:  # each result ends with NUL, as `find -print0`: any file name survives
            lines = (r.path if args.paths_only else f"{r.score:.4f}\t{r.path}" for r in results)
            sys.stdout.write("".join(f"{line}\0" for line in lines))
            return 0
        if not results:
            if not args.quiet:
                wanted = filters.describe()
                print("no results" + (" above the minimum score" if args.min_score is not None else "")
                      + (f" matching {'; '.join(wanted)}" if wanted else ""), file=sys.stderr)
            return 0
        if args.paths_only:
            print("\n".join(r.path for r in results))
        elif args.preview:
            from pixseek.preview import print_results

            print_results(results, library.thumbnail)
        else:
            for result in results:
                print(f"{result.score:.4f}\t{result.path}")
    return 0


def cmd_duplicates(args) -> int:
    from pixseek.filters import SearchFilters

    folder = SearchFilters.parse(folder=args.within).folder
    with _library(args) as library:
        groups = library.duplicates(threshold=args.threshold, folder=folder)
    if args.json:
        print(json.dumps([group.to_dict() for group in groups]))
        return 0
    if not groups:
        print("no duplicates found")
    for number, group in enumerate(groups, 1):
        print(f"group {number}: {group.describe()}")
        for member in group.photos:
            print(f"  {member.describe()}")
    return 0


# -- status and remove ------------------------------------------------------------------------

def cmd_status(args) -> int:
    with _library(args) as library:
        status = library.status()
        library_folders = library.folder_details()
        skipped = library.skipped() if args.skipped else []
    if args.json:
        print(json.dumps(status.__dict__, default=str))
        return 0
    updated = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(status.last_update)) if status.last_update else "never"
    print(f"index:        {status.index_dir}")
    print(f"model:        {status.model_id}")
    print(f"images:       {status.images}")
    print(f"skipped:      {status.skipped}")
    print(f"folders:      {', '.join(status.folders) or '(none)'}")
    for folder in library_folders:
        if not folder.present:
            print(f"missing:      {folder.path} ({folder.images} photos kept, not searched; remount it, "
                  f"or `pixseek remove {folder.path}`)")
    print(f"hidden files: {'indexed' if status.include_hidden else 'left out'}")
    print(f"last update:  {updated}")
    print(f"vector index: {status.vector_index}")
    print(f"runs on:      {status.runs_on}")
    print("consistent:   " + ("yes" if status.consistent else "NO: " + "; ".join(status.problems)))
    for note in status.notes:
        print(f"note:         {note}")
    for path, reason in skipped:
        print(f"  skipped {path}: {reason}")
    return 0 if status.consistent else EXIT_USER_ERROR


def cmd_remove(args) -> int:
    with _library(args) as library:
        for folder in args.folders:
            removed = library.remove(folder)
            print(f"removed {folder} from the index ({removed} image{'s' if removed != 1 else ''})")
    return 0


# -- eval -------------------------------------------------------------------------------------

def cmd_eval(args) -> int:
    from dataclasses import asdict

    from pixseek.evaluation import evaluate

    report = evaluate(args.captions, args.photos, model=args.model, split=args.split, ks=tuple(sorted(set(args.k))))
    if args.json:
        print(json.dumps({**asdict(report), "random_weights": report.random_weights}))
        return 0
    print(f"model:    {report.model_id}")
    if report.random_weights:
        print("          RANDOM WEIGHTS: these figures are chance level; install a real model to measure recall")
    print(f"photos:   {report.photos}, captions: {report.captions}" +
          (f" ({len(report.missing)} captioned photos not found or not readable)" if report.missing else ""))
    ks = sorted(report.text_to_image)
    print(f"{'':13}" + "".join(f"{'R@' + str(k):>8}" for k in ks))
    for label, figures in (("text->image", report.text_to_image), ("image->text", report.image_to_text),
                           ("chance t->i", report.chance)):
        print(f"{label:13}" + "".join(f"{100 * figures[k]:7.1f}%" for k in ks))
    return 0


# -- faces ------------------------------------------------------------------------------------

def cmd_web(args) -> int:
    from pixseek.web.launch import launch

    return launch(args)


def _say(message: str) -> None:
    print(f"pixseek: watch: {message}", file=sys.stderr, flush=True)


def _watcher(args):
    """`pixseek watch` as a function that runs until its stop event is set (also `serve --watch`)."""
    def watch(stop: threading.Event) -> None:
        try:
            from pixseek.watch import Watcher
        except ImportError as missing:
            raise PixseekError(f"watching needs {missing.name}: pip install 'pixseek[watch]'") from None
        with _library(args, create=True) as library:
            Watcher(library, args.folders, quiet_s=args.debounce, say=_say).run(stop)
    return watch


def cmd_watch(args) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())  # the batch in flight is committed, then it stops
    _watcher(args)(stop)
    _say("stopped; the index is consistent")
    return 0


def cmd_serve(args) -> int:
    from pixseek.api.server import choose_token, serve, settings_for

    token = choose_token(args.host, args.token or os.environ.get("PIXSEEK_TOKEN"))
    return serve(settings_for(args, token), args.host, args.port, _watcher(args) if args.watch else None)


def cmd_mcp(args) -> int:
    from pixseek.mcp import serve

    return serve(args.index, args.model, args.device, args.allow_index)


def cmd_gui(args) -> int:
    from pixseek.desktop.app import launch

    return launch(args)


# -- parser -----------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", metavar="PATH", help="index folder (default: $PIXSEEK_INDEX or the user data folder)")
    common.add_argument("--model", metavar="NAME", help="model name or bundle folder (default: $PIXSEEK_MODEL or clip-vit-b-32)")
    common.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where the model runs (default: auto)")

    parser = argparse.ArgumentParser(prog="pixseek", description="Offline semantic search over your photos.")
    parser.add_argument("--version", action="version", version=f"pixseek {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("index", parents=[common], help="index (or update) folders of images")
    p.add_argument("folders", nargs="*", metavar="FOLDER", help="folders to index (default: those already indexed)")
    p.add_argument("--precision", choices=["int8", "fp32"], help="image tower precision (default: the model's)")
    p.add_argument("--dry-run", action="store_true", help="only count new, changed and deleted files")
    p.add_argument("--vector-index", choices=["auto", "flat", "ivf", "ivf4"],
                   help="force exact (flat) or approximate (ivf: 8-bit codes; ivf4: 4-bit PQ codes, for tens "
                        "of millions) search, or choose by size (auto, the default); remembered")
    p.add_argument("--include-hidden", action=argparse.BooleanOptionalAction,
                   help="index hidden files and folders (names starting with '.'); remembered (default: left out)")
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

    p = commands.add_parser("search", parents=[common], help="search by text and/or example images")
    p.add_argument("terms", nargs="*", metavar="QUERY",
                   help='text or image path; "2:dog" weighs a term; an existing image file is an image query')
    p.add_argument("--image", action="append", default=[], metavar="PHOTO", help="search by an example image")
    p.add_argument("--not", dest="negative", action="append", default=[], metavar="TEXT",
                   help="steer away from this (text or image)")
    p.add_argument("-k", type=int, default=DEFAULT_K, help=f"number of results, 1 to 1000 (default {DEFAULT_K})")
    p.add_argument("--min-score", type=float, metavar="S", help="only results with similarity >= S")
    p.add_argument("--in", dest="within", metavar="FOLDER", help="only results under this folder")
    p.add_argument("--after", metavar="DATE", help="taken on or after DATE (2023, 2023-06, 2023-06-15; local time where taken)")
    p.add_argument("--before", metavar="DATE", help="taken before DATE (its start: --before 2023-09 ends with August)")
    p.add_argument("--year", metavar="YYYY", help="taken in that year")
    p.add_argument("--camera", metavar="NAME", help='taken with a camera whose name contains NAME ("Pixel 7", canon)')
    p.add_argument("--place", metavar="NAME", help="taken in a town, region or country whose name contains NAME")
    p.add_argument("--near", metavar="LAT,LON", help="taken within --radius of this position (degrees)")
    p.add_argument("--radius", metavar="DIST", help="with --near: 5km (the default), 500m, 2mi")
    p.add_argument("--sort", choices=["score", "date"], default="score",
                   help="best first (score, the default) or oldest first (date) among the top K")
    p.add_argument("--json", action="store_true", help="machine-readable output, with each photo's metadata")
    p.add_argument("-f", "--paths-only", action="store_true", help="only the paths, one per line (for scripts)")
    # -z as grep -z and sort -z: an option named like a number ("-0") would make argparse read
    # "--min-score -0.5" as an option.
    p.add_argument("-z", "--null", action="store_true",
                   help="end each result with a NUL instead of a newline (with -f: for xargs -0; any file name survives)")
    p.add_argument("--preview", action="store_true",
                   help="show thumbnails in the terminal (kitty, sixel, or coloured blocks; $PIXSEEK_PREVIEW picks one)")
    p.add_argument("-q", "--quiet", action="store_true", help="results only: no notes, no 'no results' line")
    p.set_defaults(func=cmd_search)

    p = commands.add_parser("duplicates", parents=[common], help="list groups of exact and near-duplicate photos")
    p.add_argument("--threshold", type=float, metavar="T",
                   help="CLIP cosine similarity for near-duplicates, 0 to 1 (default: see docs/duplicates.md)")
    p.add_argument("--in", dest="within", metavar="FOLDER", help="only photos under this folder")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_duplicates)

    p = commands.add_parser("status", parents=[common], help="show the index: model, images, folders, health")
    p.add_argument("--skipped", action="store_true", help="list skipped files and why")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = commands.add_parser("remove", parents=[common],
                            help="drop indexed folders (or folders inside them) from the index")
    p.add_argument("folders", nargs="+", metavar="FOLDER",
                   help="an indexed folder or one inside it (a folder that only holds indexed ones is refused)")
    p.set_defaults(func=cmd_remove)

    p = commands.add_parser("eval", parents=[common], help="measure text->image recall on a captioned photo set",
                            description="Recall@K of text->image and image->text search on photos with human captions "
                                        "(MS-COCO's annotation format, Karpathy's COCO/Flickr30k split files, or "
                                        "{file: [captions]}), as published CLIP figures are measured. See docs/model.md.")
    p.add_argument("captions", type=Path, metavar="CAPTIONS.json")
    p.add_argument("photos", type=Path, metavar="PHOTOS", help="the folder the caption file's file names are relative to")
    p.add_argument("--split", help="with a Karpathy split file: the split to use (test for the published figures)")
    p.add_argument("-k", type=int, nargs="+", default=[1, 5, 10], metavar="K", help="recall at these K (default 1 5 10)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = commands.add_parser("web", parents=[common], help="start the web app on localhost")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.set_defaults(func=cmd_web)

    p = commands.add_parser("watch", parents=[common], help="keep the index current as files change")
    p.add_argument("folders", nargs="*", metavar="FOLDER", help="folders to watch (default: those already indexed)")
    p.add_argument("--debounce", type=float, default=2.0, metavar="S",
                   help="apply changes once no file changed for S seconds (default 2)")
    p.set_defaults(func=cmd_watch)

    p = commands.add_parser("serve", parents=[common], help="serve the HTTP JSON API (docs at /docs)")
    p.add_argument("folders", nargs="*", metavar="FOLDER",
                   help="folders the API may index, and --watch watches (default: those already indexed)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8600)
    p.add_argument("--token", help="require this token on every request (default: $PIXSEEK_TOKEN; beyond "
                                   "localhost one is generated and printed once if none is given)")
    p.add_argument("--cors-origin", action="append", metavar="ORIGIN",
                   help="let web pages from ORIGIN call the API (repeatable; default: none)")
    p.add_argument("--watch", action="store_true", help="also keep the index current as files change")
    p.add_argument("--debounce", type=float, default=2.0, metavar="S", help="with --watch: as for `pixseek watch`")
    p.set_defaults(func=cmd_serve)

    p = commands.add_parser("mcp", parents=[common],
                            help="serve the index to AI assistants over stdio (Model Context Protocol; read-only)")
    p.add_argument("--allow-index", action="store_true",
                   help="also offer a tool that starts an index run of folders already indexed")
    p.set_defaults(func=cmd_mcp)

    p = commands.add_parser("gui", parents=[common], help="open the desktop app")
    p.set_defaults(func=cmd_gui)

    add_model_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # File names are bytes on Linux: print the ones that are not valid UTF-8 as they are.
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
    engine_log = logging.getLogger("pixseek")  # says what the engine repaired (a damaged catalog, ...)
    if not engine_log.handlers:
        notes = logging.StreamHandler()
        notes.setFormatter(logging.Formatter("pixseek: note: %(message)s"))
        engine_log.addHandler(notes)
    try:
        return args.func(args)
    except PixseekError as error:
        print(error_line(error), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("pixseek: interrupted; the index keeps everything committed so far", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
