"""`pixseek search` and `pixseek duplicates`: asking the index, and printing what it answers
(results on stdout, everything else on stderr)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from pixseek.cli.opening import open_library, search_filters, search_query, within_folder
from pixseek.cli.output import note
from pixseek.engine.query import DEFAULT_K, Query, build_query, moment_term
from pixseek.errors import QueryError

if TYPE_CHECKING:
    from pixseek.library import Library
from pixseek.engine.results import SearchResult


def cmd_search(args: argparse.Namespace) -> int:
    alone = args.moment and not (args.terms or args.image or args.negative or args.says is not None)
    query = Query(()) if alone else search_query(args)  # (--moment terms join once the index is open)
    read = query.terms[:len(args.terms)]
    if not args.quiet and any(term.image or term.weight != 1 for term in read):
        note(f"searching for {query.describe()}")  # a weight or an image file was read from the words
    filters = search_filters(args)
    with open_library(args) as library:
        if args.moment:
            query = with_moments(library, query, args.moment)
        results = library.search(query, k=args.k, min_score=args.min_score, filters=filters, sort=args.sort)
        if library.model_warning:  # said even with -q: results of a stand-in must not pass for real ones
            note(library.model_warning)
        if not args.quiet:
            for folder in library.folder_details():
                if folder.missing_note:
                    note(f"{folder.missing_note} (`pixseek remove {folder.path}`)")
        if args.json:
            # ASCII JSON: names that are not valid UTF-8 travel as \udcXX escapes (os.fsencode restores them).
            print(json.dumps([r.to_dict() for r in results]))
            return 0
        if args.null:  # each result ends with NUL, as `find -print0`: any file name survives
            lines = (r.path if args.paths_only else _line(r) for r in results)
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
            from pixseek.preview import print_results  # why: ~30 ms to import, for --preview only

            videos = {r.path: r for r in results if r.seconds is not None}

            def picture(path: str, size: int) -> bytes:  # a video's: the frame of its moment
                found = videos.get(path)
                if found is None or found.seconds is None:
                    return library.thumbnail(path, size)
                return library.video_thumbnail(found.id, found.seconds, size)

            print_results(results, picture)
        else:
            for result in results:
                print(_line(result))
                for line in result.text:  # the words that matched, under the photo that says them
                    print(f"\tsays: {line.text}")
                if result.people:
                    print(f"\twith: {', '.join(result.people)}")
    return 0


def with_moments(library: Library, query: Query, moments: list[str]) -> Query:
    """`query` with each --moment VIDEO@SECONDS as a term: "more like this" from that moment."""
    terms = list(query.terms)
    for written in moments:
        path, _, seconds = written.rpartition("@")
        video = library.video_id(path) if path else None
        if video is None:
            raise QueryError(f"--moment {written}: give an indexed video and a time, like clip.mp4@42")
        try:
            terms.append(moment_term(video, float(seconds)))
        except ValueError:
            raise QueryError(f"--moment {written}: {seconds!r} is not a number of seconds") from None
    return build_query(terms, query.says)


def _line(result: SearchResult) -> str:
    """score<TAB>path, and for a video <TAB>the second of its best moment."""
    moment = f"\t{result.seconds:.1f}" if result.seconds is not None else ""
    return f"{result.score:.4f}\t{result.path}{moment}"


def cmd_duplicates(args: argparse.Namespace) -> int:
    folder = within_folder(args)
    with open_library(args) as library:
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


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("search", parents=[common], help="search by text and/or example images")
    p.add_argument("terms", nargs="*", metavar="QUERY",
                   help='text or image path; "2:dog" weighs a term; an existing image file is an image query')
    p.add_argument("--image", action="append", default=[], metavar="PHOTO", help="search by an example image")
    p.add_argument("--moment", action="append", default=[], metavar="VIDEO@SECONDS",
                   help="more like this moment of an indexed video, e.g. --moment clip.mp4@42 (repeatable)")
    p.add_argument("--not", dest="negative", action="append", default=[], metavar="TEXT",
                   help="steer away from this (text or image)")
    p.add_argument("--says", metavar="WORDS",
                   help='only photos whose text (read when indexing) holds every one of these words, e.g. '
                        '--says "invoice 2023"; with a QUERY too, ordered by it')
    p.add_argument("--person", action="append", default=[], metavar="NAME",
                   help="only photos this person is in (a name, or a number from `pixseek people`); repeat it for "
                        "photos with all of them")
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
    p.add_argument("--type", dest="media", choices=["photo", "video"],
                   help="only photos, or only videos (a video is one result, at its best moment's second)")
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
