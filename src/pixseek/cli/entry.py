"""`pixseek`'s entry point: parse the command line, run the command, and turn what goes wrong
into one line and an exit code."""

from __future__ import annotations

import logging
import sys

from pixseek.cli.output import EXIT_INTERRUPTED, EXIT_USER_ERROR, error_line
from pixseek.cli.parser import build_parser
from pixseek.errors import PixseekError


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
        code: int = args.func(args)
        return code
    except PixseekError as error:
        print(error_line(error), file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("pixseek: interrupted; the index keeps everything committed so far", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return 0
