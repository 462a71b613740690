"""The video pass: an index run's videos, read after its photos (search works on them meanwhile).

Each video file under the run's folders (files.VIDEO_EXTENSIONS, any case) is compared with its
row by (size, mtime), like a photo: unchanged and complete, it is left alone; a row left
incomplete by a crash or a Ctrl-C resumes where its last committed part ended. Otherwise the
file is hashed (BLAKE2, streamed: memory does not grow with the file) and content a complete
row already holds (a moved, renamed or copied video) takes that row's moments without decoding.
The rest is decoded (video/frames.py), its moments embedded by the index's encoder in batches,
and committed a part (PART_SECONDS of video) per transaction, with the faces found in its
moments where the index finds faces (engine/video_faces.py): a crash loses the part in flight
at most. A video that cannot be read (broken, truncated to nothing, no video stream) is skipped
with a one-line reason, remembered until it changes; decoding stops at BUDGET wall seconds a
video (the moments found so far are kept and the report says so). Videos gone from disk leave.
"""

from __future__ import annotations

import hashlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import av
import numpy as np
from PIL import Image

from pixseek.engine.results import IndexReport, Progress, ProgressCallback
from pixseek.engine.video_faces import MomentFaceFinder
from pixseek.environment import number
from pixseek.errors import ImageError
from pixseek.files import VIDEO_EXTENSIONS, FileEntry, is_image_name, scan
from pixseek.images import perceptual_hash
from pixseek.places import name_places
from pixseek.signals.video import VideoRow, VideoRows
from pixseek.store.catalog import Catalog
from pixseek.video.frames import Moment, moments, open_video, upright, video_info
from pixseek.video.info import video_metadata

if TYPE_CHECKING:
    from pixseek.model import Encoder

PART_SECONDS = 60.0  # seconds of video committed per transaction (PIXSEEK_VIDEO_PART)
BUDGET = 900.0  # wall seconds spent decoding one video at most (PIXSEEK_VIDEO_BUDGET)
EMBED_BATCH = 16  # moments per encoder call
AHEAD = 32  # moments decoded ahead of the ones being embedded
STAGE = "reading videos"
HASH_CHUNK = 1 << 20
T = TypeVar("T")


def ahead(items: Iterator[T], depth: int) -> Iterator[T]:
    """`items`, made in a thread of their own up to `depth` ahead of the consumer: the video is
    decoded (FFmpeg releases the interpreter lock) while the moments before are embedded. The
    thread stops when the consumer does; an error it meets is raised in the consumer."""
    waiting: queue.Queue[tuple[str, Any]] = queue.Queue(depth)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:
        while not stop.is_set():
            try:
                waiting.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("end", None)
        except BaseException as error:  # handed to the consumer, which raises it
            put("error", error)

    thread = threading.Thread(target=produce, name="pixseek-video-decode", daemon=True)
    thread.start()
    try:
        while True:
            kind, value = waiting.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        thread.join()


