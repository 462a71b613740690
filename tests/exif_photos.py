"""Photos with EXIF made in the tests, through Pillow's own Exif API: capture times with and
without a UTC offset, cameras, lenses and GPS positions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from conftest import make_photo

EXIF_IFD = 0x8769
GPS_IFD = 0x8825


@dataclass(frozen=True)
class Shot:
    """What a camera wrote: None leaves a tag out."""

    taken: str | None = None  # "YYYY:MM:DD HH:MM:SS", the wall clock where the photo was taken
    offset: str | None = None  # "+01:00": the wall clock's offset from UTC
    make: str | None = None
    model: str | None = None
    lens: str | None = None
    gps: tuple[float, float] | None = None  # latitude, longitude in degrees
    orientation: int | None = None


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round((value - degrees - minutes / 60) * 3600, 4)
    return float(degrees), float(minutes), seconds


def exif_bytes(shot: Shot) -> bytes:
    exif = Image.Exif()
    for tag, value in ((0x010F, shot.make), (0x0110, shot.model), (0x0112, shot.orientation)):
        if value is not None:
            exif[tag] = value
    sub = exif.get_ifd(EXIF_IFD)
    for tag, value in ((0x9003, shot.taken), (0x9011, shot.offset), (0xA434, shot.lens)):
        if value is not None:
            sub[tag] = value
    if shot.gps is not None:
        gps = exif.get_ifd(GPS_IFD)
        lat, lon = shot.gps
        gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
        gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
    return exif.tobytes()


def shot_photo(path: Path, seed: int, shot: Shot, size=(320, 240), **save) -> Path:
    """A generated photo (conftest.make_photo's picture) saved with `shot`'s EXIF."""
    make_photo(path, seed, size)
    with Image.open(path) as image:
        image.load()
        image.save(path, exif=exif_bytes(shot), **save)
    return path
