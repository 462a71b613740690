"""`pixseek status` and `pixseek remove`: what the index holds and how healthy it is, and
dropping folders from it."""

from __future__ import annotations

import argparse
import json
import time

from pixseek.cli.opening import open_library
from pixseek.cli.output import EXIT_USER_ERROR


def cmd_status(args: argparse.Namespace) -> int:
    with open_library(args) as library:
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
    text = f"{status.text_read} photos read, {status.text_found} with text"
    print(f"text:         {text}" + ("" if status.reads_text else " (reading turned off: `pixseek index --text`)"))
    print(f"videos:       {status.videos} ({status.video_seconds / 60:.1f} min, {status.video_moments} moments)")
    faces = f"{status.faces} found in {status.photos_with_faces} photos"
    faces += f" and {status.videos_with_faces} videos, " if status.videos_with_faces else ", "
    faces += f"{status.people} people"
    print(f"faces:        {faces}" + ("" if status.finds_faces else " (finding faces is off: `pixseek index --faces`)"))
    print(f"last update:  {updated}")
    print(f"vector index: {status.vector_index}")
    print(f"runs on:      {status.runs_on}")
    print("consistent:   " + ("yes" if status.consistent else "NO: " + "; ".join(status.problems)))
    for note in status.notes:
        print(f"note:         {note}")
    for path, reason in skipped:
        print(f"  skipped {path}: {reason}")
    return 0 if status.consistent else EXIT_USER_ERROR


def cmd_remove(args: argparse.Namespace) -> int:
    with open_library(args) as library:
        for folder in args.folders:
            removed = library.remove(folder)
            print(f"removed {folder} from the index ({removed} image{'s' if removed != 1 else ''})")
    return 0


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
    p = commands.add_parser("status", parents=[common], help="show the index: model, images, folders, health")
    p.add_argument("--skipped", action="store_true", help="list skipped files and why")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)

    p = commands.add_parser("remove", parents=[common],
                            help="drop indexed folders (or folders inside them) from the index")
    p.add_argument("folders", nargs="+", metavar="FOLDER",
                   help="an indexed folder or one inside it (a folder that only holds indexed ones is refused)")
    p.set_defaults(func=cmd_remove)
