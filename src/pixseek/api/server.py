"""`pixseek serve`: the API on uvicorn, optionally with a watcher in the same process.

Localhost by default. Bound to any other address it requires a token: the one given
(`--token` or PIXSEEK_TOKEN), else one made now and printed once. Ctrl-C (or SIGTERM) stops
the server and the watcher; an index run in flight stops after its batch.
"""

from __future__ import annotations

import secrets
import sys
import threading
from collections.abc import Callable
from typing import Protocol

from pixseek import containment, paths
from pixseek.api.settings import ApiSettings, is_loopback
from pixseek.errors import PixseekError
from pixseek.files import check_folder

GRACEFUL_S = 5  # open event streams are closed after this on shutdown


class ServeOptions(Protocol):
    """What `pixseek serve` was asked for (its parsed command line)."""

    index: str | None
    folders: list[str] | None
    model: str | None
    device: str | None
    cors_origin: list[str] | None
    host: str


def settings_for(args: ServeOptions, token: str | None) -> ApiSettings:
    index_dir = containment.absolute(args.index, "index") if args.index is not None else str(paths.default_index_dir())
    folders = []
    for folder in args.folders or ():
        folders.append(check_folder(folder))
    return ApiSettings(index_dir=index_dir, model=args.model, device=args.device, token=token,
                       cors_origins=tuple(args.cors_origin or ()), folders=tuple(folders),
                       local_only=is_loopback(args.host))


def choose_token(host: str, given: str | None) -> str | None:
    """The token to require: the one given; a new one when listening beyond this machine."""
    if given:
        return given
    if is_loopback(host):
        return None
    token = secrets.token_urlsafe(24)
    print(f"pixseek: listening on {host}: every request needs this token (shown once):\n{token}", file=sys.stderr)
    return token


def url(host: str, port: int) -> str:
    shown = "localhost" if host in ("0.0.0.0", "::", "") else host
    return f"http://{f'[{shown}]' if ':' in shown else shown}:{port}"


def _reporting(background: Callable[[threading.Event], None]) -> Callable[[threading.Event], None]:
    """A background job's user error is printed as the CLI prints one; the API goes on."""
    def run(stop: threading.Event) -> None:
        try:
            background(stop)
        except PixseekError as error:
            print(f"pixseek: error: {error}", file=sys.stderr, flush=True)
    return run


def serve(settings: ApiSettings, host: str, port: int,
          background: Callable[[threading.Event], None] | None = None) -> int:
    """Serve until stopped; `background` (a watcher) runs in a thread until its event is set."""
    try:
        import uvicorn

        from pixseek.api.app import create_app  # why: it needs FastAPI, an extra: missing, a one-line error
    except ImportError as missing:
        raise PixseekError(f"the HTTP API needs {missing.name}: pip install 'pixseek[serve]'") from None

    config = uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning", access_log=False,
                            server_header=False, timeout_graceful_shutdown=GRACEFUL_S)
    server = uvicorn.Server(config)
    stop = threading.Event()
    worker = None
    if background is not None:
        worker = threading.Thread(target=_reporting(background), args=(stop,), name="pixseek-watch", daemon=True)
        worker.start()
    print(f"pixseek: the API is at {url(host, port)}/api (docs at {url(host, port)}/docs; Ctrl-C to stop)",
          file=sys.stderr, flush=True)
    try:
        server.run()
    finally:
        stop.set()
        if worker is not None:
            worker.join()
    return 0 if server.started else 1
