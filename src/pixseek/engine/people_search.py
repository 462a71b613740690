"""The person filter of a search: the photos that every person named is in (by name, any case,
or number), and, for a search of people alone, those photos ranked by how well they show them
(the mean of each person's best face quality in the photo, 0 to 1). Each person costs one scan
of the faces' index on (person, state, id, quality), never the face rows. Videos: the moments
that every person named is in, with the same measure (engine/video_search.py ranks them)."""

from __future__ import annotations

import numpy as np

from pixseek.engine.index import OpenIndex
from pixseek.people.store import People


def photos_with(index: OpenIndex, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(ids of the photos every person of `names` is in, ascending; how well each shows them);
    PersonNotFound names the first unknown person."""
    people = People(index.catalog.connection)
    return people.photos_with([people.find(name) for name in names])


def moments_with(index: OpenIndex, names: tuple[str, ...]) -> dict[int, dict[float, float]]:
    """Video id -> {second of each moment every person of `names` is in: how well it shows them}."""
    people = People(index.catalog.connection)
    return people.moments_with([people.find(name) for name in names])


def named_in(index: OpenIndex, ids: list[int]) -> dict[int, tuple[str, ...]]:
    """The named people in each of the photos `ids` that has any, by name."""
    return People(index.catalog.connection).named_in(ids)


def ranked(ids: np.ndarray, scores: np.ndarray, allowed: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """The photos of `ids` among `allowed` (None: all) and their scores, best shown first."""
    if allowed is not None:
        keep = np.isin(ids, allowed, assume_unique=True)
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))
    return ids[order], scores[order]
