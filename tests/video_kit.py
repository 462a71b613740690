"""Video clips made at test time with PyAV (libx264 in its wheel): each a few scenes, each scene a
still photo with a slow drift (so frames differ like a real shot's), H.264 with a keyframe every
two seconds and one at each cut."""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
DEMO_PHOTOS = sorted((ROOT / "demo" / "photos").glob("*.jpg"))


def make_clip(path: Path, scenes: Sequence[Image.Image], seconds: float = 3.0, size: tuple[int, int] = (320, 240),
              fps: int = 12, codec: str = "libx264", rotation: int = 0, tags: dict[str, str] | None = None,
              gop: int | None = None, pix_fmt: str = "yuv420p", variable: bool = False) -> list[tuple[float, float]]:
    """Write a clip of `scenes`, each shown `seconds`; returns each scene's (start, end) in seconds.
    `variable`: frames at irregular times (a phone's variable frame rate), timestamps in ms."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", options={"movflags": "use_metadata_tags"} if tags else None) as container:
        for key, value in (tags or {}).items():
            container.metadata[key] = value
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = pix_fmt
        stream.time_base = stream.codec_context.time_base = Fraction(1, 1000) if variable else Fraction(1, fps)
        stream.codec_context.gop_size = gop or 2 * fps
        stream.options = {"preset": "ultrafast"} if codec in ("libx264", "libx265") else {}
        if codec == "libx265":
            stream.options["x265-params"] = "log-level=error"
        if rotation:
            stream.set_display_rotation(rotation)
        spans = []
        index = 0
        clock = 0.0
        for scene in scenes:
            frames = int(round(seconds * fps))
            clock = round(clock, 6)  # exact where the frames' times are (whole frames, or milliseconds)
            spans.append((clock, round(clock + seconds, 6)))
            big = scene.convert("RGB").resize((size[0] + 16, size[1] + 16))
            for f in range(frames):
                shift = int(16 * f / max(frames - 1, 1))
                picture = big.crop((shift, shift // 2, shift + size[0], shift // 2 + size[1]))
                frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
                frame.pts = round(clock * 1000) if variable else index
                index += 1
                step = seconds / frames
                clock += step * (0.5 if variable and f % 2 else 1.5 if variable else 1.0)
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return spans


def scene_photos(count: int, extra: Sequence[Path] = ()) -> list[Path]:
    """`count` distinct photos: the demo's, then `extra` (e.g. ../shared/data when present)."""
    found = list(DEMO_PHOTOS) + list(extra)
    assert len(found) >= count, f"need {count} photos, have {len(found)}"
    return found[:count]
