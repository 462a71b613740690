"""The person filter of a search: the photos that every person named is in (by name, any case,
or number), and, for a search of people alone, those photos ranked by how well they show them
(the mean of each person's best face quality in the photo, 0 to 1)."""

from __future__ import annotations

import numpy as np

from pixseek.engine.index import OpenIndex
from pixseek.people.store import People
from pixseek.signals.faces import GROUPED

CHUNK = 5000  # photo ids bound in one query


def photos_with(index: OpenIndex, names: tuple[str, ...]) -> np.ndarray:
    """Ids of the photos every person of `names` is in, ascending; PersonNotFound names the
    first unknown one."""
    people = People(index.catalog.connection)
    return people.photos_with([people.find(name) for name in names])


def ranked(index: OpenIndex, names: tuple[str, ...], ids: np.ndarray) -> list[tuple[int, float]]:
    """(photo id, score) of `ids` (photos all `names` are in), best shown first."""
    people = People(index.catalog.connection)
    persons = [people.find(name) for name in names]
    best: dict[int, list[float]] = {}
    db = index.catalog.connection
    for start in range(0, len(ids), CHUNK):
        chunk = [int(i) for i in ids[start:start + CHUNK]]
        sql = (f"SELECT id, MAX(quality) FROM faces WHERE id IN ({','.join('?' * len(chunk))}) AND state = ? "
               f"AND person IN ({','.join('?' * len(persons))}) GROUP BY id, person")
        for id_, quality in db.execute(sql, [*chunk, GROUPED, *persons]):
            best.setdefault(int(id_), []).append(float(quality))
    found = [(id_, round(sum(q) / len(persons), 4)) for id_, q in best.items()]
    return sorted(found, key=lambda pair: (-pair[1], pair[0]))
