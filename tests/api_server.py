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

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class ApiServer:
    def __init__(self, env: dict[str, str], *args: str, host: str = "127.0.0.1", connect: str = "127.0.0.1"):
        self.port = free_port()
        self.base = f"http://{connect}:{self.port}"
        self.command = [sys.executable, "-m", "pixseek.cli", "serve", "--host", host, "--port", str(self.port), *args]
        self.env = env
        self.stderr: list[str] = []
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> ApiServer:
        self.process = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=self._read_stderr, daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            assert self.process.poll() is None, f"the server exited: {''.join(self.stderr)}"
            assert time.monotonic() < deadline, "the server did not start"
            try:
                httpx.get(self.base + "/api/index", timeout=2)
                return self
            except httpx.TransportError:
                time.sleep(0.1)

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
    env.update({"PIXSEEK_HOME": str(home), "PIXSEEK_MODEL": "tiny-test", **extra})
    return env
