"""Every error is JSON, `{"error": "one line", "status": N}`, with the status that fits it."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from pixseek.errors import (FolderNotFound, ImageError, IndexCorrupt, IndexIncompatible, IndexLocked, IndexNotFound,
                            ModelInvalid, ModelNotInstalled, OutsideFolders, PhotoNotIndexed, PixseekError, QueryError,
                            StorageError, UnusableUpload, UploadTooLarge)

log = logging.getLogger(__name__)

# The first match wins: subclasses before their parents.
STATUS_OF = ((UploadTooLarge, 413), (UnusableUpload, 415), (QueryError, 400), (OutsideFolders, 403), (FolderNotFound, 404),
             (PhotoNotIndexed, 404), (IndexNotFound, 404), (ImageError, 404), (IndexLocked, 409), (IndexIncompatible, 409),
             (ModelNotInstalled, 503), (ModelInvalid, 503), (IndexCorrupt, 503), (StorageError, 503),
             (PixseekError, 400))


class ApiError(HTTPException):
    """A refusal of the API's own (an unknown id, a folder it may not index)."""

    def __init__(self, status: int, message: str):
        super().__init__(status, message)


def answer(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=headers)


def status_of(error: PixseekError) -> int:
    return next(status for kind, status in STATUS_OF if isinstance(error, kind))


def _printable(text: str) -> str:
    """`text` with its control characters escaped: a field named by the client ("\\n") stays one line."""
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _validation_line(error: RequestValidationError) -> str:
    """The first problem, as `where: what` (FastAPI's default is a list of objects)."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "form"))
    message = first.get("msg", "invalid value")
    return _printable(f"{where}: {message}" if where else message)


def install(app: FastAPI) -> None:
    @app.exception_handler(PixseekError)
    async def engine_error(request: Request, error: PixseekError) -> JSONResponse:
        if isinstance(error, ImageError):
            return answer(404, f"the file can no longer be read ({error})")
        return answer(status_of(error), str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        return answer(422, _validation_line(error))

    @app.exception_handler(HTTPException)
    async def refused(request: Request, error: HTTPException) -> JSONResponse:
        return answer(error.status_code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return answer(500, f"unexpected error: {type(error).__name__}; the server's log has the details")
