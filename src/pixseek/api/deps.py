"""The server's shared Service, for routes to depend on."""

from __future__ import annotations

from fastapi import Request

from pixseek.api.service import Service


def service(request: Request) -> Service:
    svc: Service = request.app.state.service  # (Starlette types app state as Any)
    return svc
