"""A video's moments: the frames worth embedding, decoded with PyAV (FFmpeg in its wheel).

Keyframes alone are decoded where they suffice (`skip_frame = "NONKEY"`: a phone's clip has one
every second or two, and libx264 puts one at each cut), which is several times faster than
decoding every frame. A keyframe becomes a moment when the scene changed since the last moment
(the mean difference of tiny grey pictures) or `MAX_GAP` seconds passed; never two moments
closer than `MIN_GAP`. Where keyframes turn out further apart than twice `MAX_GAP` (a screen
recording, an encoder with long GOPs), that stretch is decoded again frame by frame, sampled by
the same rule. Above LARGE pixels (4K, 8K), where a keyframe costs four times a 1080p one or
more, only keyframes KEY_STEP seconds apart are handed to the decoder.

Each moment is handed over upright (the display matrix's rotation applied) and scaled by FFmpeg
to the short side the model needs, so a 4K or 8K frame is never copied at full size (the scene
check reads its luma plane in place). One decoded frame at a time is held, whatever the length:
memory does not grow with the video.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import av
import numpy as np
from PIL import Image

from pixseek.environment import number
from pixseek.errors import ImageError

MAX_GAP = 4.0  # seconds between moments at most (PIXSEEK_VIDEO_GAP)
MIN_GAP = 0.5  # seconds between moments at least, however often the scene changes
SCENE = 0.12  # mean absolute difference (0..1) of tiny grey pictures that counts as a new scene
TINY = (32, 18)  # the tiny picture compared for scene changes
LARGE = 2560 * 1440  # pixels above which not every keyframe is decoded (see _key_step)
KEY_STEP = 2.0  # seconds between the keyframes decoded of such a video
LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"})
ROTATIONS = {90: Image.Transpose.ROTATE_90, -90: Image.Transpose.ROTATE_270, 270: Image.Transpose.ROTATE_270,
             180: Image.Transpose.ROTATE_180, -180: Image.Transpose.ROTATE_180}


def max_gap() -> float:
    return number("PIXSEEK_VIDEO_GAP", MAX_GAP, minimum=MIN_GAP, kind=float)


@dataclass(frozen=True)
class Moment:
    seconds: float  # from the start of the video
    image: Image.Image  # upright RGB, its short side the size asked for (or the frame's, if smaller)


@dataclass(frozen=True)
class VideoInfo:
    duration: float  # seconds (0 when the container does not say)
    width: int  # as coded (a moment's picture is upright: the pass turns these to match it)
    height: int
    tags: dict[str, str]  # the container's and the video stream's metadata, lower-case keys


def open_video(path: str) -> Any:
    """The container of a video file with a video stream, or an ImageError saying why not."""
    try:
        container = av.open(path, metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as error:
        raise ImageError("not a readable video", _short(error)) from None
    if not container.streams.video:
        container.close()
        raise ImageError("no video stream", "an audio-only or empty container")
    return container


def video_info(container: Any) -> VideoInfo:
    stream = container.streams.video[0]
    duration = 0.0
    if stream.duration is not None and stream.time_base is not None:
        duration = float(stream.duration * stream.time_base)
    elif container.duration is not None:
        duration = container.duration / av.time_base
    width, height = stream.codec_context.width, stream.codec_context.height
    tags = {str(k).lower(): str(v) for k, v in {**dict(stream.metadata), **dict(container.metadata)}.items()}
    return VideoInfo(duration, int(width or 0), int(height or 0), tags)


class _Sampler:
    """Which decoded frames become moments: the first, then a scene change or `gap` seconds on."""

    def __init__(self, gap: float, min_side: int):
        self.gap, self.min_side = gap, min_side
        self.taken: float | None = None  # the last moment's time
        self.tiny: np.ndarray | None = None  # the last moment's tiny picture
        self.seen: float | None = None  # the last frame's time
        self.found = 0

    def resume(self, start: float, frame: Any) -> None:
        """Go on from the stored moment at `start` (its frame, decoded again)."""
        self.taken, self.tiny, self.seen = start, _tiny(frame), start

    def offer(self, t: float, frame: Any) -> Moment | None:
        self.seen = t
        tiny = _tiny(frame)
        due = self.taken is None or t - self.taken >= self.gap
        changed = (self.taken is not None and self.tiny is not None and t - self.taken >= MIN_GAP
                   and float(np.abs(tiny - self.tiny).mean()) > SCENE)
        if not (due or changed):
            return None
        self.taken, self.tiny = t, tiny
        self.found += 1
        return Moment(t, upright(frame, self.min_side))


def moments(container: Any, min_side: int, start: float = 0.0, deadline: float | None = None) -> Iterator[Moment]:
    """The moments of the video from `start` seconds on (see the module's docstring), until
    its end or the `deadline` (time.monotonic()). Where keyframes turn out more than twice the
    gap apart (or the last one is that far from the end), that stretch is decoded again frame by
    frame. A decoding error ends the moments where it happens (a truncated file keeps those
    before the damage); ImageError if none came before it."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    duration = float(stream.duration * stream.time_base) if stream.duration is not None else 0.0
    sampler = _Sampler(max_gap(), min_side)
    every_frame, position, resuming = False, start, start > 0
    try:
        while True:
            stream.codec_context.skip_frame = "DEFAULT" if every_frame else "NONKEY"
            if position > 0 or every_frame:
                container.seek(int((position + origin) / stream.time_base), stream=stream, backward=True)
            sparse: float | None = None
            for frame in _frames(container, stream, 0.0 if every_frame else _key_step(stream), origin):
                if deadline is not None and sampler.found and time.monotonic() > deadline:
                    return  # (a video keeps its first moment whatever the budget)
                if frame.time is None:
                    continue
                t = float(frame.time) - origin
                if (position > 0 or every_frame) and t <= position + 1e-6:  # stored already, or read just now
                    if resuming:
                        sampler.resume(position, frame)
                    continue
                if not every_frame and sampler.seen is not None and t - sampler.seen > 2 * sampler.gap:
                    sparse = sampler.seen
                    break
                moment = sampler.offer(t, frame)
                if moment is not None:
                    yield moment
            else:
                if not every_frame and sampler.seen is not None and duration - sampler.seen > 2 * sampler.gap:
                    sparse = sampler.seen
            if sparse is None:
                return
            every_frame, position, resuming = True, sparse, False  # keyframes too far apart: every frame
    except av.FFmpegError as error:
        if not sampler.found and start == 0:
            raise ImageError("undecodable video", _short(error)) from None


def _key_step(stream: Any) -> float:
    """Seconds between the keyframes decoded: each of a 4K or 8K video costs four times or more
    a 1080p one, so above LARGE pixels keyframes closer than KEY_STEP after the last decoded one
    are passed over (a new scene is then seen up to KEY_STEP late); below it, every keyframe."""
    context = stream.codec_context
    return KEY_STEP if (context.width or 0) * (context.height or 0) > LARGE else 0.0


def _frames(container: Any, stream: Any, step: float, origin: float) -> Iterator[Any]:
    """The decoded frames to look at. With `step`, only keyframes at least `step` seconds apart
    are handed to the decoder at all (the decoder skips the others itself: skip_frame)."""
    if not step:
        yield from container.decode(stream)
        return
    last: float | None = None
    for packet in container.demux(stream):
        if packet.size:  # (an empty packet at the end drains the decoder)
            if not packet.is_keyframe or packet.pts is None:
                continue
            t = float(packet.pts * packet.time_base) - origin
            if last is not None and t - last < step:
                continue
            last = t
        yield from packet.decode()


def _tiny(frame: Any) -> np.ndarray:
    """The frame as TINY grey blocks (0..1): block means of every 4th luma sample of 8-bit YUV
    frames, read in place (30x cheaper than FFmpeg scaling 4K down to 32x18), else FFmpeg's."""
    if frame.format.name in LUMA_FIRST and frame.height >= 4 * TINY[1] and frame.width >= 4 * TINY[0]:
        plane = frame.planes[0]
        luma = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[::4, :plane.width:4]
        rows, columns = luma.shape[0] // TINY[1], luma.shape[1] // TINY[0]
        blocks = luma[:rows * TINY[1], :columns * TINY[0]].reshape(TINY[1], rows, TINY[0], columns)
        means: np.ndarray = blocks.mean(axis=(1, 3), dtype=np.float32) / 255
        return means
    tiny: np.ndarray = frame.reformat(width=TINY[0], height=TINY[1], format="gray").to_ndarray()
    return tiny.astype(np.float32) / 255


def frame_at(container: Any, seconds: float, min_side: int) -> Image.Image:
    """The frame shown at `seconds` (the last one at or before it), upright, for a moment's thumbnail."""
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    origin = float(stream.start_time * stream.time_base) if stream.start_time is not None else 0.0
    container.seek(int((max(seconds, 0.0) + origin) / stream.time_base), stream=stream, backward=True)
    chosen = None
    try:
        for frame in container.decode(stream):
            if chosen is not None and frame.time is not None and float(frame.time) - origin > seconds + 1e-3:
                break
            chosen = frame
    except av.FFmpegError as error:
        if chosen is None:
            raise ImageError("undecodable video", _short(error)) from None
    if chosen is None:
        raise ImageError("no frame at that time", f"{seconds:g} s")
    return upright(chosen, min_side)


def upright(frame: Any, min_side: int) -> Image.Image:
    """The frame as an upright RGB picture whose short side is `min_side` (or less, when smaller)."""
    width, height = frame.width, frame.height
    scale = min_side / min(width, height)
    if scale < 1:
        frame = frame.reformat(width=max(2, round(width * scale)), height=max(2, round(height * scale)),
                               format="rgb24", interpolation="AREA")
    image: Image.Image = frame.to_image()
    turn = ROTATIONS.get(int(round(getattr(frame, "rotation", 0) or 0)))
    return image.transpose(turn) if turn is not None else image


def _short(error: BaseException) -> str:
    """FFmpeg's message without its errno prefix and file name."""
    text = getattr(error, "strerror", None) or str(error)
    return " ".join(str(text).split())[:200]
