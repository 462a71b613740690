"""How one API server is set up: which index, who may call it, what it may index."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether `host` (an address to listen on, or a Host header's name) is this machine only:
    localhost, or any loopback address (127.0.0.0/8, ::1), which no DNS name can stand for."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ApiSettings:
    index_dir: str
    model: str | None = None
    device: str | None = None
    token: str | None = None  # required on every request when set
    cors_origins: tuple[str, ...] = ()  # none: browsers on other sites cannot read answers
    folders: tuple[str, ...] = ()  # folders an index run may add, besides those already indexed
    local_only: bool = True  # listening on loopback: only local Host names are served
