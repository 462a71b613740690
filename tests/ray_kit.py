"""Helpers for the cluster tests: Ray's processes by PID, and the sockets they listen on."""

from __future__ import annotations

import ipaddress
import os
import time
from pathlib import Path

# What Ray's processes look like: its servers by name, its workers by their process title.
RAY_MARKERS = ("raylet", "gcs_server", "ray::", "default_worker.py", "dashboard/agent.py", "runtime_env/agent",
               "log_monitor.py", "autoscaler/_private/monitor.py", "ray/_private/", "ray/dashboard/")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for its parent to reap it."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def ray_processes() -> dict[int, str]:
    """PID -> command line of every live Ray process on this machine."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            line = _cmdline(int(entry))
            if any(marker in line for marker in RAY_MARKERS) and _alive(int(entry)):
                found[int(entry)] = line
    return found


def wait_until_gone(pids, timeout: float = 30.0) -> dict[int, str]:
    """The PIDs among `pids` still alive as Ray processes after up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = {pid: line for pid, line in ray_processes().items() if pid in set(pids)}
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


def descendants(root: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, stack = set(), [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _address(hex_address: str) -> str:
    host, port = hex_address.split(":")
    raw = bytes.fromhex(host)
    if len(raw) == 4:
        ip = ".".join(str(b) for b in raw[::-1])
    else:  # IPv6: four little-endian 32-bit words
        ip = str(ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))))
    return f"{ip}:{int(port, 16)}"


def listening_addresses(pids) -> dict[int, list[str]]:
    """PID -> the TCP addresses it listens on (from /proc/net/tcp and tcp6)."""
    listening = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                listening[fields[9]] = _address(fields[1])
    result = {}
    for pid in pids:
        addresses = [listening[i] for i in _socket_inodes(pid) if i in listening]
        if addresses:
            result[pid] = addresses
    return result


def is_loopback(address: str) -> bool:
    """127.0.0.0/8, ::1, or 127.x seen through IPv6 (::ffff:127.0.0.1)."""
    ip = ipaddress.ip_address(address.rsplit(":", 1)[0])
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)
