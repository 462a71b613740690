"""Photos by their id in the index: details, a thumbnail, the original. Never a path from the
request: an id names a row of the catalog, and only that row's file is read."""

from __future__ import annotations

import mimetypes
import os
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response, StreamingResponse

from pixseek.api.deps import service
from pixseek.api.streaming import CACHE, chunks
from pixseek.api.errors import ApiError
from pixseek.api.schemas import FileInfo, PhotoText
from pixseek.api.service import Service
from pixseek.engine.results import IndexedFile, line_dict

router = APIRouter(prefix="/api/files", tags=["files"])
FileId = Annotated[int, Path(ge=1, description="the photo's id (in search results)")]


def _indexed(svc: Service, id_: int) -> IndexedFile:
    found: IndexedFile | None = svc.library().file(id_)
    if found is None:
        raise ApiError(404, f"no photo with id {id_} in the index")
    return found


@router.get("/{id_}", response_model=FileInfo, summary="What the index knows about one photo")
def file_info(id_: FileId, svc: Annotated[Service, Depends(service)]) -> FileInfo:
    found = _indexed(svc, id_)
    return FileInfo(id=found.id, path=found.path, name=os.path.basename(found.path), size=found.size,
                    modified=found.modified, width=found.width, height=found.height, indexed_at=found.indexed_at)


@router.get("/{id_}/text", response_model=PhotoText, summary="The text read in one photo, line by line")
def text(id_: FileId, svc: Annotated[Service, Depends(service)]) -> PhotoText:
    _indexed(svc, id_)
    return PhotoText.model_validate({"id": id_, "lines": [line_dict(line) for line in svc.library().text(id_)]})


@router.get("/{id_}/thumbnail", response_class=Response, summary="A JPEG thumbnail",
            responses={200: {"content": {"image/jpeg": {}}}})
def thumbnail(id_: FileId, svc: Annotated[Service, Depends(service)],
              size: Annotated[int, Query(ge=32, le=1600, description="longest side in pixels")] = 256) -> Response:
    found = _indexed(svc, id_)
    return Response(svc.library().thumbnail(found.path, size), media_type="image/jpeg", headers=CACHE)


@router.get("/{id_}/original", response_class=StreamingResponse, summary="The file itself",
            responses={200: {"content": {"image/*": {}}}})
def original(id_: FileId, svc: Annotated[Service, Depends(service)]) -> StreamingResponse:
    found = _indexed(svc, id_)
    if not os.path.isfile(found.path):
        raise ApiError(404, f"photo {id_} has been moved or deleted since it was indexed")
    opened = svc.library().open_original(found.path)  # checked where it leads after opening
    kind = mimetypes.guess_type(found.path)[0] or "application/octet-stream"
    # A header is text: a name that is not valid UTF-8 is offered with U+FFFD where its odd bytes were.
    name = os.path.basename(found.path).encode("utf-8", "replace").decode("utf-8")
    headers = {"Content-Disposition": f"inline; filename*=utf-8''{quote(name)}",
               "Content-Length": str(os.fstat(opened.fileno()).st_size)}
    return StreamingResponse(chunks(opened), media_type=kind, headers=headers)

