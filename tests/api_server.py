"""A real `pixseek serve` process for the API tests, on a free port, stopped with SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import psutil

START_TIMEOUT_S = 60
START_TRIES = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ApiServer:
    def __init__(self, env: dict[str, str], *args: str, host: str = "127.0.0.1", connect: str = "127.0.0.1"):
        self.host, self.connect, self.args = host, connect, args
        self.env = env
        self.stderr: list[str] = []
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> ApiServer:
        """Started when its own process listens on its port (another program may have taken a
        port found free a moment before, e.g. Ray on all addresses: then again on another)."""
        for _ in range(START_TRIES):
            self.port = free_port()
            self.base = f"http://{self.connect}:{self.port}"
            self.command = [sys.executable, "-m", "pixseek.cli", "serve", "--host", self.host, "--port", str(self.port),
                            *self.args]
            self.stderr = []
            self.process = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            threading.Thread(target=self._read_stderr, daemon=True).start()
            if self._listening():
                return self
            assert "address already in use" in "".join(self.stderr).lower(), f"the server exited: {''.join(self.stderr)}"
        raise AssertionError(f"no free port in {START_TRIES} tries")

    def _listening(self) -> bool:
        """True once the server's own process listens on its port; False if it exited first."""
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.process.poll() is None:
            assert time.monotonic() < deadline, "the server did not start"
            try:
                sockets = psutil.Process(self.process.pid).net_connections(kind="inet")
            except psutil.Error:
                sockets = []
            if any(s.status == psutil.CONN_LISTEN and s.laddr.port == self.port for s in sockets):
                return True
            time.sleep(0.1)
        time.sleep(0.2)  # the rest of its stderr
        return False

    def _read_stderr(self) -> None:
        for line in self.process.stderr:
            self.stderr.append(line)

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60, **kwargs)

    def __exit__(self, *exc) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("the server did not stop on SIGINT") from None


def server_env(home, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXSEEK_")}
    env.update({"PIXSEEK_HOME": str(home), "PIXSEEK_MODEL": "tiny-test", "PIXSEEK_READ_TEXT": "no", **extra})
    return env
