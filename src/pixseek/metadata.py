"""What a photo says about itself: when it was taken, with which camera and lens, where, and its
pixel size, read once from the bytes the indexer already holds (no second read, no decode).

Capture time is EXIF DateTimeOriginal (else DateTimeDigitized): a wall-clock time where the
photo was taken. Its offset from UTC comes from OffsetTimeOriginal, else from the GPS clock
(which is UTC), else it is unknown and this computer's time zone is assumed. Without EXIF the
file's modification time stands in, marked as such. We keep the instant (UTC) and the offset,
so photos sort in true order across time zones while date filters use the local calendar day.

Everything is parsed by Pillow's own EXIF reader; damaged EXIF costs only the fields it spoils.
`read_metadata` has no other input than its arguments, so it can run wherever the bytes are
(the indexer's workers, a cluster job).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import SupportsFloat, TypeVar

from PIL import Image

from pixseek.images import FORMATS, heif_supported
from pixseek.raw import is_raw_name, raw_exif_and_size

EXIF_IFD, GPS_IFD = 0x8769, 0x8825
MAKE, MODEL, ORIENTATION = 0x010F, 0x0110, 0x0112
TAKEN_TAGS = ((0x9003, 0x9011), (0x9004, 0x9012))  # DateTimeOriginal / Digitized with their OffsetTime
LENS_MODEL = 0xA434
SOURCES = ("exif", "exif-local", "file")  # offset known; EXIF time, offset assumed; file time
MAX_OFFSET_MIN = 14 * 60

T = TypeVar("T")


@dataclass(frozen=True)
class PhotoMetadata:
    taken_at: float  # the instant, seconds since the epoch (UTC)
    utc_offset_min: int  # minutes from UTC of the wall clock where it was taken (known or assumed)
    time_source: str  # one of SOURCES
    width: int | None = None  # pixels, upright (EXIF orientation applied)
    height: int | None = None
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    @property
    def local_time(self) -> datetime:
        """The wall-clock time where the photo was taken (naive)."""
        return datetime(1970, 1, 1) + timedelta(seconds=self.taken_at, minutes=self.utc_offset_min)

    @property
    def camera(self) -> str | None:
        return camera_name(self.make, self.model)

    @property
    def has_position(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def camera_name(make: str | None, model: str | None) -> str | None:
    """"Google Pixel 7", "Canon EOS R5" (not "Canon Canon EOS R5"), "NIKON D750"."""
    if not model:
        return make or None
    if not make or model.lower().startswith(make.split()[0].lower()):
        return model
    return f"{make} {model}"


def local_zone_offset_min(local: datetime) -> int:
    """This computer's UTC offset (minutes) at a wall-clock time, daylight saving included."""
    offset = local.astimezone().utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


def read_metadata(data: bytes, path: str, mtime_ns: int) -> PhotoMetadata:
    """The metadata of the photo whose bytes are `data` (named `path`, modified at `mtime_ns`).

    Never raises for a bad file: what cannot be read is left out, and the time falls back to
    the file's.
    """
    exif, size = _exif_and_size(data, path)
    taken = _field(_taken, exif) or _file_time(mtime_ns)
    width, height = size if size else (None, None)
    latitude, longitude = _field(_position, exif) or (None, None)
    return PhotoMetadata(*taken, width=width, height=height, make=_field(_make, exif), model=_field(_model, exif),
                         lens=_field(_lens, exif), latitude=latitude, longitude=longitude)


def _exif_and_size(data: bytes, path: str) -> tuple[Image.Exif | None, tuple[int, int] | None]:
    """Pillow's EXIF and the upright size from the header (nothing is decoded)."""
    if is_raw_name(path):
        return raw_exif_and_size(data)
    heif_supported()
    try:
        with Image.open(io.BytesIO(data), formats=FORMATS) as image:
            exif, size = image.getexif(), image.size
    except Exception:  # a damaged or unknown file: decoding says why, not us
        return None, None
    return exif, size[::-1] if _orientation(exif) in (5, 6, 7, 8) else size


def _orientation(exif: Image.Exif | None) -> int:
    try:
        return int(exif.get(ORIENTATION, 1)) if exif is not None else 1
    except (TypeError, ValueError):
        return 1


