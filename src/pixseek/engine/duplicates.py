"""Groups of duplicate photos: exact copies (the same bytes) and near-duplicates (resized,
recompressed, lightly cropped or edited copies, a RAW and its camera JPEG). Nothing is deleted.

Exact copies share a content hash. Near-duplicates need two witnesses:
- CLIP: each photo's nearest stored vectors (FAISS, the index searches already use) with cosine
  similarity at least `threshold`. CLIP sees content, so it tolerates edits, but what cosine
  separates a copy from another photo of the same scene depends on the model's weights.
- A 64-bit DCT perceptual hash (pHash) no more than PHASH_BITS bits apart. It depends on no
  weights: measured on 1,000 real photos, copies resized, recompressed, brightened, recoloured
  or blurred stay within 8 bits, 2% crops within 10, 5% crops within 12 for 81% of photos, while
  no two different photos of 44,551 pairs came within 12 (docs/duplicates.md).
Each photo is a candidate for its K_NEIGHBOURS nearest vectors only, so the work and memory stay
linear in the collection whatever the weights (a random-weight model finds every photo "close").

Within a group the best copy comes first: the most pixels, then the most bytes, then the oldest.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable
from typing import Any

import numpy as np

from pixseek.engine import folders
from pixseek.engine.index import OpenIndex
from pixseek.engine.results import DEFAULT_THRESHOLD, DuplicateGroup, DuplicatePhoto
from pixseek.errors import ImageError, QueryError
from pixseek.images import open_upright, perceptual_hash
from pixseek.store.catalog import Catalog

PHASH_BITS = 12
K_NEIGHBOURS = 16
NPROBE = 2  # IVF lists searched per photo: 99.7% of near-duplicate pairs found (docs/duplicates.md)
QUERY_BATCH = 4096


class _Sets:
    """Union-find over row ids."""

    def __init__(self) -> None:
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[int]]:
        found: dict[int, list[int]] = {}
        for x in self.parent:
            found.setdefault(self.find(x), []).append(x)
        return [sorted(g) for g in found.values() if len(g) > 1]


def hamming(a: int, b: int) -> int:
    return (a ^ b).bit_count()


def near_pairs(neighbours: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
               vectors_for: Callable[[Any], np.ndarray], ids: np.ndarray, threshold: float,
               phash: Callable[[list[int]], dict[int, int]]) -> list[tuple[int, int]]:
    """Pairs (a, b) of `ids` with exact cosine >= threshold and pHashes <= PHASH_BITS apart.

    `neighbours(vectors) -> (scores, ids)` is a k-NN search; `vectors_for(ids)` the stored vectors;
    `phash(ids)` the perceptual hashes of those ids (computing any that are missing).
    """
    allowed = set(int(i) for i in ids)
    candidates: dict[tuple[int, int], float] = {}
    for start in range(0, len(ids), QUERY_BATCH):
        batch = ids[start:start + QUERY_BATCH]
        queries = vectors_for(batch)
        scores, found = neighbours(queries)
        for row, id_ in enumerate(batch):
            for score, other in zip(scores[row], found[row]):
                other = int(other)
                if other < 0 or other == id_ or other not in allowed or score < threshold - 0.02:
                    continue  # (approximate scores: the exact check is below)
                candidates[(min(id_, other), max(id_, other))] = 0.0
    if not candidates:
        return []
    pairs = list(candidates)
    involved = sorted({i for pair in pairs for i in pair})
    vectors = dict(zip(involved, vectors_for(np.array(involved, dtype=np.int64))))
    close = [(a, b) for a, b in pairs if float(np.dot(vectors[a], vectors[b])) >= threshold]
    hashes = phash(sorted({i for pair in close for i in pair}))
    return [(a, b) for a, b in close if a in hashes and b in hashes and hamming(hashes[a], hashes[b]) <= PHASH_BITS]


def group(copies: list[list[int]], pairs: list[tuple[int, int]]) -> list[list[int]]:
    """Row ids grouped: exact copies together, joined through near-duplicate pairs."""
    sets = _Sets()
    for members in copies:
        for other in members[1:]:
            sets.join(members[0], other)
    for a, b in pairs:
        sets.join(a, b)
    return sets.groups()


def missing_phashes(paths: dict[int, str], workers: int | None = None) -> dict[int, int]:
    """Perceptual hashes computed from the files (for photos indexed before pixseek stored them);
    a file that cannot be read now gets none."""

    def one(item: tuple[int, str]) -> tuple[int, int | None]:
        id_, path = item
        try:
            return id_, perceptual_hash(open_upright(path, min_side=64))
        except ImageError:
            return id_, None

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1, thread_name_prefix="pixseek-phash") as pool:
        return {i: h for i, h in pool.map(one, paths.items()) if h is not None}


def phashes(catalog: Catalog, ids: list[int]) -> dict[int, int]:
    """Stored perceptual hashes, and those missing (photos indexed by an older pixseek) from the files."""
    known = catalog.phashes(ids)
    return {**known, **missing_phashes(catalog.paths_for(i for i in ids if i not in known))}


def find(index: OpenIndex, threshold: float | None = None, folder: str | None = None) -> list[DuplicateGroup]:
    """Groups of exact copies and near-duplicates, each best copy first, largest groups first;
    `threshold` is the CLIP cosine a near-duplicate needs."""
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    if not 0 < threshold <= 1:
        raise QueryError(f"the duplicate threshold must be more than 0 and at most 1 (got {threshold:g})")
    live = index.vectors()
    catalog = index.catalog
    within = folders.indexed_folder(index, folder) if folder is not None else None
    with catalog.snapshot():
        ids, copies = catalog.ids_under(within), catalog.copies(within)
    later_copies = {i for members in copies for i in members[1:]}  # one vector per content is enough
    unique = np.array([i for i in ids if i not in later_copies], dtype=np.int64)
    pairs = near_pairs(lambda q: live.neighbours(q, K_NEIGHBOURS, NPROBE), catalog.vectors_for, unique, threshold,
                       lambda some: phashes(catalog, some))
    return [_ranked(index, members) for members in sorted(group(copies, pairs), key=lambda g: (-len(g), g[0]))]


def _ranked(index: OpenIndex, ids: list[int]) -> DuplicateGroup:
    """A group's photos, the best first: the most pixels, the most bytes, the oldest."""
    details = index.catalog.file_details(ids)
    described = index.catalog.descriptions(ids)
    found = [i for i in ids if i in details]

    def rank(id_: int) -> tuple[int, int, float, str]:
        path, size, width, height, _ = details[id_]
        taken = described[id_].metadata.taken_at if id_ in described else float("inf")
        return -width * height, -size, taken, path

    found.sort(key=rank)
    vectors = dict(zip(found, index.catalog.vectors_for(found)))
    best = found[0]
    return DuplicateGroup([
        DuplicatePhoto(i, details[i][0], details[i][1], details[i][2], details[i][3],
                       described[i].metadata if i in described else None, details[i][4] == details[best][4],
                       float(np.dot(vectors[i], vectors[best]))) for i in found])
