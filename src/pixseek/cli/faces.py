"""The commands that start another face over the same index: the web app, the desktop app, the
HTTP API, the MCP server, and the watcher that keeps the index current."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable

from pixseek.api import server as api_server
from pixseek.cli.opening import open_library
from pixseek.errors import PixseekError
from pixseek.mcp import serve as serve_mcp


def cmd_web(args: argparse.Namespace) -> int:
    from pixseek.web.launch import launch  # why: ~70 ms to import (the upload checks load Pillow)

    return launch(args)


def _say(message: str) -> None:
    print(f"pixseek: watch: {message}", file=sys.stderr, flush=True)


def watcher(args: argparse.Namespace) -> Callable[[threading.Event], None]:
    """`pixseek watch` as a function that runs until its stop event is set (also `serve --watch`)."""
    def watch(stop: threading.Event) -> None:
        try:
            from pixseek.watch import Watcher  # why: watchdog is an extra; its absence is a one-line error
        except ImportError as missing:
            raise PixseekError(f"watching needs {missing.name}: pip install 'pixseek[watch]'") from None
        with open_library(args, create=True) as library:
            Watcher(library, args.folders, quiet_s=args.debounce, say=_say).run(stop)
    return watch


def cmd_watch(args: argparse.Namespace) -> int:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())  # the batch in flight is committed, then it stops
    watcher(args)(stop)
    _say("stopped; the index is consistent")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    token = api_server.choose_token(args.host, args.token or os.environ.get("PIXSEEK_TOKEN"))
    return api_server.serve(api_server.settings_for(args, token), args.host, args.port,
                            watcher(args) if args.watch else None)


def cmd_mcp(args: argparse.Namespace) -> int:
    return serve_mcp(args.index, args.model, args.device, args.allow_index)


def cmd_gui(args: argparse.Namespace) -> int:
    from pixseek.desktop.app import launch  # why: tkinter, which a Python built without Tk lacks

    return launch(args)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser) -> None:
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
