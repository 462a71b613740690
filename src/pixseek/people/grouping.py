"""Grouping new faces into people, incrementally: a face joins the person whose centre (the
normalised sum of its faces' vectors) is nearest, if their cosine reaches the pack's published
`match_threshold`, else it starts a new person. Nothing already grouped moves: a large library
is never clustered again, and a run costs what its new faces cost.

Each batch of GROUP_BATCH faces waiting (state "to group") is one transaction. Within it:
faces a correction names (a label on the photo's content and an overlapping box) go where the
correction says, first; faces below MIN_QUALITY (small, blurred, in profile) are left out of
people (kept, shown with their photo); the others are matched against every centre at once (one
matrix product), and those that match none against the people started in this batch, one by
one. The centres move after the batch.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass

import numpy as np

from pixseek.signals.faces import GROUPED, LEFT_OUT, NOT_A_FACE, TO_GROUP

GROUP_BATCH = 1000  # faces grouped per transaction
MIN_QUALITY = 0.25  # faces below it are kept, not grouped (model/faces.py `quality`)
SAME_FACE = 0.5  # intersection over union of a label's box and a face's: the same face


def overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two boxes (x1, y1, x2, y2)."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@dataclass
class Label:
    box: tuple[float, float, float, float]
    person: int | None
    not_face: bool


def label_for(labels: list[Label], box: tuple[float, ...]) -> Label | None:
    """The correction whose box overlaps `box` most, if it is the same face."""
    best = max(labels, key=lambda label: overlap(label.box, box), default=None)
    return best if best is not None and overlap(best.box, box) >= SAME_FACE else None


class Centres:
    """Every person's sum of vectors and count, in memory for a run; written back per batch."""

    def __init__(self, db: sqlite3.Connection, dim: int):
        self.db, self.dim = db, dim
        rows = db.execute("SELECT person, total, members FROM people").fetchall()
        self.ids = np.array([r[0] for r in rows], dtype=np.int64)
        self.totals = np.zeros((len(rows), dim), dtype=np.float32)
        for row, (_, total, members) in enumerate(rows):
            if total is not None and members and len(total) == dim * 4:
                self.totals[row] = np.frombuffer(total, dtype=np.float32)
        self.members = np.array([r[2] if r[1] is not None and len(r[1]) == dim * 4 else 0 for r in rows],
                                dtype=np.int64)
        self.row_of = {int(p): i for i, p in enumerate(self.ids)}
        self.changed: set[int] = set()
        self.new: dict[int, tuple[np.ndarray, int]] = {}  # people started in this batch: sum, count
        self._unit = self._normalised()

    def _normalised(self) -> np.ndarray:
        norms = np.linalg.norm(self.totals, axis=1, keepdims=True)
        unit: np.ndarray = np.where(norms > 0, self.totals / np.maximum(norms, 1e-12), 0).astype(np.float32)
        return unit

    def nearest(self, vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row of the nearest centre, cosine) for each vector; row -1 where there is no centre."""
        if not len(self.ids) or not self.members.any():
            return np.full(len(vectors), -1), np.full(len(vectors), -np.inf, dtype=np.float32)
        scores = vectors @ self._unit.T
        scores[:, self.members == 0] = -np.inf
        rows = scores.argmax(axis=1)
        return rows, scores[np.arange(len(vectors)), rows]

    def add(self, person: int, vector: np.ndarray) -> None:
        row = self.row_of.get(person)
        if row is None:  # a person new in this batch: its row is made when the batch is saved
            total, members = self.new.get(person, (np.zeros(self.dim, dtype=np.float32), 0))
            self.new[person] = (total + vector, members + 1)
        else:
            self.totals[row] += vector
            self.members[row] += 1
            self.changed.add(person)

    def _append_new(self) -> None:
        """The rows of the people started in this batch, added at once (not one copy of every
        array per new person)."""
        if not self.new:
            return
        start = len(self.ids)
        self.ids = np.concatenate([self.ids, np.fromiter(self.new, dtype=np.int64, count=len(self.new))])
        self.totals = np.vstack([self.totals, np.stack([total for total, _ in self.new.values()])])
        self.members = np.concatenate([self.members, [members for _, members in self.new.values()]]).astype(np.int64)
        self._unit = np.vstack([self._unit, np.zeros((len(self.new), self.dim), dtype=np.float32)])
        for offset, person in enumerate(self.new):
            self.row_of[person] = start + offset
        self.changed.update(self.new)
        self.new.clear()

    def new_person(self) -> int:
        cursor = self.db.execute("INSERT INTO people (name, total, members) VALUES (NULL, NULL, 0)")
        return int(cursor.lastrowid or 0)

    def save(self) -> None:
        """Write the changed centres (inside the batch's transaction) and move them in memory."""
        self._append_new()
        rows = [self.row_of[p] for p in self.changed]
        self.db.executemany("UPDATE people SET total = ?, members = ? WHERE person = ?",
                            [(self.totals[r].tobytes(), int(self.members[r]), int(self.ids[r])) for r in rows])
        if rows:
            norms = np.linalg.norm(self.totals[rows], axis=1, keepdims=True)
            self._unit[rows] = self.totals[rows] / np.maximum(norms, 1e-12)
        self.changed.clear()


def group_pending(db: sqlite3.Connection, threshold: float, cancel: threading.Event | None = None,
                  batch: int = GROUP_BATCH) -> int:
    """Group every face waiting to be (see the module's docstring), a transaction a batch; the
    number grouped (left out and "not a face" ones included). Call outside a transaction."""
    dim_row = db.execute("SELECT length(embedding) FROM faces WHERE state = ? LIMIT 1", (TO_GROUP,)).fetchone()
    if dim_row is None:
        return 0
    centres = Centres(db, int(dim_row[0]) // 4)
    done = 0
    for labelled in (True, False):
        while cancel is None or not cancel.is_set():
            db.execute("BEGIN IMMEDIATE")
            try:
                count = _group_batch(db, centres, threshold, batch, labelled)
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            if not count:
                break
            done += count
    return done


def _group_batch(db: sqlite3.Connection, centres: Centres, threshold: float, batch: int, labelled: bool) -> int:
    """Group one batch of waiting faces (`labelled`: of photos a correction names); their number."""
    only = " AND COALESCE(f.hash, m.label_key) IN (SELECT hash FROM face_labels)" if labelled else ""
    rows = db.execute(  # a video's face is labelled by its moment (signals/video_faces.py)
        "SELECT g.face, g.x1, g.y1, g.x2, g.y2, g.quality, g.embedding, COALESCE(f.hash, m.label_key) FROM faces g "
        "LEFT JOIN files f ON f.id = g.id LEFT JOIN face_moments m ON m.face = g.face "
        f"WHERE g.state = ? AND (f.id IS NOT NULL OR m.face IS NOT NULL){only} ORDER BY g.face LIMIT ?",
        (TO_GROUP, batch)).fetchall()
    if not rows:
        return 0
    labels = _labels(db, {r[7] for r in rows})
    known = set(int(p) for p in centres.ids)
    updates: list[tuple[int | None, int, int]] = []  # (person, state, face)
    matching: list[tuple[int, np.ndarray]] = []
    for face, x1, y1, x2, y2, quality, embedding, hash_ in rows:
        vector = np.frombuffer(embedding, dtype=np.float32)
        label = label_for(labels.get(hash_, []), (x1, y1, x2, y2))
        if label is not None and label.not_face:
            updates.append((None, NOT_A_FACE, face))
        elif label is not None and label.person in known:
            assert label.person is not None
            centres.add(label.person, vector)
            updates.append((label.person, GROUPED, face))
        elif quality < MIN_QUALITY:
            updates.append((None, LEFT_OUT, face))
        else:
            matching.append((face, vector))
    if matching:
        vectors = np.stack([v for _, v in matching])
        nearest, scores = centres.nearest(vectors)
        started = Started(len(matching), vectors.shape[1])
        for (face, vector), row, score in zip(matching, nearest, scores):
            if row >= 0 and score >= threshold:
                person = int(centres.ids[row])
            else:
                person = started.join(vector, threshold) or started.start(centres.new_person(), vector)
            centres.add(person, vector)
            updates.append((person, GROUPED, face))
    db.executemany("UPDATE faces SET person = ?, state = ? WHERE face = ?", updates)
    centres.save()
    return len(rows)


class Started:
    """The people started in one batch, matched one face at a time (the batch's matrix product
    could not see them): their sums of vectors, in an array the batch's size."""

    def __init__(self, most: int, dim: int):
        self.people: list[int] = []
        self.totals = np.zeros((most, dim), dtype=np.float32)

    def join(self, vector: np.ndarray, threshold: float) -> int | None:
        """The person started here whose centre `vector` matches best, if any reaches `threshold`."""
        count = len(self.people)
        if not count:
            return None
        totals = self.totals[:count]
        scores = totals @ vector / np.maximum(np.linalg.norm(totals, axis=1), 1e-12)
        best = int(scores.argmax())
        if scores[best] < threshold:
            return None
        self.totals[best] += vector
        return self.people[best]

    def start(self, person: int, vector: np.ndarray) -> int:
        self.totals[len(self.people)] = vector
        self.people.append(person)
        return person


def _labels(db: sqlite3.Connection, hashes: set[bytes]) -> dict[bytes, list[Label]]:
    found: dict[bytes, list[Label]] = {}
    for hash_ in hashes:
        for x1, y1, x2, y2, person, not_face in db.execute(
                "SELECT x1, y1, x2, y2, person, not_face FROM face_labels WHERE hash = ?", (hash_,)):
            found.setdefault(hash_, []).append(Label((x1, y1, x2, y2), person, bool(not_face)))
    return found
