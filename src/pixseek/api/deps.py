"""The server's shared Service, for routes to depend on."""

from __future__ import annotations

from fastapi import Request

from pixseek.api.service import Service


def service(request: Request) -> Service:
    return request.app.state.service
