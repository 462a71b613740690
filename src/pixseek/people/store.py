"""People as a person sees them: list, find by name, name, merge, split a face out, "not a face",
forget everything; and the photos, and the video moments, a set of people are all in (the
search's person filter). A face in a video is a face row whose id is the video's, with its
second (signals/video_faces.py); its label is keyed by that moment instead of a photo's content.

Every correction is also written as a *label*: the photo's content hash and the face's box,
with the person it belongs to (or "not a face"). Face rows come and go (a changed model finds
them again, a reindex makes a new catalog); a label finds its face again by content and an
overlapping box (grouping.py), so names, merges and splits survive. Naming a person labels
every face it holds then; merging relabels both; splitting labels the face alone.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from pixseek.errors import QueryError
from pixseek.people.grouping import SAME_FACE, overlap
from pixseek.signals.faces import GROUPED, NOT_A_FACE, SETTING_KEY
from pixseek.signals.video import VIDEO_IDS
from pixseek.store.sqlite import decode_path, rows_for

MAX_NAME = 100
T = TypeVar("T")


class PersonNotFound(QueryError):
    """A person named (by name or number) that the index does not know."""


@dataclass(frozen=True)
class Person:
    id: int
    name: str | None
    faces: int
    photos: int
    cover: int | None  # the face that shows the person best (highest quality)

    def describe(self) -> str:
        return f"{self.name or f'person {self.id}'}: {self.faces} face{'s' if self.faces != 1 else ''} " \
               f"in {self.photos} photo{'s' if self.photos != 1 else ''}"

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "faces": self.faces, "photos": self.photos, "cover": self.cover}


@dataclass(frozen=True)
class FaceInfo:
    id: int
    photo_id: int
    path: str
    box: tuple[float, float, float, float]
    score: float
    quality: float
    person: int | None
    not_face: bool
    seconds: float | None = None  # a face in a video: the moment's second (`photo_id` is the video's id)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.id, "photo_id": self.photo_id, "path": self.path, "box": list(self.box),
                "score": self.score, "quality": self.quality, "person": self.person, "not_face": self.not_face,
                "seconds": self.seconds}


def check_name(name: str) -> str:
    body = " ".join(str(name).split())
    if not body:
        raise QueryError("a person's name must not be empty")
    if len(body) > MAX_NAME:
        raise QueryError(f"a person's name is at most {MAX_NAME} characters")
    return body


class People:
    """On one connection of the catalog: reads anywhere, corrections in a transaction of their own."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def _holds(self) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'people'").fetchone() is not None

    # -- reading ------------------------------------------------------------------------------

    def all(self, named_only: bool = False, only: int | None = None) -> list[Person]:
        """Every person with a face (and every named one), the most photographed first (`only`:
        that person alone, if it is one)."""
        if not self._holds():
            return []
        where = "WHERE p.person = ? " if only is not None else ""
        rows = self.db.execute(
            "SELECT p.person, p.name, COUNT(g.face), COUNT(DISTINCT g.id), "
            " (SELECT face FROM faces WHERE person = p.person AND state = ? ORDER BY quality DESC LIMIT 1) "
            f"FROM people p LEFT JOIN faces g ON g.person = p.person AND g.state = ? {where}"
            "GROUP BY p.person HAVING COUNT(g.face) > 0 OR p.name IS NOT NULL "
            "ORDER BY COUNT(DISTINCT g.id) DESC, p.person", (GROUPED, GROUPED, *([only] if only is not None else [])))
        people = [Person(int(p), name, int(faces), int(photos), cover) for p, name, faces, photos, cover in rows]
        return [p for p in people if p.name] if named_only else people

    def find(self, key: str | int) -> int:
        """The person called `key` (any case), or numbered so ("12", "#12"); PersonNotFound else."""
        text = str(key).strip()
        if self._holds():
            row = self.db.execute("SELECT person FROM people WHERE name = ? COLLATE NOCASE", (text,)).fetchone()
            if row:
                return int(row[0])
            number = text.lstrip("#")
            if number.isascii() and number.isdigit() and int(number) < 2**63:
                row = self.db.execute("SELECT person FROM people WHERE person = ?", (int(number),)).fetchone()
                if row:
                    return int(row[0])
        raise PersonNotFound(f"no person called {text!r} in this index (list them: people)")

    def person(self, person: int) -> Person:
        found = self.all(only=person)
        if not found:
            raise PersonNotFound(f"no person {person} in this index")
        return found[0]

    def faces(self, person: int | None = None, photo: int | None = None, limit: int = 1000) -> list[FaceInfo]:
        """The faces of a person (best first) or of a photo (largest first)."""
        if not self._holds():
            return []
        where, params = ("g.person = ? AND g.state = ?", [person, GROUPED]) if person is not None else ("g.id = ?", [photo])
        order = "g.quality DESC" if person is not None else "(g.x2 - g.x1) * (g.y2 - g.y1) DESC"
        rows = self.db.execute(  # a face is a photo's, or a video moment's (signals/video_faces.py)
            f"SELECT g.face, g.id, COALESCE(f.path, v.path), g.x1, g.y1, g.x2, g.y2, g.score, g.quality, g.person, "
            f"g.state, m.seconds FROM faces g LEFT JOIN files f ON f.id = g.id LEFT JOIN videos v ON v.id = g.id "
            f"LEFT JOIN face_moments m ON m.face = g.face WHERE {where} AND COALESCE(f.path, v.path) IS NOT NULL "
            f"ORDER BY {order} LIMIT ?", [*params, int(limit)])
        return [FaceInfo(int(face), int(photo_id), decode_path(path), (x1, y1, x2, y2), score, quality, person_id,
                         state == NOT_A_FACE, seconds)
                for face, photo_id, path, x1, y1, x2, y2, score, quality, person_id, state, seconds in rows]

    def face(self, face: int) -> FaceInfo:
        rows = self.db.execute("SELECT id FROM faces WHERE face = ?", (int(face),)).fetchone() if self._holds() else None
        if rows is None:
            raise PersonNotFound(f"no face {face} in this index")
        return next(f for f in self.faces(photo=int(rows[0])) if f.id == int(face))

    def named_in(self, photos: list[int]) -> dict[int, tuple[str, ...]]:
        """The named people in each photo of `photos` that has any, sorted by name."""
        if not photos or not self._holds():
            return {}
        found: dict[int, set[str]] = {}
        for photo, name in rows_for(self.db, "SELECT g.id, p.name FROM faces g JOIN people p ON p.person = g.person "
                                             f"WHERE g.id IN ({{}}) AND g.state = {GROUPED} AND p.name IS NOT NULL",
                                    photos):
            found.setdefault(int(photo), set()).add(str(name))
        return {photo: tuple(sorted(names, key=str.casefold)) for photo, names in found.items()}

    def best_faces(self, person: int) -> tuple[np.ndarray, np.ndarray]:
        """(photo ids ascending, the quality of the person's best face in each): one scan of
        the index on (person, state, id, quality), never the rows."""
        rows = self.db.execute("SELECT id, MAX(quality) FROM faces WHERE person = ? AND state = ? AND id < ? "
                               "GROUP BY id", (person, GROUPED, VIDEO_IDS)).fetchall()
        ids = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        return ids, np.fromiter((r[1] for r in rows), dtype=np.float32, count=len(rows))

    def photos_with(self, people: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(ids of the photos every one of `people` is in, ascending; the mean of their best
        face's quality in each)."""
        found: tuple[np.ndarray, np.ndarray] | None = None
        for person in people:
            ids, quality = self.best_faces(person)
            if found is None:
                found = ids, quality
                continue
            kept, mine, theirs = np.intersect1d(found[0], ids, assume_unique=True, return_indices=True)
            found = kept, found[1][mine] + quality[theirs]
        if found is None:
            return np.array([], dtype=np.int64), np.array([], dtype=np.float32)
        return found[0], found[1] / len(people)

    def moments_with(self, people: Sequence[int]) -> dict[int, dict[float, float]]:
        """Video id -> {second of a moment every one of `people` is in: the mean of their best
        face's quality there}."""
        found: dict[tuple[int, float], float] | None = None
        for person in people:
            mine = {(int(v), float(s)): float(q) for v, s, q in self.db.execute(
                "SELECT g.id, m.seconds, MAX(g.quality) FROM faces g JOIN face_moments m ON m.face = g.face "
                "WHERE g.person = ? AND g.state = ? AND g.id >= ? GROUP BY g.id, m.seconds",
                (person, GROUPED, VIDEO_IDS))}
            found = mine if found is None else {key: found[key] + q for key, q in mine.items() if key in found}
        videos: dict[int, dict[float, float]] = {}
        for (video, seconds), quality in (found or {}).items():
            videos.setdefault(video, {})[seconds] = quality / len(people)
        return videos

    def counts(self) -> tuple[int, int, int, int]:
        """(faces found, in photos and videos; photos with a face; videos with a face; people)."""
        if not self._holds():
            return 0, 0, 0, 0
        faces, photos, videos = self.db.execute(
            "SELECT COUNT(*), COUNT(DISTINCT CASE WHEN id < ? THEN id END), COUNT(DISTINCT CASE WHEN id >= ? THEN id "
            "END) FROM faces WHERE state != ?", (VIDEO_IDS, VIDEO_IDS, NOT_A_FACE)).fetchone()
        return int(faces), int(photos), int(videos), len(self.all())

    # -- corrections (each in its own transaction) ------------------------------------------------

    def _run(self, change: Callable[[], T]) -> T:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            result = change()
            self.db.execute("COMMIT")
            return result
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    def name(self, person: int, name: str) -> None:
        """Call `person` `name`; a name another person has is refused (merge them instead)."""
        name = check_name(name)

        def change() -> None:
            taken = self.db.execute("SELECT person FROM people WHERE name = ? COLLATE NOCASE AND person != ?",
                                    (name, person)).fetchone()
            if taken:
                raise QueryError(f"person {taken[0]} is already called {name!r}; merge the two instead")
            if not self.db.execute("UPDATE people SET name = ? WHERE person = ?", (name, person)).rowcount:
                raise PersonNotFound(f"no person {person} in this index")
            self._label(self._faces_of(person), person)

        self._run(change)

    def merge(self, into: int, other: int) -> None:
        """Move every face of `other` to `into`; `other` goes (its name too, unless `into` has none)."""
        if into == other:
            raise QueryError("a person cannot be merged with itself")

        def change() -> None:
            rows = {r[0]: r for r in self.db.execute(
                "SELECT person, name, total, members FROM people WHERE person IN (?, ?)", (into, other))}
            for person in (into, other):
                if person not in rows:
                    raise PersonNotFound(f"no person {person} in this index")
            self.db.execute("UPDATE faces SET person = ? WHERE person = ?", (into, other))
            self.db.execute("UPDATE face_labels SET person = ? WHERE person = ?", (into, other))
            total = _add(rows[into][2], rows[other][2])
            name = rows[into][1] or rows[other][1]
            self.db.execute("DELETE FROM people WHERE person = ?", (other,))
            self.db.execute("UPDATE people SET name = ?, total = ?, members = ? WHERE person = ?",
                            (name, total, rows[into][3] + rows[other][3], into))
            self._label(self._faces_of(into), into)

        self._run(change)

    def split(self, face: int, to: int | None = None) -> int:
        """Take `face` out of its person, into person `to` or a new one; the person it is now in."""
        def change() -> int:
            row = self.db.execute("SELECT person, embedding FROM faces WHERE face = ?", (face,)).fetchone()
            if row is None:
                raise PersonNotFound(f"no face {face} in this index")
            if to is not None and not self.db.execute("SELECT 1 FROM people WHERE person = ?", (to,)).fetchone():
                raise PersonNotFound(f"no person {to} in this index")
            vector = np.frombuffer(row[1], dtype=np.float32)
            if row[0] is not None:
                self._move_centre(int(row[0]), -vector, -1)
            target = to if to is not None else int(self.db.execute(
                "INSERT INTO people (name, total, members) VALUES (NULL, NULL, 0)").lastrowid or 0)
            self._move_centre(target, vector, 1)
            self.db.execute("UPDATE faces SET person = ?, state = ? WHERE face = ?", (target, GROUPED, face))
            self._label([face], target)
            return target

        return self._run(change)

    def not_a_face(self, face: int) -> None:
        """Mark `face` as no face: it leaves its person and every list, now and after later runs."""
        def change() -> None:
            row = self.db.execute("SELECT person, embedding FROM faces WHERE face = ?", (face,)).fetchone()
            if row is None:
                raise PersonNotFound(f"no face {face} in this index")
            if row[0] is not None:
                self._move_centre(int(row[0]), -np.frombuffer(row[1], dtype=np.float32), -1)
            self.db.execute("UPDATE faces SET person = NULL, state = ? WHERE face = ?", (NOT_A_FACE, face))
            self._label([face], None, not_face=True)

        self._run(change)

    def forget(self) -> int:
        """Remove every face, person, name and correction, and stop finding faces in this index;
        the number of faces removed. SQLite's secure_delete overwrites the freed pages with zeros
        (the embeddings are not left in the file's free pages), and a checkpoint writes them to
        the catalog itself: the cost of the face data, not of the whole catalog."""
        def change() -> int:
            count = int(self.db.execute("SELECT COUNT(*) FROM faces").fetchone()[0])
            for table in ("faces", "faces_read", "people", "face_labels", "face_moments", "moment_faces_read"):
                self.db.execute(f"DELETE FROM {table}")
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, 'no')", (SETTING_KEY,))
            return count

        self.db.execute("PRAGMA secure_delete = ON")
        try:
            count = self._run(change)
        finally:
            self.db.execute("PRAGMA secure_delete = OFF")
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return count

    def tidy(self) -> None:
        """Drop people left with no face, no name and no correction (their faces went with their photos)."""
        self._run(lambda: self.db.execute(
            "DELETE FROM people WHERE name IS NULL AND person NOT IN (SELECT person FROM faces WHERE person IS NOT NULL) "
            "AND person NOT IN (SELECT person FROM face_labels WHERE person IS NOT NULL)"))

    # -- inside a correction's transaction ---------------------------------------------------------

    def _faces_of(self, person: int) -> list[int]:
        return [int(r[0]) for r in self.db.execute("SELECT face FROM faces WHERE person = ? AND state = ?",
                                                   (person, GROUPED))]

    def _move_centre(self, person: int, vector: np.ndarray, count: int) -> None:
        row = self.db.execute("SELECT total, members FROM people WHERE person = ?", (person,)).fetchone()
        if row is None:
            return
        total = _add(row[0], vector.astype(np.float32).tobytes())
        self.db.execute("UPDATE people SET total = ?, members = ? WHERE person = ?",
                        (total, max(0, row[1] + count), person))

    def _label(self, faces: list[int], person: int | None, not_face: bool = False) -> None:
        """Record the correction for each face, replacing any earlier one of the same face."""
        for face in faces:
            row = self.db.execute("SELECT COALESCE(f.hash, m.label_key), g.x1, g.y1, g.x2, g.y2 FROM faces g "
                                  "LEFT JOIN files f ON f.id = g.id LEFT JOIN face_moments m ON m.face = g.face "
                                  "WHERE g.face = ?", (face,)).fetchone()
            if row is None or row[0] is None:
                continue
            hash_, box = row[0], tuple(row[1:])
            for rowid, *old in self.db.execute("SELECT rowid, x1, y1, x2, y2 FROM face_labels WHERE hash = ?",
                                               (hash_,)).fetchall():
                if overlap(tuple(old), box) >= SAME_FACE:
                    self.db.execute("DELETE FROM face_labels WHERE rowid = ?", (rowid,))
            self.db.execute("INSERT INTO face_labels (hash, x1, y1, x2, y2, person, not_face) VALUES (?, ?, ?, ?, ?, ?, ?)",
                            (hash_, *box, person, int(not_face)))


def _add(a: bytes | None, b: bytes | None) -> bytes | None:
    """The sum of two stored vector sums (None: none)."""
    if a is None or b is None:
        return a if b is None else b
    if len(a) != len(b):  # sums of two face models: keep the later's
        return b
    return (np.frombuffer(a, dtype=np.float32) + np.frombuffer(b, dtype=np.float32)).astype(np.float32).tobytes()

