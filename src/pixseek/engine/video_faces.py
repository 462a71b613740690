"""Faces in video moments, for the video pass: found in the frames it decodes for its moments (no
second decode), with the face model that finds photos' faces, where the index finds faces.

While a video is read, each moment's frame is decoded large enough for the face detector (its
long side the model's detection side, never above the video's own) and its faces are written in
the same transaction as the moment's part: a crash loses the faces of the part in flight with
it. Moments already stored without faces from the current model (the model changed, faces were
turned on, an index from before video faces) are looked at afterwards by `backfill`: each
moment's frame decoded again by seeking to it (the CLIP vectors stay), FACE_BATCH moments a
transaction. Boxes and landmarks are stored in the video's own pixels, as photos' are in the
photo's; the new faces are grouped into people by the face pass that follows.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from PIL import Image

from pixseek.engine.face_pass import FACE_BATCH, finds_faces
from pixseek.engine.results import IndexReport, Progress, ProgressCallback
from pixseek.environment import number
from pixseek.errors import ImageError, PixseekError
from pixseek.files import FileEntry
from pixseek.model.faces import face_model
from pixseek.signals.video import VideoRows
from pixseek.signals.video_faces import MomentFaces
from pixseek.store.catalog import Catalog
from pixseek.video.frames import frame_at, open_video, video_info

if TYPE_CHECKING:
    from pixseek.model.faces import Face, FaceModel

STAGE = "finding faces in videos"
Found = list[tuple[float, tuple["Face", ...]]]  # (seconds, faces) of each moment looked at


class MomentFaceFinder:
    """The face model and the rows of an index that finds faces; `for_index` gives None where it does not."""

    def __init__(self, writer: Catalog, model: FaceModel):
        self.writer, self.model = writer, model
        self.rows = MomentFaces(writer.connection)

    @classmethod
    def for_index(cls, writer: Catalog, report: IndexReport) -> MomentFaceFinder | None:
        if not finds_faces(writer):
            return None
        try:
            return cls(writer, face_model())
        except PixseekError as error:
            report.faces_note = f"faces not found: {error}"
            return None

    def min_side(self, clip_side: int, width: int, height: int) -> int:
        """The short side to decode a moment at: the CLIP model's, or more, so that the long side
        reaches the detector's (FFmpeg never scales a frame up)."""
        if not width or not height:  # (a container that does not say: the detector's side)
            return max(clip_side, self.model.side)
        return max(clip_side, math.ceil(self.model.side * min(width, height) / max(width, height)))

    def look(self, moments: Sequence[tuple[float, Image.Image]], width: int, height: int) -> Found:
        """The faces in each moment's picture, in the video's pixels (`width` x `height`, as coded)."""
        found: Found = []
        for seconds, image in moments:
            scale = max(width, height) / max(image.width, image.height) if width and height else 1.0
            found.append((seconds, tuple(_scaled(face, scale) for face in self.model.find(image))))
        return found

    def write(self, video: int, content: bytes, found: Found, report: IndexReport) -> None:
        """Store what `look` found (inside the caller's transaction)."""
        report.video_faces_found += self.rows.write(video, content, self.model.name, found)

    def copy(self, source: int, target: int) -> None:
        """A copy of a video takes its source's faces (inside the caller's transaction)."""
        self.rows.copy(source, target, self.model.name)

    def backfill(self, scanned: dict[str, FileEntry], report: IndexReport, progress: ProgressCallback | None,
                 cancel: threading.Event | None) -> None:
        """Look at the stored moments that lack faces from this model, of the videos this run scanned
        and found unchanged (a changed one is read again by the next run first)."""
        videos = VideoRows(self.writer.connection)
        unread = self.rows.unread(self.model.name)
        rows = videos.by_ids(unread)
        todo = [(rows[v], seconds) for v, seconds in unread.items() if v in rows and rows[v].path in scanned
                and (scanned[rows[v].path].size, scanned[rows[v].path].mtime_ns) == (rows[v].size, rows[v].mtime_ns)]
        start = time.monotonic()
        size = int(number("PIXSEEK_FACE_BATCH", FACE_BATCH, minimum=1))
        for done, (row, seconds) in enumerate(todo):
            if cancel is not None and cancel.is_set():
                report.cancelled = True
                return
            if progress:
                elapsed = time.monotonic() - start
                progress(Progress(done, len(todo), done, 0, 0, elapsed, done / elapsed if elapsed > 0 else 0.0,
                                  row.path, stage=STAGE))
            try:
                with open_video(row.path) as container:
                    info = video_info(container)
            except ImageError:
                continue  # gone unreadable since: the next run's video pass sees to it
            side = self.min_side(0, info.width, info.height)
            for at in range(0, len(seconds), size):
                if cancel is not None and cancel.is_set():
                    report.cancelled = True
                    return
                pictures = [(second, _picture(row.path, second, side)) for second in seconds[at:at + size]]
                found = self.look([(s, p) for s, p in pictures if p is not None], info.width, info.height)
                found += [(s, ()) for s, p in pictures if p is None]  # no frame there now: none looked for again
                with self.writer.transaction():
                    self.write(row.id, row.hash, found, report)


def _picture(path: str, seconds: float, side: int) -> Image.Image | None:
    """The frame at a moment, decoded again (a container of its own: one decoder per seek)."""
    try:
        with open_video(path) as container:
            return frame_at(container, seconds, side)
    except ImageError:
        return None


def _scaled(face: Face, scale: float) -> Face:
    """A face found in a moment's picture, its box and landmarks in the video's pixels."""
    if scale == 1.0:
        return face
    return replace(face, box=tuple(v * scale for v in face.box),  # type: ignore[arg-type]
                   landmarks=tuple((x * scale, y * scale) for x, y in face.landmarks))
