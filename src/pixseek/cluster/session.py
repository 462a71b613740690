"""Connecting this process to a Ray cluster as its driver, and letting go of it.

`local` starts a private Ray on this machine for the job's length, bound to 127.0.0.1 only
(Ray's own single-machine mode: every Ray server listens on the loopback address), with its
dashboard off unless asked for, and stops it afterwards, leaving no Ray process behind. Any
other address is Ray's: `ray://HEAD:10001` (Ray Client), `HEAD:6379` (this machine is a node
of the cluster), or `auto` (RAY_ADDRESS, else the cluster this machine belongs to).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pixseek.errors import ClusterError
from pixseek.paths import log_dir

LOCAL = "local"
SINGLE_MACHINE_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # "0": node address 127.0.0.1, servers bind to it
NODES_POLL_S = 2.0
CONNECT_TIMEOUT_S = 10.0
LOGS_KEPT = 10


def import_ray() -> ModuleType:
    try:
        import ray
        import ray.data
    except ImportError as exc:
        raise ClusterError(f"indexing on a cluster needs Ray ({exc.name} is missing): "
                           "pip install 'pixseek[cluster]'") from None
    return ray


@dataclass
class ClusterInfo:
    address: str
    cpus: int
    gpus: int
    _ray: ModuleType
    _checked: float = 0.0
    _alive: int = 0

    def nodes_alive(self) -> int:
        """Nodes alive now (asked of the cluster at most every NODES_POLL_S seconds)."""
        if time.monotonic() - self._checked >= NODES_POLL_S:
            self._alive = sum(1 for node in self._ray.nodes() if node.get("Alive"))
            self._checked = time.monotonic()
        return self._alive


@contextmanager
def _single_machine_mode() -> Iterator[None]:
    """Ray's single-machine mode, on while a private cluster starts and runs, then as it was
    (so that this process can still join a real cluster later)."""
    before = os.environ.get(SINGLE_MACHINE_SWITCH)
    from ray._private import ray_constants as constants  # read the switch at import: set it there too

    enabled = constants.ENABLE_RAY_CLUSTER
    os.environ[SINGLE_MACHINE_SWITCH] = "0"
    constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        constants.ENABLE_RAY_CLUSTER = enabled
        if before is None:
            os.environ.pop(SINGLE_MACHINE_SWITCH, None)
        else:
            os.environ[SINGLE_MACHINE_SWITCH] = before


@contextmanager
def ray_session(address: str, dashboard: bool = False) -> Iterator[ClusterInfo]:
    """Connect (or, for `local`, start a private Ray) for the block; always disconnect after.
    Ray's own output goes to a log file; a failure is pixseek's one line naming that file."""
    ray = import_ray()
    if ray.is_initialized():
        raise ClusterError("this process is already connected to a Ray cluster; run pixseek in its own process")
    log = new_log_path()
    try:
        with _ray_output_to(log), _single_machine_mode() if address == LOCAL else nullcontext():
            _connect(ray, address, dashboard)
            try:
                _quiet_ray_data(ray)
                resources = ray.cluster_resources()
                yield ClusterInfo(address, int(resources.get("CPU", 0)), int(resources.get("GPU", 0)), ray)
            finally:
                ray.shutdown()
    except ClusterError as error:
        if error.__cause__ is None and log.stat().st_size == 0:  # refused before Ray said anything
            log.unlink()
            raise
        with open(log, "a", encoding="utf-8") as file:
            traceback.print_exception(error.__cause__ or error, file=file)
        raise ClusterError(f"{error} (Ray's detail: {log})") from error.__cause__


def new_log_path() -> Path:
    """A fresh log file for one Ray session; only the newest LOGS_KEPT are kept."""
    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    for old in sorted(folder.glob("ray-*.log"))[:-(LOGS_KEPT - 1)]:
        old.unlink(missing_ok=True)
    return folder / f"ray-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


@contextmanager
def _ray_output_to(log: Path) -> Iterator[None]:
    """Ray's C++ core writes error-level lines (even on a run that succeeds) to file descriptor 2
    whatever its log level: while Ray runs, descriptor 2 is the log file, and Python's sys.stderr
    (pixseek's progress and messages) writes to a copy of what descriptor 2 was."""
    sys.stderr.flush()
    before = sys.stderr
    terminal = os.dup(2)
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    sys.stderr = os.fdopen(terminal, "w", buffering=1, encoding=getattr(before, "encoding", None) or "utf-8",
                           errors="backslashreplace", closefd=False)
    os.dup2(log_fd, 2)
    os.close(log_fd)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        sys.stderr = before
        os.close(terminal)


def _check_reachable(address: str) -> None:
    """Fail in seconds, not minutes (Ray keeps retrying an unreachable head), where the address names a port."""
    target = os.environ.get("RAY_ADDRESS", "") if address == "auto" else address
    host, _, port = target.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto" without RAY_ADDRESS, or a form Ray resolves itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach the Ray cluster at {target} ({exc.strerror or exc}); is its head "
                           "running, and is this machine on its network?") from None


def _connect(ray: ModuleType, address: str, dashboard: bool) -> None:
    options = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address != LOCAL:
        _check_reachable(address)
    try:
        if address == LOCAL:
            ray.init(address="local", include_dashboard=dashboard, dashboard_host="127.0.0.1", **options)
        else:
            ray.init(address=address, **({} if address.startswith("ray://") else options))
    except Exception as exc:  # Ray reports an unreachable or refused cluster with many exception types
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ClusterError(f"cannot connect to the Ray cluster at {address} ({message[:160]})") from exc


def _quiet_ray_data(ray: ModuleType) -> None:
    """pixseek reports progress itself: no Ray Data progress bars or execution banners."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.ERROR)