def _field(read: Callable[[Image.Exif], T | None], exif: Image.Exif | None) -> T | None:
    """One field, read on its own: a damaged tag loses that field only."""
    if exif is None:
        return None
    try:
        return read(exif)
    except Exception:  # EXIF from cameras and editors is often damaged; it says nothing of the pixels
        return None


def _make(exif: Image.Exif) -> str | None:
    return _text(exif.get(MAKE))


def _model(exif: Image.Exif) -> str | None:
    return _text(exif.get(MODEL))


def _text(value: object) -> str | None:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", " ").strip()
    return " ".join(value.split()) or None


def _lens(exif: Image.Exif) -> str | None:
    return _text(exif.get_ifd(EXIF_IFD).get(LENS_MODEL))


def _parse_exif_time(value: object) -> datetime | None:
    text = _text(value)
    if not text or len(text) < 19:
        return None
    try:
        return datetime.strptime(text[:19].replace("-", ":"), "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None  # "0000:00:00 00:00:00" and other placeholders


def _parse_offset(value: object) -> int | None:
    text = _text(value)
    if not text or len(text) != 6 or text[0] not in "+-" or text[3] != ":":
        return None
    try:
        minutes = int(text[1:3]) * 60 + int(text[4:6])
    except ValueError:
        return None
    return (minutes if text[0] == "+" else -minutes) if minutes <= MAX_OFFSET_MIN else None


def _taken(exif: Image.Exif) -> tuple[float, int, str] | None:
    sub = exif.get_ifd(EXIF_IFD)
    for time_tag, offset_tag in TAKEN_TAGS:
        local = _parse_exif_time(sub.get(time_tag))
        if local is None:
            continue
        offset = _parse_offset(sub.get(offset_tag))
        if offset is None:
            offset = _gps_offset(exif, local)
        source = "exif" if offset is not None else "exif-local"
        if offset is None:
            offset = local_zone_offset_min(local)
        instant = (local - datetime(1970, 1, 1) - timedelta(minutes=offset)).total_seconds()
        return instant, offset, source
    return None


def _gps_offset(exif: Image.Exif, local: datetime) -> int | None:
    """The offset implied by the GPS clock (UTC), to the quarter hour, if the GPS block has one."""
    gps = exif.get_ifd(GPS_IFD)
    day, clock = _text(gps.get(29)), gps.get(7)
    if not day or not clock or len(clock) != 3:
        return None
    try:
        utc = datetime.strptime(day[:10], "%Y:%m:%d") + timedelta(
            hours=float(clock[0]), minutes=float(clock[1]), seconds=float(clock[2]))
    except (ValueError, TypeError, ZeroDivisionError):
        return None
    offset = round((local - utc).total_seconds() / 900) * 15
    return offset if abs(offset) <= MAX_OFFSET_MIN else None


def _degrees(value: Iterable[SupportsFloat], ref: object) -> float | None:
    parts = [float(v) for v in value]
    if len(parts) != 3 or not all(math.isfinite(p) for p in parts):
        return None
    degrees = parts[0] + parts[1] / 60 + parts[2] / 3600
    return -degrees if _text(ref) in ("S", "W") else degrees


def _position(exif: Image.Exif) -> tuple[float, float] | None:
    gps = exif.get_ifd(GPS_IFD)
    if 2 not in gps or 4 not in gps:
        return None
    lat, lon = _degrees(gps[2], gps.get(1)), _degrees(gps[4], gps.get(3))
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat, lon) == (0, 0):
        return None  # (0, 0) is what some cameras write without a fix
    return round(lat, 7), round(lon, 7)


def _file_time(mtime_ns: int) -> tuple[float, int, str]:
    instant = mtime_ns / 1e9
    local = datetime.fromtimestamp(instant)
    return instant, local_zone_offset_min(local), "file"


def describe_time(metadata_time: datetime, source: str, offset_min: int) -> str:
    """"2023-06-01 10:00 (UTC+01:00)", with what the time rests on when it is not EXIF's own."""
    sign = "+" if offset_min >= 0 else "-"
    zone = f"UTC{sign}{abs(offset_min) // 60:02d}:{abs(offset_min) % 60:02d}"
    text = metadata_time.strftime("%Y-%m-%d %H:%M")
    if source == "exif":
        return f"{text} ({zone})"
    if source == "exif-local":
        return f"{text} (time zone unknown)"
    return f"{text} (file time)"
