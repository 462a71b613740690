"""One indexed video, named by its id (in search results): its details, a moment's thumbnail,
its bytes. Like photos, only what is in the index is served, and only read inside the indexed
folders (the one containment check, on the file as opened: PyAV reads the checked file object)."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, BinaryIO

import av

from pixseek import containment
from pixseek.engine.index import OpenIndex
from pixseek.engine.photos import valid_id
from pixseek.engine.results import IndexedVideo
from pixseek.errors import ImageError, PhotoNotIndexed
from pixseek.signals.video import VIDEO_IDS, VideoRow, VideoRows
from pixseek.video.frames import frame_at

if TYPE_CHECKING:
    from PIL import Image

FULL_SIZE = 1 << 30  # a short side no video reaches: the frame as it is


def row(index: OpenIndex, video_id: int) -> VideoRow | None:
    if not valid_id(video_id) or video_id < VIDEO_IDS:
        return None
    try:
        return VideoRows(index.catalog.connection).by_ids([int(video_id)]).get(int(video_id))
    except Exception as error:  # an index opened read-only before videos existed has no table
        if "no such table" in str(error):
            return None
        raise


def id_of(index: OpenIndex, path: str) -> int | None:
    """The id of the indexed video at `path` (named as indexed, or as it resolves inside the folders)."""
    named = containment.indexed_form(path, index.catalog.roots()) or path
    try:
        found = VideoRows(index.catalog.connection).by_path(named)
    except Exception as error:  # an index opened read-only before videos existed has no table
        if "no such table" in str(error):
            return None
        raise
    return found.id if found else None


def details(index: OpenIndex, video_id: int) -> IndexedVideo | None:
    found = row(index, video_id)
    if found is None:
        return None
    moments = VideoRows(index.catalog.connection).read([found.id]).get(found.id, [])
    m = found.metadata
    return IndexedVideo(found.id, found.path, found.size, found.mtime_ns / 1e9, found.duration,
                        m.width or 0 if m else 0, m.height or 0 if m else 0, len(moments), found.complete)


def open_file(index: OpenIndex, video_id: int) -> BinaryIO:
    """The indexed video's file, opened for reading inside the indexed folders."""
    found = row(index, video_id)
    if found is None:
        raise PhotoNotIndexed(f"no video with id {video_id} in the index")
    return containment.open_inside(found.path, index.catalog.roots())


def thumbnail(index: OpenIndex, video_id: int, seconds: float, size: int) -> bytes:
    """A JPEG of the frame shown at `seconds` (made once per content, time and size)."""
    found = row(index, video_id)
    if found is None:
        raise PhotoNotIndexed(f"no video with id {video_id} in the index")
    seconds = max(float(seconds), 0.0)
    if found.duration > 0:  # (some containers do not say how long they are)
        seconds = min(seconds, found.duration)
    key = hashlib.blake2b(found.hash + f"@{seconds:.3f}".encode(), digest_size=16).digest()

    def frame_png() -> bytes:
        out = io.BytesIO()
        picture(index, video_id, seconds, size).save(out, "PNG")
        return out.getvalue()

    return index.thumbnails.get(found.path, frame_png, key, size)


def picture(index: OpenIndex, video_id: int, seconds: float, size: int | None = None) -> Image.Image:
    """The frame shown at `seconds`, upright, its short side `size` (None: as large as the video's)."""
    with open_file(index, video_id) as opened:
        try:
            with av.open(opened, metadata_errors="ignore") as container:
                return frame_at(container, seconds, size or FULL_SIZE)
        except av.FFmpegError as error:
            raise ImageError("undecodable video", str(error)[:200]) from None
