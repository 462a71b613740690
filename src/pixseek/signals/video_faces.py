"""The faces in video moments: found in the frames the video pass decodes for its moments, by the
same face model as photos' faces, and stored in the same `faces` table (its `id` the video's, so
grouping puts them into the same people), with two tables of their own here:

- `face_moments`: the second of each video face, and its *label key* (the video's content hash
  and that second, hashed): what a photo's content hash is to its faces' corrections, so a name
  or a split survives a reindex or another face model as a photo's does (people/grouping.py);
- `moment_faces_read`: a row per moment looked at, with the face model's name, so a moment is
  looked at again when the model changes, and the faces of a part are committed with it.

Video ids (signals/video.py's VIDEO_IDS on) are never photo ids: a face row names one thing.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from pixseek.signals.faces import TO_GROUP
from pixseek.store.sqlite import rows_for

if TYPE_CHECKING:
    from pixseek.model.faces import Face

SCHEMA = """
CREATE TABLE IF NOT EXISTS face_moments (
    face INTEGER PRIMARY KEY, seconds REAL NOT NULL, label_key BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS moment_faces_read (
    video INTEGER NOT NULL, seconds REAL NOT NULL, finder TEXT NOT NULL, PRIMARY KEY (video, seconds)
);
"""


def label_key(content: bytes, seconds: float) -> bytes:
    """A moment's stand-in for a photo's content hash: the same content at the same second."""
    return hashlib.blake2b(content + f"@{seconds:.3f}".encode(), digest_size=16).digest()


class MomentFaces:
    """The faces of video moments, on one connection; writes inside the caller's transaction."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def write(self, video: int, content: bytes, finder: str, found: Sequence[tuple[float, Sequence[Face]]]) -> int:
        """The faces found at each moment of `found` ((seconds, faces) pairs), replacing any the
        moment had (another model's); the number of faces written."""
        self._clear(video, [seconds for seconds, _ in found])
        self.db.executemany("INSERT OR REPLACE INTO moment_faces_read (video, seconds, finder) VALUES (?, ?, ?)",
                            [(video, float(seconds), finder) for seconds, _ in found])
        written = 0
        for seconds, faces in found:
            for face in faces:
                cursor = self.db.execute(
                    "INSERT INTO faces (id, x1, y1, x2, y2, landmarks, score, quality, embedding, person, state) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
                    (video, *face.box, json.dumps(face.landmarks), face.score, face.quality,
                     np.asarray(face.embedding, dtype=np.float32).tobytes(), TO_GROUP))
                self.db.execute("INSERT INTO face_moments (face, seconds, label_key) VALUES (?, ?, ?)",
                                (cursor.lastrowid, float(seconds), label_key(content, seconds)))
                written += 1
        return written

    def _clear(self, video: int, seconds: list[float]) -> None:
        """The faces stored at these moments of `video` (found by another model) leave."""
        gone = [(int(face),) for s in seconds for (face,) in self.db.execute(
            "SELECT m.face FROM faces g JOIN face_moments m ON m.face = g.face WHERE g.id = ? AND m.seconds = ?",
            (video, float(s)))]
        self.db.executemany("DELETE FROM face_moments WHERE face = ?", gone)
        self.db.executemany("DELETE FROM faces WHERE face = ?", gone)

    def unread(self, finder: str) -> dict[int, list[float]]:
        """Video id -> the seconds of its moments not looked at by `finder`, in order."""
        found: dict[int, list[float]] = {}
        for video, seconds in self.db.execute(
                "SELECT m.video, m.seconds FROM moments m LEFT JOIN moment_faces_read r ON r.video = m.video "
                "AND r.seconds = m.seconds AND r.finder = ? WHERE r.video IS NULL ORDER BY m.video, m.seconds",
                (finder,)):
            found.setdefault(int(video), []).append(float(seconds))
        return found

    def copy(self, source: int, target: int, finder: str) -> None:
        """A copy of a video takes the faces its source's moments have from `finder` (to be grouped)."""
        seconds = [s for (s,) in self.db.execute("SELECT seconds FROM moment_faces_read WHERE video = ? AND finder = ?",
                                                   (source, finder))]
        self.db.executemany("INSERT OR REPLACE INTO moment_faces_read (video, seconds, finder) VALUES (?, ?, ?)",
                            [(target, s, finder) for s in seconds])
        for face, seconds_, key in self.db.execute(
                "SELECT m.face, m.seconds, m.label_key FROM face_moments m JOIN faces g ON g.face = m.face "
                "JOIN moment_faces_read r ON r.video = g.id AND r.seconds = m.seconds AND r.finder = ? "
                "WHERE g.id = ? ORDER BY m.face", (finder, source)).fetchall():
            cursor = self.db.execute(
                "INSERT INTO faces (id, x1, y1, x2, y2, landmarks, score, quality, embedding, person, state) "
                "SELECT ?, x1, y1, x2, y2, landmarks, score, quality, embedding, NULL, ? FROM faces WHERE face = ?",
                (target, TO_GROUP, face))
            self.db.execute("INSERT INTO face_moments (face, seconds, label_key) VALUES (?, ?, ?)",
                            (cursor.lastrowid, seconds_, key))

    def delete(self, videos: Iterable[int]) -> None:
        """Every face of these videos' moments, and the record of their moments looked at."""
        pairs = [(v,) for v in videos]
        self.db.executemany("DELETE FROM face_moments WHERE face IN (SELECT face FROM faces WHERE id = ?)", pairs)
        self.db.executemany("DELETE FROM faces WHERE id = ?", pairs)
        self.db.executemany("DELETE FROM moment_faces_read WHERE video = ?", pairs)

    def seconds_of(self, faces: Iterable[int]) -> dict[int, float]:
        """Face id -> the second of its video where it is (faces of photos are not in it)."""
        return {int(f): float(s) for f, s in rows_for(self.db, "SELECT face, seconds FROM face_moments "
                                                               "WHERE face IN ({})", faces)}
