"""The `pixseek` argument parser: the options every command shares, then each command module's
own subcommands, in the order `pixseek --help` lists them."""

from __future__ import annotations

import argparse

from pixseek import __version__
from pixseek.cli import faces, indexing, people, recall, searching, status
from pixseek.cli.models import add_model_commands


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index", metavar="PATH", help="index folder (default: $PIXSEEK_INDEX or the user data folder)")
    common.add_argument("--model", metavar="NAME", help="model name or bundle folder (default: $PIXSEEK_MODEL or clip-vit-b-32)")
    common.add_argument("--device", choices=["auto", "cpu", "cuda"], help="where the model runs (default: auto)")

    parser = argparse.ArgumentParser(prog="pixseek", description="Offline semantic search over your photos.")
    parser.add_argument("--version", action="version", version=f"pixseek {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (indexing, searching, status, people, recall, faces):
        module.add_commands(commands, common)
    add_model_commands(commands)
    return parser
