"""The faces in a photo: each one's box, five landmarks, detection score, quality and identity
vector (model/faces.py), stored a row a face; and the people they are grouped into.

Finding faces costs more than the CLIP image tower, so, like the words in photos, it never runs
inline (`for_run` is None): the face pass (engine/face_pass.py) finds the faces of the photos
that `FaceRows.backfill` names (never looked at, or looked at by another face model than the one
recorded in the catalog's meta under FINDER_KEY) after the vectors are stored, then groups the new
faces into people (pixseek.people). Everything else follows the seam: a copy of stored content
takes its faces (to be grouped), a changed file is a new row with none, faces leave with their
photo.

Tables: `faces_read` (a row a photo looked at: the face model's name, how many faces, why it
was skipped if it was), `faces` (a row a face: the photo's id, box, landmarks as JSON, score,
quality, the float32 unit vector, its person and its state: to group, grouped, not a face,
left out), `people` (id, name, the sum of its faces' vectors and their number: its centre),
and `face_labels`, the user's corrections keyed by the photo's content hash and the face's box,
so that they find their face again after the photo is indexed anew, by a reindex or another
face model (pixseek.people.store).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pixseek.signals.base import FileData, Reads, Signal, SignalRows
from pixseek.store.sqlite import decode_path, rows_for

if TYPE_CHECKING:
    from pixseek.model import Encoder
    from pixseek.model.faces import Face

FINDER_KEY = "face_finder"  # meta: the name of the face model whose faces are current
SETTING_KEY = "find_faces"  # meta: "yes"/"no" where the index's owner chose

# faces.state
TO_GROUP, GROUPED, NOT_A_FACE, LEFT_OUT = 0, 1, 2, 3


@dataclass(frozen=True)
class PhotoFaces:
    """What the face model found in one photo (no faces: none), or why it could not look."""

    finder: str
    faces: tuple[Face, ...] = ()
    skipped: str | None = None


class FaceRows(SignalRows):
    schema = """
CREATE TABLE IF NOT EXISTS faces_read (
    id INTEGER PRIMARY KEY, finder TEXT NOT NULL, faces INTEGER NOT NULL, skipped TEXT, gen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    face INTEGER PRIMARY KEY AUTOINCREMENT, id INTEGER NOT NULL,
    x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL, landmarks TEXT NOT NULL,
    score REAL NOT NULL, quality REAL NOT NULL, embedding BLOB NOT NULL, person INTEGER, state INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_photo ON faces (id);
CREATE INDEX IF NOT EXISTS faces_person_photos ON faces (person, state, id, quality);
CREATE INDEX IF NOT EXISTS faces_to_group ON faces (state) WHERE state = 0;
CREATE TABLE IF NOT EXISTS people (
    person INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE COLLATE NOCASE, total BLOB, members INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS face_labels (
    hash BLOB NOT NULL, x1 REAL NOT NULL, y1 REAL NOT NULL, x2 REAL NOT NULL, y2 REAL NOT NULL,
    person INTEGER, not_face INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS face_labels_hash ON face_labels (hash);
"""
    backfill = (f"f.id NOT IN (SELECT id FROM faces_read WHERE finder = "
                f"(SELECT value FROM meta WHERE key = '{FINDER_KEY}'))")

    def write(self, rows: Sequence[tuple[int, Any]], generation: int) -> None:
        ids = [i for i, _ in rows]
        self.delete(ids)
        self.db.executemany("INSERT INTO faces_read (id, finder, faces, skipped, gen) VALUES (?, ?, ?, ?, ?)",
                            [(i, found.finder, len(found.faces), found.skipped, generation) for i, found in rows])
        self.db.executemany(
            "INSERT INTO faces (id, x1, y1, x2, y2, landmarks, score, quality, embedding, person, state) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0)",
            [(i, *face.box, json.dumps(face.landmarks), face.score, face.quality,
              np.asarray(face.embedding, dtype=np.float32).tobytes()) for i, found in rows for face in found.faces])

    def read(self, ids: Iterable[int]) -> dict[int, Any]:
        # why: the face model's code (and ONNX Runtime) loads only where faces are used
        from pixseek.model.faces import Face

        ids = list(ids)
        faces: dict[int, list[Face]] = {}
        for i, x1, y1, x2, y2, landmarks, score, quality, embedding in rows_for(
                self.db, "SELECT id, x1, y1, x2, y2, landmarks, score, quality, embedding FROM faces "
                         "WHERE id IN ({}) ORDER BY face", ids):
            faces.setdefault(i, []).append(Face((x1, y1, x2, y2), tuple(tuple(p) for p in json.loads(landmarks)),
                                                score, quality, np.frombuffer(embedding, dtype=np.float32)))
        return {i: PhotoFaces(finder, tuple(faces.get(i, ())), skipped) for i, finder, skipped in
                rows_for(self.db, "SELECT id, finder, skipped FROM faces_read WHERE id IN ({})", ids)}

    def delete(self, ids: Sequence[int]) -> None:
        pairs = [(i,) for i in ids]
        self.db.executemany("DELETE FROM faces_read WHERE id = ?", pairs)
        self.db.executemany("DELETE FROM faces WHERE id = ?", pairs)

    def unread(self) -> list[tuple[int, str, int, int]]:
        """(id, path, size, mtime_ns) of the photos the face pass is to look at."""
        rows = self.db.execute(f"SELECT f.id, f.path, f.size, f.mtime_ns FROM files f WHERE {self.backfill} ORDER BY f.id")
        return [(int(i), decode_path(path), size, mtime) for i, path, size, mtime in rows]


class Faces(Signal):
    name = "faces"
    reads = Reads.IMAGE  # the content alone: copies take the stored faces, known content is not looked at
    rows = FaceRows
    min_side = 0  # the face model scales the photo itself

    @classmethod
    def for_run(cls, encoder: Encoder | None) -> Signal | None:
        """Never inline: the face pass (engine/face_pass.py) finds faces after the vectors."""
        return None

    def read(self, file: FileData) -> PhotoFaces:
        # why: as above
        from pixseek.model.faces import face_model

        assert file.image is not None  # an image signal is given the decoded image
        model = face_model()
        return PhotoFaces(model.name, tuple(model.find(file.image)))
