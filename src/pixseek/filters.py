"""Search filters: when (local calendar dates), which camera, where (a place's name, or a circle
around a position), under which folder. One plain dataclass that every face and the HTTP API
hand to `Library.search`, and one parser of the words people type for it.

Dates are compared with the wall-clock time where each photo was taken: a photo taken at
00:30 on 1 June in Lisbon is a June photo wherever it is searched from. Partial dates name a
period: "2023" is the year, "2023-06" the month; `after` includes its period's start and
`before` excludes its own period, so `after 2023-06, before 2023-09` is June to August.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar, overload

from pixseek import containment
from pixseek.errors import PixseekError, QueryError

DATE_FORMS = (("%Y", "year"), ("%Y-%m", "month"), ("%Y-%m-%d", "day"), ("%Y-%m-%d %H:%M", "minute"),
              ("%Y-%m-%dT%H:%M", "minute"), ("%Y-%m-%d %H:%M:%S", "second"), ("%Y-%m-%dT%H:%M:%S", "second"))
RADIUS = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(km|m|mi)?\s*$", re.IGNORECASE)
DEFAULT_RADIUS_KM = 5.0
MAX_TEXT = 200
MEDIA = ("photo", "video")  # what a search may be limited to

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class SearchFilters:
    """What results must be; every field left None lets everything through."""

    taken_from: datetime | None = None  # local wall-clock time, inclusive
    taken_until: datetime | None = None  # local wall-clock time, exclusive
    camera: str | None = None  # words in the camera's name ("Pixel 7", "canon")
    place: str | None = None  # words in the place's name: city, region, country ("Lisbon")
    near: tuple[float, float] | None = None  # (latitude, longitude) in degrees
    radius_km: float = DEFAULT_RADIUS_KM  # with `near`
    folder: str | None = None  # absolute path of a folder: only photos under it
    media: str | None = None  # "photo" or "video": only that kind (None: both)

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) is not None for f in fields(self) if f.name != "radius_km")

    @property
    def needs_metadata(self) -> bool:
        """Whether these filters read the photos' metadata (the folder filter reads only paths)."""
        return replace(self, folder=None, media=None).active

    def describe(self) -> list[str]:
        """Each active filter in a few words (for chips, titles, messages)."""
        parts = []
        if self.taken_from is not None:
            parts.append(f"from {_show(self.taken_from)}")
        if self.taken_until is not None:
            parts.append(f"before {_show(self.taken_until)}")
        if self.camera is not None:
            parts.append(f"camera: {self.camera}")
        if self.place is not None:
            parts.append(f"place: {self.place}")
        if self.near is not None:
            parts.append(f"within {self.radius_km:g} km of {self.near[0]:.5f}, {self.near[1]:.5f}")
        if self.folder is not None:
            parts.append(f"in {self.folder}")
        if self.media is not None:
            parts.append(f"{self.media}s only")
        return parts

    @classmethod
    def parse(cls, after: str | None = None, before: str | None = None, year: str | int | None = None,
              camera: str | None = None, place: str | None = None, near: str | None = None,
              radius: str | None = None, folder: str | None = None, media: str | None = None) -> SearchFilters:
        """Filters from the words people type (CLI options, web fields, API parameters); a
        QueryError says what is wrong with every one of them, in one line. Empty strings count as
        not given, but for `folder`, where an empty path would mean the current folder."""
        after, before, camera, place, near, radius = (_given(v) for v in (after, before, camera, place, near, radius))
        problems: list[str] = []

        def checked(read: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T | None:
            try:
                return read(*args, **kwargs)
            except PixseekError as error:
                problems.append(str(error))
                return None

        def start_of(text: str | None, which: str) -> datetime | None:
            found = checked(period, text, which) if text else None
            return found[0] if found else None

        taken_from, taken_until = start_of(after, "after"), start_of(before, "before")
        if _given(year) is not None:
            if not re.fullmatch(r"\d{4}", str(year).strip()):
                problems.append(f"year must be four digits, like 2021 (got {year!r})")
            else:
                start, end = period(str(year).strip(), "year")
                taken_from = max(taken_from, start) if taken_from else start
                taken_until = min(taken_until, end) if taken_until else end
        if taken_from and taken_until and taken_from >= taken_until:
            problems.append(f"no date is both from {_show(taken_from)} and before {_show(taken_until)}")
        position = checked(parse_position, near) if near else None
        media = _given(media)
        if media is not None and media.lower() not in MEDIA:
            problems.append(f"type must be photo or video (got {media[:MAX_TEXT]!r})")
        if radius and not near:
            problems.append("a radius needs a position to be around (near LAT,LON)")
        made = cls(taken_from, taken_until, checked(_words, camera, "camera"), checked(_words, place, "place"),
                   position, (checked(parse_radius, radius) if radius else None) or DEFAULT_RADIUS_KM,
                   checked(containment.absolute, folder) if folder is not None else None,
                   media.lower() if media is not None and media.lower() in MEDIA else None)
        if problems:
            raise QueryError("; ".join(problems))
        return made


@overload
def _given(value: str | None) -> str | None: ...
@overload
def _given(value: int) -> int: ...


def _given(value: str | int | None) -> str | int | None:
    if value is None:
        return None
    return value.strip() or None if isinstance(value, str) else value


def _words(text: str | None, what: str) -> str | None:
    if text is not None and len(text) > MAX_TEXT:
        raise QueryError(f"the {what} is too long ({len(text)} characters; at most {MAX_TEXT})")
    return text


def _show(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d" if moment.time() == datetime.min.time() else "%Y-%m-%d %H:%M")


def period(text: str, what: str = "date") -> tuple[datetime, datetime]:
    """The period a (partial) date names: [start, end). "2023-06" -> June 2023."""
    for form, unit in DATE_FORMS:
        try:
            start = datetime.strptime(text, form)
        except ValueError:
            continue
        return start, _next(start, unit)
    raise QueryError(f"{what} {text!r} is not a date: use YYYY, YYYY-MM, YYYY-MM-DD or 'YYYY-MM-DD HH:MM'")


def _next(start: datetime, unit: str) -> datetime:
    if unit == "year":
        return start.replace(year=start.year + 1) if start.year < 9999 else datetime.max
    if unit == "month":
        return start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1) \
            if (start.year, start.month) != (9999, 12) else datetime.max
    step = {"day": timedelta(days=1), "minute": timedelta(minutes=1), "second": timedelta(seconds=1)}[unit]
    return start + step if start < datetime.max - step else datetime.max


def parse_position(text: str) -> tuple[float, float]:
    """"38.7169,-9.1399" (or with a space) -> (latitude, longitude)."""
    parts = [p for p in re.split(r"[,\s]+", text.strip()) if p]
    try:
        lat, lon = (float(p) for p in parts)
    except ValueError:
        raise QueryError(f"position {text!r} is not LAT,LON in degrees, like 38.7169,-9.1399") from None
    if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90 and -180 <= lon <= 180):
        raise QueryError(f"position {text!r} is off the map: latitude -90..90, longitude -180..180")
    return lat, lon


def parse_radius(text: str) -> float:
    """"5km", "500m", "2 mi", "5" (km) -> kilometres."""
    match = RADIUS.match(text)
    if not match:
        raise QueryError(f"radius {text!r} is not a distance, like 5km, 500m or 2mi")
    value = float(match.group(1)) * {"km": 1.0, "m": 0.001, "mi": 1.609344}[(match.group(2) or "km").lower()]
    if not 0 < value <= 20_038:
        raise QueryError(f"radius {text!r} must be more than 0 and at most half the Earth's circumference")
    return value
