"""`pixseek web`: run the Streamlit app as a child process and open a browser on it.

The server binds to 127.0.0.1 unless --host says otherwise, serves no static folder, refuses
big uploads, hides tracebacks, and (on localhost) accepts only local Host names, so a web
page elsewhere cannot reach it through DNS rebinding. Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import webbrowser
from pathlib import Path
from typing import Protocol

from pixseek.errors import PixseekError
from pixseek.serving.uploads import MAX_UPLOAD_MB

APP = Path(__file__).with_name("app.py")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
READY_TIMEOUT_S = 60
GRACE_S = 2
STOP_TIMEOUT_S = 10


class WebOptions(Protocol):
    """What `pixseek web` was asked for (its parsed command line)."""

    host: str
    port: int
    index: str | None
    model: str | None
    device: str | None
    no_browser: bool


def command(args: WebOptions) -> list[str]:
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP),
           "--server.address", args.host, "--server.port", str(args.port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false",
           "--server.enableStaticServing", "false", "--server.maxUploadSize", str(MAX_UPLOAD_MB),
           "--server.fileWatcherType", "none", "--server.runOnSave", "false",
           "--client.showErrorDetails", "none", "--client.toolbarMode", "minimal",
           "--global.developmentMode", "false", "--server.enableAgentApi", "false"]
    if args.host in LOOPBACK:
        for name in LOOPBACK:
            cmd += ["--server.allowedHosts", name]
    return cmd


def environment(args: WebOptions) -> dict[str, str]:
    """The engine's own variables carry --index, --model and --device to the app."""
    env = dict(os.environ)
    for name, value in (("PIXSEEK_INDEX", args.index and os.path.abspath(os.path.expanduser(args.index))),
                        ("PIXSEEK_MODEL", args.model), ("PIXSEEK_DEVICE", args.device)):
        if value:
            env[name] = value
    return env


def url(args: WebOptions) -> str:
    host = "localhost" if args.host in ("0.0.0.0", "::", "") else args.host
    return f"http://{f'[{host}]' if ':' in host else host}:{args.port}/"


def _open_browser_when_ready(address: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(address + "_stcore/health", timeout=2):
                webbrowser.open(address)
                return
        except OSError:
            time.sleep(0.3)


def _stop(server: subprocess.Popen[bytes]) -> int:
    """After Ctrl-C: a terminal sent it to the server too; if it did not, pass it on; then insist."""
    try:
        return server.wait(timeout=GRACE_S)
    except subprocess.TimeoutExpired:
        server.send_signal(signal.SIGINT)
    try:
        return server.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.wait()


def check_port_free(host: str, port: int) -> None:
    """Refuse in one line, before the server starts, a port that something else listens on
    (the server would say so in pages of its own log)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as error:
        raise PixseekError(f"cannot listen on {host!r}: {error.strerror}") from None
    family, kind, proto, _, where = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(where)
        except OSError as error:
            busy = error.errno == errno.EADDRINUSE
            why = "is in use by another program (another pixseek web?)" if busy else f"cannot be used ({error.strerror})"
            raise PixseekError(f"port {port} on {host} {why}; choose another with --port") from None


def launch(args: WebOptions) -> int:
    """Serve the app until it exits or Ctrl-C; returns the server's exit code."""
    check_port_free(args.host, args.port)
    address = url(args)
    if args.host not in LOOPBACK:
        print(f"pixseek: listening on {args.host}: anyone who can reach this machine can search and view "
              "the indexed photos", file=sys.stderr)
    print(f"pixseek: the web app is at {address} (Ctrl-C to stop)", file=sys.stderr)
    server = subprocess.Popen(command(args), env=environment(args))
    signal.signal(signal.SIGTERM, lambda signum, frame: server.terminate())  # never leave it orphaned
    if not args.no_browser:
        threading.Thread(target=_open_browser_when_ready, args=(address, server), daemon=True).start()
    try:
        return server.wait()
    except KeyboardInterrupt:
        return _stop(server)
