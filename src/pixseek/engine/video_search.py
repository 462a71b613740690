"""Searching videos: every moment scored, each video one result at its best moment.

The moments' vectors are held in memory as one matrix (reloaded when the video pass has
committed a part since: its generation in the catalog's meta), scored with one product, and
grouped by video: a video is one result, at its best moment, with its other moments that score
within MARGIN of it listed (by time). So a clip never fills the top ten with its own frames. A
search for people looks only at the moments where they are all seen (`with_people`).
Filters apply as to photos, on the metadata its container gave (engine/video_pass.py), and
the photos' and videos' results are merged by score.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from dataclasses import dataclass

import numpy as np

from pixseek.engine.index import OpenIndex, file_identity
from pixseek.engine.results import SearchResult
from pixseek.errors import QueryError
from pixseek.filters import SearchFilters
from pixseek.metadata import camera_name
from pixseek.places import distance_km, fold, names_match
from pixseek.signals.video import VIDEO_IDS, VideoRow, VideoRows

MARGIN = 0.05  # a video's other moments listed: those scoring within this of its best
LISTED = 5  # other moments listed at most


@dataclass(frozen=True)
class Moments:
    """Every stored moment, grouped by video (rows sorted by video, then time)."""

    generation: int
    catalog: tuple[int, int] | None  # the catalog file they were read from (a repair swaps in another)
    videos: np.ndarray  # int64, video id of each moment
    seconds: np.ndarray
    vectors: np.ndarray  # float32 [n, dim]
    starts: np.ndarray  # the first row of each video's moments


_loaded: weakref.WeakKeyDictionary[OpenIndex, Moments] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def is_video(id_: int) -> bool:
    return id_ >= VIDEO_IDS


def stored_moments(index: OpenIndex) -> Moments:
    """The moments as of the last committed part (loaded again only when it changed)."""
    rows = VideoRows(index.catalog.connection)
    with _lock:
        try:
            generation = rows.generation()
            cached = _loaded.get(index)
            catalog = file_identity(index.catalog.path)
            if cached is not None and (cached.generation, cached.catalog) == (generation, catalog):
                return cached
            videos, seconds, vectors = rows.all_moments()
        except sqlite3.OperationalError:  # an index opened read-only before videos existed: none
            videos, seconds, vectors, generation = (np.zeros(0, np.int64), np.zeros(0), np.zeros((0, 1), np.float32), -1)
        starts = np.flatnonzero(np.r_[True, videos[1:] != videos[:-1]]) if len(videos) else np.zeros(0, np.int64)
        _loaded[index] = found = Moments(generation, file_identity(index.catalog.path), videos, seconds, vectors, starts)
        return found


def search(index: OpenIndex, vector: np.ndarray, k: int, filters: SearchFilters,
           bounds: tuple[bytes, bytes] | None, min_score: float | None) -> list[SearchResult]:
    """The `k` best videos for `vector` that pass `filters`, each at its best moment."""
    moments = stored_moments(index)
    if not len(moments.videos):
        return []
    scores = moments.vectors @ vector.astype(np.float32)
    best = np.maximum.reduceat(scores, moments.starts)
    ends = np.r_[moments.starts[1:], len(scores)]
    order = np.argsort(-best, kind="stable")
    rows = VideoRows(index.catalog.connection).by_ids(int(moments.videos[moments.starts[g]]) for g in order[:4 * k + 16])
    results: list[SearchResult] = []
    for group in order:
        if len(results) >= k or (min_score is not None and best[group] < min_score):
            break
        start, end = moments.starts[group], ends[group]
        video_id = int(moments.videos[start])
        row = rows.get(video_id) or VideoRows(index.catalog.connection).by_ids([video_id]).get(video_id)
        if row is None or not passes(row, filters, bounds):
            continue
        results.append(_at_best(row, moments.seconds[start:end], scores[start:end]))
    return results


def with_people(index: OpenIndex, vector: np.ndarray | None, shown: dict[int, dict[float, float]], k: int,
                filters: SearchFilters, bounds: tuple[bytes, bytes] | None,
                min_score: float | None) -> list[SearchResult]:
    """The `k` best videos among the moments that show the people asked for (`shown`: video id ->
    {second: how well it shows them}, engine/people_search.py), each at its best such moment:
    scored by `vector` where the query has one, else by how well the moment shows them."""
    found: list[tuple[int, np.ndarray, np.ndarray]] = []  # (video, seconds, scores) of its moments with them
    if vector is not None:
        moments = stored_moments(index)
        for video, seconds_shown in shown.items():
            start, end = np.searchsorted(moments.videos, [video, video + 1])
            keep = start + np.flatnonzero(np.isin(moments.seconds[start:end], list(seconds_shown)))
            if len(keep):
                found.append((video, moments.seconds[keep], moments.vectors[keep] @ vector.astype(np.float32)))
    else:
        found = [(video, np.array(list(s), dtype=np.float64), np.round(np.array(list(s.values()), np.float32), 4))
                 for video, s in shown.items()]
    found.sort(key=lambda f: (-float(f[2].max()), f[0]))
    rows = VideoRows(index.catalog.connection).by_ids(video for video, _, _ in found[:4 * k + 16])
    results: list[SearchResult] = []
    for video, seconds, scores in found:
        if len(results) >= k or (min_score is not None and float(scores.max()) < min_score):
            break
        row = rows.get(video) or VideoRows(index.catalog.connection).by_ids([video]).get(video)
        if row is not None and passes(row, filters, bounds):
            results.append(_at_best(row, seconds, scores))
    return results


def _at_best(row: VideoRow, seconds: np.ndarray, scores: np.ndarray) -> SearchResult:
    """A video as one result, at its best-scoring moment, with its others within MARGIN (by time)."""
    top = int(np.argmax(scores))
    others = [(float(seconds[i]), float(scores[i])) for i in np.argsort(-scores, kind="stable")[1:LISTED + 1]
              if scores[i] >= scores[top] - MARGIN]
    return SearchResult(row.path, float(scores[top]), row.id, row.metadata, row.place, seconds=float(seconds[top]),
                        moments=tuple(sorted(others)))


def merged(photos: list[SearchResult], videos: list[SearchResult], k: int) -> list[SearchResult]:
    """Photos' and videos' results as one list, best first."""
    return sorted(photos + videos, key=lambda r: -r.score)[:k]


def passes(row: VideoRow, filters: SearchFilters, bounds: tuple[bytes, bytes] | None) -> bool:
    """Whether a video is a result under `filters` (as a photo's metadata is filtered), and there now."""
    path = os.fsencode(row.path)
    if bounds is not None and not bounds[0] <= path < bounds[1]:
        return False
    m = row.metadata
    if filters.needs_metadata and m is None:
        return False
    if m is not None:
        if filters.taken_from is not None and m.local_time < filters.taken_from:
            return False
        if filters.taken_until is not None and m.local_time >= filters.taken_until:
            return False
        if filters.camera is not None and fold(filters.camera) not in fold(camera_name(m.make, m.model) or ""):
            return False
        if filters.near is not None and (m.latitude is None or m.longitude is None or distance_km(
                m.latitude, m.longitude, *filters.near) > filters.radius_km):
            return False
    if filters.place is not None and (row.place is None or not names_match(fold(filters.place),
                                                                            *row.place.folded_names())):
        return False
    return os.path.exists(row.path)


def moment_vector(index: OpenIndex, video_id: int, seconds: float) -> np.ndarray:
    """The stored vector of a video's moment nearest `seconds` ("more like this" from a moment)."""
    try:
        found = VideoRows(index.catalog.connection).moment_vector(video_id, seconds)
    except sqlite3.OperationalError:
        found = None
    if found is None:
        raise QueryError(f"no indexed video with id {video_id}; search again to get current ids")
    return found


def video_counts(index: OpenIndex) -> tuple[int, int, float]:
    """(videos, moments, seconds of video) in the index, for its status."""
    try:
        row = index.catalog.connection.execute(
            "SELECT COUNT(*), COALESCE(SUM(duration), 0), (SELECT COUNT(*) FROM moments) FROM videos").fetchone()
    except sqlite3.OperationalError:  # an index opened read-only before videos existed
        return 0, 0, 0.0
    return int(row[0]), int(row[2]), float(row[1])
