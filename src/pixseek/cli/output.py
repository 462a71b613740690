"""What every command shares in how it speaks: exit codes, notes, and error lines with the CLI's
own how-to for each kind of error."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable
from typing import Any

from pixseek.errors import (EmptyQuery, FolderNotIndexed, HoldsIndexedFolders, IndexCorrupt, IndexIncompatible,
                            IndexNotFound, PixseekError)

EXIT_USER_ERROR = 1
EXIT_INTERRUPTED = 130
# The CLI's spelling of the engine's advice for each kind of error (looked up along the error's
# class hierarchy): the engine says "indexing a folder makes one", the CLI adds the command.
HINTS: dict[type[PixseekError], Callable[[Any], str]] = {
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

