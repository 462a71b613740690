"""Duplicate videos: exact copies (the same bytes), and a video with its trimmed or re-encoded
copy, found by their moments.

Two videos are near-duplicates when most moments of the shorter one (SHARED) have a moment in
the other within the CLIP `threshold` whose perceptual hash (64-bit DCT, as photos') is within
PHASH_BITS: a trim keeps the frames, a re-encode keeps their content, while other footage of the
same place rarely matches frame for frame. Each moment is compared with its K_NEIGHBOURS nearest
moments (FAISS, exact inner product), so the work stays linear in the moments. The best copy
comes first: the longest, then the most pixels, then the most bytes.
"""

from __future__ import annotations

import os

import faiss
import numpy as np

from pixseek.engine import folders, video_search
from pixseek.engine.duplicates import PHASH_BITS, group
from pixseek.engine.index import OpenIndex
from pixseek.engine.results import DuplicateGroup, DuplicatePhoto
from pixseek.signals.video import VideoRow, VideoRows

SHARED = 0.6  # of the shorter video's moments that must have a match in the other
K_NEIGHBOURS = 8


def find(index: OpenIndex, threshold: float, folder: str | None = None) -> list[DuplicateGroup]:
    """Groups of duplicate videos under `folder` (default: all), best copy first, largest groups first."""
    within = folders.indexed_folder(index, folder) if folder is not None else None
    rows = VideoRows(index.catalog.connection)
    try:
        videos = {v.id: v for v in rows.under([within] if within else []).values() if v.complete}
        moments, hashes = video_search.stored_moments(index), rows.moment_hashes()
    except Exception as error:  # an index opened read-only before videos existed has no table
        if "no such table" in str(error):
            return []
        raise
    by_hash: dict[bytes, list[int]] = {}
    for video in sorted(videos.values(), key=lambda v: v.id):
        by_hash.setdefault(video.hash, []).append(video.id)
    copies = [members for members in by_hash.values() if len(members) > 1]
    pairs, shares = _near(moments, hashes, set(videos), threshold)
    groups = group(copies, pairs)
    return [_ranked([videos[i] for i in members], shares) for members in sorted(groups, key=lambda g: (-len(g), g[0]))]


def _near(moments: video_search.Moments, hashes: np.ndarray, allowed: set[int],
          threshold: float) -> tuple[list[tuple[int, int]], dict[tuple[int, int], float]]:
    """Pairs of videos whose shorter one's moments mostly match the other's, and each pair's share."""
    keep = np.isin(moments.videos, list(allowed))
    if keep.sum() < 2 or len(hashes) != len(moments.videos):
        return [], {}
    videos, vectors, hashes = moments.videos[keep], np.ascontiguousarray(moments.vectors[keep]), hashes[keep]
    search = faiss.IndexFlatIP(vectors.shape[1])
    search.add(vectors)
    scores, found = search.search(vectors, min(K_NEIGHBOURS, len(vectors)))
    matched: dict[tuple[int, int], set[int]] = {}  # (video, other) -> its moments with a match in other
    for row in range(len(vectors)):
        for score, other in zip(scores[row], found[row]):
            if other < 0 or score < threshold or videos[other] == videos[row]:
                continue
            if int(hashes[row] ^ hashes[other]).bit_count() <= PHASH_BITS:
                matched.setdefault((int(videos[row]), int(videos[other])), set()).add(row)
    counts = dict(zip(*np.unique(videos, return_counts=True)))
    shares = {pair: len(rows) / counts[pair[0]] for pair, rows in matched.items()}
    pairs = [(a, b) for (a, b), share in shares.items() if share >= SHARED and counts[a] <= counts[b]]
    return pairs, shares


def _ranked(members: list[VideoRow], shares: dict[tuple[int, int], float]) -> DuplicateGroup:
    def rank(video: VideoRow) -> tuple[float, int, int, str]:
        m = video.metadata
        return -video.duration, -((m.width or 0) * (m.height or 0) if m else 0), -video.size, video.path

    members = sorted(members, key=rank)
    best = members[0]
    return DuplicateGroup([
        DuplicatePhoto(v.id, v.path, v.size, (v.metadata.width or 0) if v.metadata else 0,
                       (v.metadata.height or 0) if v.metadata else 0, v.metadata, v.hash == best.hash,
                       1.0 if v.hash == best.hash else max(shares.get((v.id, best.id), 0.0),
                                                           shares.get((best.id, v.id), 0.0)))
        for v in members if os.path.exists(v.path) or v is best])
