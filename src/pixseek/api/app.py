"""The FastAPI application: routes, JSON errors, the guard, and CORS only when asked for."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

from pixseek import __version__
from pixseek.api import (errors, file_routes, index_routes, people_routes, search_routes, status_routes,
                         video_routes)
from pixseek.api.guard import Guard
from pixseek.api.service import Service
from pixseek.api.settings import ApiSettings
from pixseek.serving import uploads

MAX_BODY = uploads.MAX_UPLOAD_MB * 2**20 + 2**20  # an upload and its form fields

DESCRIPTION = """Offline semantic search over your own photos.

Search by words, by photos in the index (their `id`), by an uploaded photo, or a weighted mix;
steer away with `not`; only photos with every `person` named. People: list, name, merge, split.
Thumbnails and originals are served by id, only for indexed photos.
Start, follow (polling or server-sent events) and cancel index runs. Errors are
`{"error": "...", "status": N}`."""


class AsciiJSONResponse(JSONResponse):
    """ASCII JSON: a file name that is not valid UTF-8 travels as \\udcXX escapes, as in the
    CLI's --json (os.fsencode turns it back into the exact bytes)."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


def create_app(settings: ApiSettings) -> FastAPI:
    svc = Service(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        svc.close()

    # Swagger UI and ReDoc served from the package, not a CDN: the server may be offline.
    app = FastAPIOffline(title="pixseek", version=__version__, description=DESCRIPTION, lifespan=lifespan,
                         redoc_url=None, default_response_class=AsciiJSONResponse)
    app.state.service = svc
    errors.install(app)
    for module in (search_routes, file_routes, status_routes, index_routes, video_routes, people_routes):
        app.include_router(module.router)
    app.add_middleware(Guard, token=settings.token, local_only=settings.local_only, max_body=MAX_BODY)
    if settings.cors_origins:  # outside the guard: a browser's preflight carries no token
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"])
    return app
