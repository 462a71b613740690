"""How the CLI opens the index and turns its arguments into a query and filters: the one place
each is done for every command, so that each follows the engine's own way in one edit."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from pixseek.engine.query import Query, parse_query
from pixseek.filters import SearchFilters

if TYPE_CHECKING:
    from pixseek.library import Library


def open_library(args: argparse.Namespace, create: bool = False, check_model: bool = True) -> Library:
    """The index `--index` names; with `check_model`, refused when built with another model than `--model`."""
    from pixseek.library import Library  # why: FAISS and the store cost ~0.15 s; --help needs neither

    return Library.open(args.index, model=args.model, create=create, precision=getattr(args, "precision", None),
                        device=args.device, other_model="refuse" if check_model else "use its own")


def search_query(args: argparse.Namespace) -> Query:
    """The query of `pixseek search`: its words, --image, --not, --says and --person."""
    return parse_query(args.terms, args.image, args.negative, args.says, getattr(args, "person", None) or ())


def search_filters(args: argparse.Namespace) -> SearchFilters:
    return SearchFilters.parse(after=args.after, before=args.before, year=args.year, camera=args.camera,
                               place=args.place, near=args.near, radius=args.radius, folder=args.within,
                               media=args.media)


def within_folder(args: argparse.Namespace) -> str | None:
    """`--in FOLDER` of `pixseek duplicates`, checked as the search filter checks it."""
    return SearchFilters.parse(folder=args.within).folder


def has_index(args: argparse.Namespace) -> bool:
    """Whether the index `--index` names exists already."""
    from pixseek.library import index_exists  # why: as in open_library

    return index_exists(args.index)