def file_hash(path: str) -> bytes:
    """BLAKE2 of the file's bytes (as photos' content hash is), read in chunks."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.digest()


@dataclass(frozen=True)
class Part:
    """The video whose parts are being committed: its id, content hash and coded size."""

    video: int
    content: bytes
    width: int
    height: int


class VideoPass:
    def __init__(self, writer: Catalog, encoder: Callable[[], Encoder], report: IndexReport,
                 progress: ProgressCallback | None, cancel: threading.Event | None):
        self.writer = writer
        self.rows = VideoRows(writer.connection)
        self.encoder = encoder
        self.report = report
        self.progress = progress
        self.cancel = cancel
        self.part = number("PIXSEEK_VIDEO_PART", PART_SECONDS, minimum=1, kind=float)
        self.budget = number("PIXSEEK_VIDEO_BUDGET", BUDGET, minimum=0, kind=float)
        self.start = time.monotonic()
        self.faces = MomentFaceFinder.for_index(writer, report)  # None: this index finds no faces

    def run(self, roots: list[str], include_hidden: bool) -> None:
        known = self.rows.under(roots)
        skipped = self.rows.skipped()
        todo: list[tuple[FileEntry, VideoRow | None]] = []
        errors: list[tuple[str, str]] = []
        scanned: dict[str, FileEntry] = {}
        for entry in scan(roots, on_error=lambda p, r: errors.append((p, r)), include_hidden=include_hidden,
                          bounds=self.writer.roots() + roots, extensions=VIDEO_EXTENSIONS):
            scanned[entry.path] = entry
            row = known.pop(entry.path, None)
            if row is not None and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns) and row.complete:
                continue
            skip = skipped.get(entry.path)
            if row is None and skip is not None and skip[:2] == (entry.size, entry.mtime_ns):
                self.report.skipped_before += 1
                continue
            todo.append((entry, row))
        for done, (entry, row) in enumerate(todo):
            if self.cancel is not None and self.cancel.is_set():
                self.report.cancelled = True
                break
            self._one(entry, row, done, len(todo))
        # A broken link named like a video is a skipped video; behind an unreadable folder nothing is gone.
        self.report.skipped += [(p, r) for p, r in errors if is_image_name(p, VIDEO_EXTENSIONS)]
        hidden = tuple(os.path.join(p, "") for p, _ in errors)
        gone = [v.id for v in known.values() if not os.path.lexists(v.path) and not v.path.startswith(hidden)]
        with self.writer.transaction():
            self.rows.delete(gone)
            self.rows.forget_skipped(p for p in skipped if p.startswith(tuple(os.path.join(r, "") for r in roots))
                                     and not os.path.lexists(p))
            if gone:
                self.rows.next_generation()
        self.report.removed += len(gone)
        if self.faces is not None and not self.report.cancelled:
            self.faces.backfill(scanned, self.report, self.progress, self.cancel)
        self.report.elapsed += time.monotonic() - self.start

    def _one(self, entry: FileEntry, row: VideoRow | None, done: int, total: int) -> None:
        if self.progress:
            elapsed = time.monotonic() - self.start
            self.progress(Progress(done, total, self.report.videos_indexed, self.report.videos_reused, 0, elapsed,
                                   done / elapsed if elapsed > 0 else 0.0, entry.path, stage=STAGE))
        if row is not None and (row.size, row.mtime_ns) == (entry.size, entry.mtime_ns):
            self._read(entry, row.id, row.done)  # a part was committed before a crash: resume after it
            return
        try:
            content = file_hash(entry.path)
        except OSError as error:
            self._skip(entry, f"unreadable ({error.strerror})")
            return
        stored = self.rows.by_hash(content)
        if stored is not None and row is not None and stored.id == row.id:  # touched, same bytes
            with self.writer.transaction():
                self.rows.move(row.id, entry.path, entry.mtime_ns)
                self.rows.next_generation()
            return
        if stored is not None:
            self._copy(entry, content, stored)
            return
        try:
            container = open_video(entry.path)
        except ImageError as error:
            self._skip(entry, str(error))
            return
        with container:
            info = video_info(container)
            turned = _turned(container, info.width, info.height)
            metadata = video_metadata(info.tags, info.width, info.height, entry.mtime_ns)
            place = None
            if metadata.latitude is not None and metadata.longitude is not None:
                place = name_places([(metadata.latitude, metadata.longitude)])[0]
            with self.writer.transaction():
                video = self.rows.start(entry.path, entry.size, entry.mtime_ns, content, info.duration, metadata,
                                        place, self.rows.next_generation())
                if turned:
                    self.rows.turn(video)
        self._read(entry, video, 0.0)

    def _copy(self, entry: FileEntry, content: bytes, stored: VideoRow) -> None:
        """A video whose bytes a complete row holds: its moments copied, nothing decoded."""
        with self.writer.transaction():
            generation = self.rows.next_generation()
            video = self.rows.start(entry.path, entry.size, entry.mtime_ns, content, stored.duration,
                                    stored.metadata, stored.place, generation)
            self.rows.copy_moments(stored.id, video, generation)
            if self.faces is not None:
                self.faces.copy(stored.id, video)
            self.rows.progress(video, stored.duration, True, generation)
        self.report.videos_reused += 1

    def _read(self, entry: FileEntry, video: int, start: float) -> None:
        """Decode the video from `start`, embedding its moments and committing a part at a time."""
        try:
            container = open_video(entry.path)
        except ImageError as error:
            self._drop(video, entry, str(error))
            return
        deadline = time.monotonic() + self.budget
        pending: list[Moment] = []
        part_end = start + self.part
        reached = start
        with container:
            info = video_info(container)
            duration = info.duration
            side = self._min_side()
            if self.faces is not None:  # the moments' frames large enough for the face detector too
                side = self.faces.min_side(side, info.width, info.height)
            part = Part(video, self.rows.by_ids([video])[video].hash, info.width, info.height)
            try:
                for moment in ahead(moments(container, side, start, deadline), AHEAD):
                    if moment.seconds >= part_end and pending:
                        reached = self._commit(part, pending, pending[-1].seconds, False)
                        pending, part_end = [], moment.seconds + self.part
                    pending.append(moment)
                    if self.cancel is not None and self.cancel.is_set():
                        self.report.cancelled = True
                        break
            except ImageError as error:
                self._drop(video, entry, str(error))
                return
        if self.report.cancelled:
            self._commit(part, pending, pending[-1].seconds if pending else reached, False)
            return
        if time.monotonic() > deadline:
            self.report.skipped.append((entry.path, f"decoding stopped after {self.budget:g} s; the moments found "
                                                    "so far are searchable"))
        if not pending and not self.rows.read([video]):  # opened, yet not one frame decoded
            self._drop(video, entry, "undecodable video: no frame could be decoded")
            return
        self._commit(part, pending, max(duration, pending[-1].seconds if pending else reached), True)
        self.report.videos_indexed += 1
        self.report.video_seconds += max(duration - start, 0.0)

    def _commit(self, part: Part, found: list[Moment], reached: float, complete: bool) -> float:
        """One part: its moments embedded (and their faces found) and stored with how far the
        video is read, in one transaction."""
        vectors = self._embed([m.image for m in found]) if found else np.zeros((0, 0), np.float32)
        faces = (self.faces.look([(m.seconds, m.image) for m in found], part.width, part.height)
                 if self.faces is not None else [])
        with self.writer.transaction():
            generation = self.rows.next_generation()
            self.rows.write([(part.video, [(m.seconds, v, perceptual_hash(m.image)) for m, v in zip(found, vectors)])],
                            generation)
            if self.faces is not None:
                self.faces.write(part.video, part.content, faces, self.report)
            self.rows.progress(part.video, reached, complete, generation)
        return reached

    def _embed(self, images: list[Image.Image]) -> np.ndarray:
        encoder = self.encoder()
        batches = [images[i:i + EMBED_BATCH] for i in range(0, len(images), EMBED_BATCH)]
        return np.concatenate([encoder.encode_pixels(np.stack([encoder.preprocess(im) for im in batch]))
                               for batch in batches])

    def _min_side(self) -> int:
        return int(self.encoder().image_size)

    def _skip(self, entry: FileEntry, reason: str) -> None:
        with self.writer.transaction():
            self.rows.skip(entry.path, entry.size, entry.mtime_ns, reason)
        self.report.skipped.append((entry.path, reason))

    def _drop(self, video: int, entry: FileEntry, reason: str) -> None:
        """A video that turned out unreadable: its row (and any moments) leave, the file is skipped."""
        with self.writer.transaction():
            self.rows.delete([video])
            self.rows.skip(entry.path, entry.size, entry.mtime_ns, reason)
            self.rows.next_generation()
        self.report.skipped.append((entry.path, reason))


def index_videos(writer: Catalog, encoder: Callable[[], Encoder], roots: list[str], include_hidden: bool,
                 report: IndexReport, progress: ProgressCallback | None = None,
                 cancel: threading.Event | None = None) -> None:
    """Bring the videos under `roots` up to date (see the module's docstring); counts go into `report`."""
    if report.cancelled:
        return
    VideoPass(writer, encoder, report, progress, cancel).run(roots, include_hidden)


def _turned(container: Any, width: int, height: int) -> bool:
    """Whether the video's frames are shown turned a quarter (its first frame, upright, is)."""
    try:
        first = next(container.decode(container.streams.video[0]), None)
    except av.FFmpegError:
        return False
    if first is None:
        return False
    image = upright(first, 16)
    return (image.width > image.height) != (width > height) and width != height


def remove_videos(writer: Catalog, folders: list[str]) -> int:
    """Videos under `folders` leave the index (a folder removed from it); returns how many."""
    rows = VideoRows(writer.connection)
    gone = [v.id for v in rows.under(folders).values()]
    with writer.transaction():
        rows.delete(gone)
        rows.forget_skipped(p for p in rows.skipped() if p.startswith(tuple(os.path.join(f, "") for f in folders)))
        rows.next_generation()
    return len(gone)
