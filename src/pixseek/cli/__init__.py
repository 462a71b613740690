"""The `pixseek` command line: a thin face over the Library.

User errors (PixseekError) print one line and exit 1: the engine's words, then the CLI's own
how-to for that kind of error (a command or a flag). Ctrl-C during indexing stops after the
batch in flight is committed (a second Ctrl-C stops at once; the index stays consistent).
Results go to stdout, one per line as score TAB path; everything else (notes, "no results",
errors) goes to stderr, so scripts read only results.

`entry` runs a command line, `parser` assembles the commands; each command module
(`indexing`, `searching`, `status`, `recall`, `faces`, `models`) adds its own subcommands and runs
them; `opening` opens the index and builds queries, `output` holds the shared wording and exit codes.
`main` and `build_parser` are imported on first use, so that mounting one command module (the
model commands) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_HOMES = {"main": "pixseek.cli.entry", "build_parser": "pixseek.cli.parser"}
__all__ = ["build_parser", "main"]

if TYPE_CHECKING:  # re-exported for type checkers; at run time __getattr__ imports them
    from pixseek.cli.entry import main as main
    from pixseek.cli.parser import build_parser as build_parser


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pixseek.cli' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
