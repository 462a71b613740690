"""Videos by their id in the index: details, a moment's thumbnail, and the file in byte ranges
(a browser's <video> seeks with Range requests). Never a path from the request: an id names a
row of the catalog, and only that row's file is read, opened inside the indexed folders."""

from __future__ import annotations

import mimetypes
import os
import re
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query
from fastapi.responses import Response, StreamingResponse

from pixseek.api.deps import service
from pixseek.api.streaming import CACHE, chunks
from pixseek.api.errors import ApiError, answer
from pixseek.api.schemas import VideoInfo
from pixseek.api.service import Service
from pixseek.engine.results import IndexedVideo

router = APIRouter(prefix="/api/videos", tags=["videos"])
VideoId = Annotated[int, Path(ge=1, description="the video's id (in search results)")]
RANGE = re.compile(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$")


def _indexed(svc: Service, id_: int) -> IndexedVideo:
    found: IndexedVideo | None = svc.library().video(id_)
    if found is None:
        raise ApiError(404, f"no video with id {id_} in the index")
    return found


@router.get("/{id_}", response_model=VideoInfo, summary="What the index knows about one video")
def video_info(id_: VideoId, svc: Annotated[Service, Depends(service)]) -> VideoInfo:
    found = _indexed(svc, id_)
    return VideoInfo.model_validate({**found.to_dict(), "name": os.path.basename(found.path)})


@router.get("/{id_}/thumbnail", response_class=Response, summary="A JPEG of the frame at a moment",
            responses={200: {"content": {"image/jpeg": {}}}})
def thumbnail(id_: VideoId, svc: Annotated[Service, Depends(service)],
              t: Annotated[float, Query(ge=0, le=1e9, description="the moment, in seconds")] = 0.0,
              size: Annotated[int, Query(ge=32, le=1600, description="longest side in pixels")] = 256) -> Response:
    _indexed(svc, id_)
    return Response(svc.library().video_thumbnail(id_, t, size), media_type="image/jpeg", headers=CACHE)


@router.get("/{id_}/file", response_class=StreamingResponse, summary="The video file, whole or in a byte range",
            responses={200: {"content": {"video/*": {}}}, 206: {"content": {"video/*": {}}}, 416: {}})
def video_file(id_: VideoId, svc: Annotated[Service, Depends(service)],
               range_: Annotated[str | None, Header(alias="Range", max_length=200)] = None) -> Response:
    found = _indexed(svc, id_)
    if not os.path.isfile(found.path):
        raise ApiError(404, f"video {id_} has been moved or deleted since it was indexed")
    opened = svc.library().open_video(id_)  # checked where it leads after opening
    size = os.fstat(opened.fileno()).st_size
    kind = mimetypes.guess_type(found.path)[0] or "application/octet-stream"
    headers = {"Accept-Ranges": "bytes", **CACHE}
    try:
        span = _span(range_, size)
    except Unsatisfiable:
        opened.close()
        return answer(416, f"the range {range_} lies beyond the video's {size} bytes",
                      headers={"Content-Range": f"bytes */{size}"})
    if span is None:
        return StreamingResponse(chunks(opened, 0, size), media_type=kind,
                                 headers={**headers, "Content-Length": str(size)})
    start, end = span
    headers.update({"Content-Range": f"bytes {start}-{end}/{size}", "Content-Length": str(end - start + 1)})
    return StreamingResponse(chunks(opened, start, end + 1), status_code=206, media_type=kind, headers=headers)


class Unsatisfiable(Exception):
    """A range that starts past the file's end (416)."""


def _span(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span one `Range: bytes=` header asks for; None for the whole file (no
    header, or one this server does not read, as several ranges: RFC 9110 lets it answer 200);
    Unsatisfiable for a range that starts past the end."""
    match = RANGE.match(header or "")
    if match is None or not (match.group(1) or match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if not first:  # the last N bytes
        length = int(last[:20])
        if length <= 0 or size <= 0:
            raise Unsatisfiable
        return max(size - length, 0), size - 1
    start = int(first[:20])
    end = min(int(last[:20]), size - 1) if last else size - 1
    if start >= size:
        raise Unsatisfiable
    if last and int(last[:20]) < start:
        return None  # a malformed range (last before first) is ignored
    return start, end

