"""`pixseek eval`: text->image and image->text recall on a captioned photo set, measured as
published CLIP figures are (docs/model.md)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

from pixseek.evaluation import evaluate


def cmd_eval(args: argparse.Namespace) -> int:
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


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
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
