"""Naming GPS positions offline: the nearest town of GeoNames' 155,000 places of 1,000 people or
more, from the table the `reverse_geocode` package ships (no network, ever).

It is done once, when a photo is indexed, and the names are stored in the catalog, so searches
never load the table (about 1 s and 100 MB the first time in a process). A position farther
than CITY_KM from any town keeps only its region and country, farther than REGION_KM nothing:
a photo at sea is not "in" the nearest island's village.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from collections.abc import Iterable

EARTH_RADIUS_KM = 6371.0088
CITY_KM = 50.0
REGION_KM = 200.0


@dataclass(frozen=True)
class Place:
    city: str  # "" when the position is too far from any town
    region: str  # state, province, Land...
    country: str
    country_code: str  # ISO 3166 alpha-2
    area: str = ""  # the county or municipality around the city, when GeoNames has one

    def describe(self) -> str:
        """"Lisbon, Portugal", "São Paulo, Lisbon, Portugal"."""
        parts = [self.city, self.region if self.region != self.city else "", self.country]
        return ", ".join(p for p in parts if p)

    def folded_names(self) -> tuple[tuple[str, ...], str]:
        """City, area, region and country, and the country code, folded for `names_match`."""
        names = tuple(fold(n) for n in (self.city, self.area, self.region, self.country) if n)
        return names, fold(self.country_code)


def names_match(wanted: str, names: tuple[str, ...], country_code: str) -> bool:
    """Whether folded words `wanted` name a place of these folded names: part of its city, area,
    region or country, or its country code ("sao paulo" matches "São Paulo", "pt" Portugal)."""
    return bool(wanted) and (any(wanted in name for name in names) or wanted == country_code)


def fold(text: str) -> str:
    """Lower case without accents, for matching names as people type them."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def name_places(positions: Iterable[tuple[float, float]]) -> list[Place | None]:
    """The place of each (latitude, longitude), None where it is too far from any town."""
    positions = list(positions)
    if not positions:
        return []
    import reverse_geocode

    named: list[Place | None] = []
    for (lat, lon), found in zip(positions, reverse_geocode.search(positions)):
        km = distance_km(lat, lon, found["latitude"], found["longitude"])
        if km > REGION_KM:
            named.append(None)
            continue
        city = found.get("city", "") if km <= CITY_KM else ""
        area = found.get("county", "") if km <= CITY_KM else ""
        named.append(Place(city, found.get("state", ""), found.get("country", ""), found.get("country_code", ""),
                           area))
    return named
