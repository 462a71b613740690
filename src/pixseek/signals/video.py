"""Video moments: a video's sampled frames, each with its CLIP vector and its time.

A video is not a file row with one vector (a photo's row id is its FAISS id): it has many
moments. Its rows are its own tables, `videos` (path, size, mtime, content hash, how far it is
read, its metadata) and `moments` (video id, seconds, vector), searched beside the photos'
vector index (engine/video_search.py) and filled by a pass of their own after the photos'
(engine/video_pass.py), so the signal is registered for its tables and never runs inline
(`for_run` is None). Video ids start at VIDEO_IDS, far above any photo's, so an id in a
result names one thing whichever kind it is. See docs/videos.md.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pixseek.metadata import PhotoMetadata
from pixseek.places import Place
from pixseek.signals.base import FileData, Reads, Signal, SignalRows
from pixseek.signals.video_faces import SCHEMA as FACES_SCHEMA
from pixseek.signals.video_faces import MomentFaces
from pixseek.store.sqlite import decode_path, encode_path, rows_for

if TYPE_CHECKING:
    from pixseek.model import Encoder

VIDEO_IDS = 1 << 40  # the first video id: photo ids (AUTOINCREMENT from 1) never reach it
GEN_KEY = "video_gen"  # meta: bumped by each committed part, so the moment index knows to reload


@dataclass(frozen=True)
class VideoRow:
    """One indexed video, as the pass and the search read it."""

    id: int
    path: str
    size: int
    mtime_ns: int
    hash: bytes
    duration: float
    done: float  # seconds read so far (a part committed)
    complete: bool
    metadata: PhotoMetadata | None
    place: Place | None


class VideoRows(SignalRows):
    schema = f"""
CREATE TABLE IF NOT EXISTS videos (
    id INTEGER PRIMARY KEY AUTOINCREMENT, path BLOB NOT NULL UNIQUE, size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL, hash BLOB NOT NULL, duration REAL NOT NULL, done REAL NOT NULL,
    complete INTEGER NOT NULL, meta TEXT, place TEXT, indexed_at REAL NOT NULL, gen INTEGER NOT NULL
);
INSERT INTO sqlite_sequence (name, seq) SELECT 'videos', {VIDEO_IDS - 1}
    WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'videos');
CREATE INDEX IF NOT EXISTS videos_hash ON videos (hash);
CREATE TABLE IF NOT EXISTS moments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, video INTEGER NOT NULL, seconds REAL NOT NULL,
    vector BLOB NOT NULL, phash INTEGER, gen INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS moments_video ON moments (video, seconds);
