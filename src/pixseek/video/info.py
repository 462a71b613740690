"""What a video's container says about it: when it was taken, with which camera, where.

Phones write these as container tags: Apple's `com.apple.quicktime.creationdate` (local time
with its offset), `creation_time` (UTC, every muxer), `location` or
`com.apple.quicktime.location.ISO6709` ("+37.7858-122.4064+012.345/"), and the make and model
under Apple's or Android's keys. The result is the PhotoMetadata every filter and face already
reads, so a video is filtered and described like a photo; what a container lacks falls back as
for a photo (the file's time).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

from pixseek.metadata import PhotoMetadata, local_zone_offset_min

ISO6709 = re.compile(r"^\s*([+-]\d{1,2}(?:\.\d+)?)([+-]\d{1,3}(?:\.\d+)?)")
MAKE_KEYS = ("com.apple.quicktime.make", "com.android.manufacturer", "make")
MODEL_KEYS = ("com.apple.quicktime.model", "com.android.model", "model")
PLACE_KEYS = ("com.apple.quicktime.location.iso6709", "location", "location-eng")


def video_metadata(tags: dict[str, str], width: int, height: int, mtime_ns: int) -> PhotoMetadata:
    """The metadata of a video from its container's tags (lower-case keys)."""
    taken_at, offset, source = _taken(tags) or _file_time(mtime_ns)
    latitude, longitude = _position(tags)
    return PhotoMetadata(taken_at, offset, source, width, height, _first(tags, MAKE_KEYS), _first(tags, MODEL_KEYS),
                         None, latitude, longitude)


def _first(tags: dict[str, str], keys: tuple[str, ...]) -> str | None:
    return next((tags[k].strip() for k in keys if tags.get(k, "").strip()), None)


def _taken(tags: dict[str, str]) -> tuple[float, int, str] | None:
    for key in ("com.apple.quicktime.creationdate", "creation_time", "date"):
        when = _parse(tags.get(key, ""))
        if when is None:
            continue
        offset = when.utcoffset()
        if key == "com.apple.quicktime.creationdate" and offset is not None:  # the phone's own wall clock
            return when.timestamp(), int(offset.total_seconds() // 60), "exif"
        instant = when.timestamp() if when.tzinfo else when.replace(tzinfo=timezone.utc).timestamp()
        if instant <= 0:  # muxers write 1970 or 1904 when they know nothing
            continue
        return instant, local_zone_offset_min(datetime.fromtimestamp(instant)), "exif-local"
    return None


def _parse(text: str) -> datetime | None:
    text = text.strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # +0200 -> +02:00 (Python 3.10's fromisoformat)
    text = re.sub(r"\.(\d{6})\d+", r".\1", text)
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def _position(tags: dict[str, str]) -> tuple[float | None, float | None]:
    for key in PLACE_KEYS:
        match = ISO6709.match(tags.get(key, ""))
        if match:
            latitude, longitude = float(match.group(1)), float(match.group(2))
            if abs(latitude) <= 90 and abs(longitude) <= 180 and (latitude, longitude) != (0.0, 0.0):
                return latitude, longitude
    return None, None


def _file_time(mtime_ns: int) -> tuple[float, int, str]:
    instant = mtime_ns / 1e9
    return instant, local_zone_offset_min(datetime.fromtimestamp(instant)), "file"
