"""`pixseek people`: the people the faces in photos are grouped into (list, faces, name, merge,
split, not-a-face, --forget), and the face models that find them (install, models)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pixseek.cli.opening import open_library
from pixseek.cli.output import EXIT_USER_ERROR, note
from pixseek.errors import PixseekError
from pixseek.model.faces_packs import DEFAULT_PACK


def cmd_people(args: argparse.Namespace) -> int:
    with open_library(args, check_model=False) as library:
        if args.forget:
            removed = library.forget_faces()
            print(f"removed {removed} face{'s' if removed != 1 else ''}, their embeddings, every person and name; "
                  "finding faces is off for this index (`pixseek index --faces` turns it back on)")
            return 0
        people = library.people(named_only=args.named)
        if args.json:
            print(json.dumps([person.to_dict() for person in people]))
            return 0
        if not people:
            print("no people yet" + ("" if library.status(check=False).finds_faces else
                                     " (finding faces is off: `pixseek people install`, then `pixseek index --faces`)"))
        for person in people:
            print(f"{person.id:>6}  {person.name or '-':<24} {person.faces:>6} faces  {person.photos:>6} photos")
    return 0


def cmd_faces(args: argparse.Namespace) -> int:
    with open_library(args, check_model=False) as library:
        faces = library.person_faces(args.person, limit=args.limit)
    if args.json:
        print(json.dumps([face.to_dict() for face in faces]))
        return 0
    for face in faces:
        box = ",".join(f"{v:.0f}" for v in face.box)
        at = f"\t{face.seconds:.1f}" if face.seconds is not None else ""  # a face in a video, as search prints it
        print(f"{face.id:>8}  quality {face.quality:.2f}  box {box}\t{face.path}{at}")
    return 0


def cmd_name(args: argparse.Namespace) -> int:
    with open_library(args, check_model=False) as library:
        person = library.name_person(args.person, args.name)
    print(f"person {person.id} is {person.describe()}")
    return 0


def cmd_merge(args: argparse.Namespace) -> int:
    with open_library(args, check_model=False) as library:
        for other in args.others:
            person = library.merge_people(args.person, other)
    print(f"merged into person {person.id}, {person.describe()}")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    with open_library(args, check_model=False) as library:
        person = library.split_face(args.face, args.to)
    print(f"face {args.face} is now person {person.id}'s, {person.describe()}")
    return 0


def cmd_not_a_face(args: argparse.Namespace) -> int:
    with open_library(args, check_model=False) as library:
        for face in args.faces:
            library.not_a_face(face)
    print(f"marked {len(args.faces)} as not a face")
    return 0


def cmd_install(args: argparse.Namespace) -> int:
    from pixseek.model import faces_packs  # why: onnx and the hub client load for an install only

    entry = faces_packs.BY_NAME.get(args.name)
    if entry is None and args.source is None:
        raise PixseekError(f"unknown face model {args.name!r}; known: {', '.join(faces_packs.BY_NAME)} "
                           "(or install one from a folder with --from PATH)")
    licence = entry.licence if entry else "as its source states"
    note(f"licence of {args.name}: {licence}")
    if entry and entry.licence == faces_packs.NON_COMMERCIAL and not args.accept_licence:
        if not sys.stdin.isatty():
            print(f"pixseek: error: {args.name} is for non-commercial research use only; install it with "
                  "--accept-licence if your use is", file=sys.stderr)
            return EXIT_USER_ERROR
        if input("Install it for non-commercial research use? [y/N] ").strip().lower() not in ("y", "yes"):
            return EXIT_USER_ERROR
    folder = faces_packs.install(args.name, Path(args.source) if args.source else None)
    print(f"installed face model {args.name} at {folder}; indexes find faces from their next run")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    # why: the face packs' code loads for this command only, not for every other command of the CLI
    from pixseek.model.faces import PackConfig, installed_packs
    from pixseek.model.faces_packs import KNOWN_PACKS

    installed = {folder.name: PackConfig.read(folder) for folder in installed_packs()}
    for pack in KNOWN_PACKS:
        mark = "installed" if pack.name in installed else f"{pack.download_mb} MB"
        print(f"{pack.name:<12} {mark:<10} {pack.title}\n{'':<12} licence: {pack.licence}; match threshold "
              f"{pack.match_threshold}, detection score {pack.min_score}, detection side {pack.detection_side} px")
    for name, config in installed.items():
        if name not in {pack.name for pack in KNOWN_PACKS}:
            print(f"{name:<12} installed  {config.model_id}\n{'':<12} licence: {config.licence}")
    return 0


def _inherited(common: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The common options for the actions under `people`, with no defaults of their own: given
    before the action (`pixseek people --index X name ...`), they are not reset by it."""
    inherit = argparse.ArgumentParser(add_help=False)
    for action in common._actions:
        inherit.add_argument(*action.option_strings, dest=action.dest, help=action.help, metavar=action.metavar,
                             choices=action.choices, default=argparse.SUPPRESS)
    return inherit


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("people", parents=[common],
                            help="the people in your photos: list, name, merge, split; face models")
    p.add_argument("--named", action="store_true", help="only people with a name")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--forget", action="store_true",
                   help="remove every face, embedding, person and name from the index, and stop finding faces in it")
    p.set_defaults(func=cmd_people)
    sub = p.add_subparsers(dest="people_command", metavar="ACTION")
    common = _inherited(common)

    q = sub.add_parser("faces", parents=[common], help="a person's faces (ids for split and not-a-face)")
    q.add_argument("person", metavar="PERSON", help="a name or a person's number")
    q.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=cmd_faces)

    q = sub.add_parser("name", parents=[common], help="name a person (or rename one)")
    q.add_argument("person", metavar="PERSON", help="a person's number (or current name)")
    q.add_argument("name", metavar="NAME")
    q.set_defaults(func=cmd_name)

    q = sub.add_parser("merge", parents=[common], help="merge people who are one person")
    q.add_argument("person", metavar="PERSON", help="the person kept (its name stays)")
    q.add_argument("others", nargs="+", metavar="OTHER", help="people whose faces move to PERSON")
    q.set_defaults(func=cmd_merge)

    q = sub.add_parser("split", parents=[common], help="take a wrong face out of its person")
    q.add_argument("face", type=int, metavar="FACE", help="the face's number (`pixseek people faces PERSON`)")
    q.add_argument("--to", metavar="PERSON", help="give it to this person (default: a new one)")
    q.set_defaults(func=cmd_split)

    q = sub.add_parser("not-a-face", parents=[common], help="mark faces that are not faces")
    q.add_argument("faces", nargs="+", type=int, metavar="FACE")
    q.set_defaults(func=cmd_not_a_face)

    q = sub.add_parser("install", help="install a face model (shows its licence first)")
    q.add_argument("name", nargs="?", default=DEFAULT_PACK, metavar="NAME", help=f"a face model (default {DEFAULT_PACK})")
    q.add_argument("--from", dest="source", metavar="PATH",
                   help="a folder holding it (Immich's layout, or InsightFace's det_*.onnx and w600k_*.onnx)")
    q.add_argument("--accept-licence", action="store_true", help="accept a non-commercial licence without asking")
    q.set_defaults(func=cmd_install)

    q = sub.add_parser("models", help="the face models known and installed, with their licences")
    q.set_defaults(func=cmd_models)