CREATE TABLE IF NOT EXISTS video_skipped (
    path BLOB PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, reason TEXT NOT NULL
);
""" + FACES_SCHEMA  # the faces of its moments (signals/video_faces.py)

    # -- the seam (the catalog deletes a file's rows by its id: video ids are never photo ids)

    def write(self, rows: Sequence[tuple[int, Any]], generation: int) -> None:
        """(video id, [(seconds, vector, perceptual hash), ...]) pairs: moments added to their videos."""
        self.db.executemany("INSERT INTO moments (video, seconds, vector, phash, gen) VALUES (?, ?, ?, ?, ?)",
                            [(i, float(s), _blob(v), _signed(h), generation) for i, found in rows for s, v, h in found])

    def read(self, ids: Iterable[int]) -> dict[int, Any]:
        """Video id -> the seconds of its moments, in order."""
        found: dict[int, list[float]] = {}
        for video, seconds in rows_for(self.db, "SELECT video, seconds FROM moments WHERE video IN ({}) "
                                                "ORDER BY video, seconds", ids):
            found.setdefault(video, []).append(seconds)
        return found

    def delete(self, ids: Sequence[int]) -> None:
        videos = [(i,) for i in ids if i >= VIDEO_IDS]
        MomentFaces(self.db).delete(v for v, in videos)
        self.db.executemany("DELETE FROM moments WHERE video = ?", videos)
        self.db.executemany("DELETE FROM videos WHERE id = ?", videos)

    # -- the video pass's reads and writes (inside the caller's transaction) ------------------

    def generation(self) -> int:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (GEN_KEY,)).fetchone()
        return int(row[0]) if row else 0

    def next_generation(self) -> int:
        generation = self.generation() + 1
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (GEN_KEY, str(generation)))
        return generation

    def under(self, roots: Iterable[str]) -> dict[str, VideoRow]:
        """Every video under `roots` (all of them when no roots are given), by path."""
        found = {}
        for row in self.db.execute(f"SELECT {_COLUMNS} FROM videos"):
            video = _video(row)
            found[video.path] = video
        roots = list(roots)
        return {p: v for p, v in found.items()
                if not roots or any(p.startswith(os.path.join(r, "")) for r in roots)}

    def by_ids(self, ids: Iterable[int]) -> dict[int, VideoRow]:
        return {row[0]: _video(row) for row in rows_for(self.db, f"SELECT {_COLUMNS} FROM videos WHERE id IN ({{}})",
                                                           ids)}

    def by_path(self, path: str) -> VideoRow | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM videos WHERE path = ?", (encode_path(path),)).fetchone()
        return _video(row) if row else None

    def by_hash(self, content: bytes) -> VideoRow | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM videos WHERE hash = ? AND complete = 1 LIMIT 1",
                              (content,)).fetchone()
        return _video(row) if row else None

    def start(self, path: str, size: int, mtime_ns: int, content: bytes, duration: float,
              metadata: PhotoMetadata | None, place: Place | None, generation: int) -> int:
        """A row for a video about to be read (replacing any under its path); its id."""
        old = self.db.execute("SELECT id FROM videos WHERE path = ?", (encode_path(path),)).fetchone()
        if old:
            self.delete([old[0]])
        cursor = self.db.execute(
            "INSERT INTO videos (path, size, mtime_ns, hash, duration, done, complete, meta, place, indexed_at, gen) "
            "VALUES (?, ?, ?, ?, ?, 0, 0, ?, ?, ?, ?)",
            (encode_path(path), size, mtime_ns, content, duration, _json(metadata), _json(place), time.time(),
             generation))
        self.db.execute("DELETE FROM video_skipped WHERE path = ?", (encode_path(path),))
        return int(cursor.lastrowid or 0)

    def progress(self, video: int, done: float, complete: bool, generation: int) -> None:
        self.db.execute("UPDATE videos SET done = ?, complete = ?, gen = ? WHERE id = ?",
                        (done, int(complete), generation, video))

    def turn(self, video: int) -> None:
        """Swap a video's stored width and height (its frames are shown turned a quarter)."""
        meta = self.db.execute("SELECT meta FROM videos WHERE id = ?", (video,)).fetchone()
        if meta and meta[0]:
            found = json.loads(meta[0])
            found["width"], found["height"] = found["height"], found["width"]
            self.db.execute("UPDATE videos SET meta = ? WHERE id = ?", (json.dumps(found), video))

    def copy_moments(self, source: int, target: int, generation: int) -> None:
        self.db.execute("INSERT INTO moments (video, seconds, vector, phash, gen) "
                        "SELECT ?, seconds, vector, phash, ? FROM moments WHERE video = ? ORDER BY seconds",
                        (target, generation, source))

    def move(self, video: int, path: str, mtime_ns: int) -> None:
        self.db.execute("UPDATE videos SET path = ?, mtime_ns = ? WHERE id = ?", (encode_path(path), mtime_ns, video))

    def skip(self, path: str, size: int, mtime_ns: int, reason: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO video_skipped (path, size, mtime_ns, reason) VALUES (?, ?, ?, ?)",
                        (encode_path(path), size, mtime_ns, reason))

    def skipped(self) -> dict[str, tuple[int, int, str]]:
        return {decode_path(p): (s, m, r) for p, s, m, r in
                self.db.execute("SELECT path, size, mtime_ns, reason FROM video_skipped")}

    def forget_skipped(self, paths: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM video_skipped WHERE path = ?", [(encode_path(p),) for p in paths])

    # -- the search's reads ---------------------------------------------------------------------

    def all_moments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(video ids, seconds, vectors) of every moment, for the in-memory moment index."""
        rows = self.db.execute("SELECT video, seconds, vector FROM moments ORDER BY video, seconds, id").fetchall()
        dim = int(self.db.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()[0])
        vectors = (np.frombuffer(b"".join(r[2] for r in rows), dtype=np.float32).reshape(len(rows), dim)
                   if rows else np.zeros((0, dim), dtype=np.float32))
        return (np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.float64),
                vectors)

    def moment_hashes(self) -> np.ndarray:
        """The perceptual hash of every moment (uint64), in all_moments' order."""
        rows = self.db.execute("SELECT phash FROM moments ORDER BY video, seconds, id").fetchall()
        return np.array([(r[0] or 0) & (2**64 - 1) for r in rows], dtype=np.uint64)

    def moment_vector(self, video: int, seconds: float) -> np.ndarray | None:
        """The stored vector of the video's moment nearest `seconds`."""
        row = self.db.execute("SELECT vector FROM moments WHERE video = ? ORDER BY ABS(seconds - ?) LIMIT 1",
                              (video, seconds)).fetchone()
        return np.frombuffer(row[0], dtype=np.float32).copy() if row else None


class VideoMoments(Signal):
    """Registered for its tables; the video pass (engine/video_pass.py) reads videos, not the indexer."""

    name = "video"
    reads = Reads.BYTES
    rows = VideoRows

    @classmethod
    def for_run(cls, encoder: Encoder | None) -> Signal | None:
        return None

    def read(self, file: FileData) -> Any:
        raise NotImplementedError("videos are read by the video pass (engine/video_pass.py)")


_COLUMNS = "id, path, size, mtime_ns, hash, duration, done, complete, meta, place"


def _video(row: tuple[Any, ...]) -> VideoRow:
    meta = json.loads(row[8]) if row[8] else None
    place = json.loads(row[9]) if row[9] else None
    return VideoRow(row[0], decode_path(row[1]), row[2], row[3], row[4], row[5], row[6], bool(row[7]),
                    PhotoMetadata(**meta) if meta else None, Place(**place) if place else None)


def _json(value: PhotoMetadata | Place | None) -> str | None:
    return json.dumps(value.__dict__) if value is not None else None


def _signed(value: int) -> int:
    """A 64-bit hash as SQLite's signed integer."""
    return value - 2**64 if value >= 2**63 else value


def _blob(vector: np.ndarray) -> bytes:
    return np.ascontiguousarray(vector, dtype=np.float32).tobytes()
