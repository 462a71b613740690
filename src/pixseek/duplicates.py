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
from dataclasses import dataclass
from collections.abc import Callable

import numpy as np

from pixseek.errors import ImageError
from pixseek.metadata import PhotoMetadata, describe_time

DEFAULT_THRESHOLD = 0.90
PHASH_BITS = 12
K_NEIGHBOURS = 16
NPROBE = 2  # IVF lists searched per photo: 99.7% of near-duplicate pairs found (docs/duplicates.md)
QUERY_BATCH = 4096


@dataclass(frozen=True)
class DuplicatePhoto:
    id: int
    path: str
    size: int  # bytes
    width: int
    height: int
    metadata: PhotoMetadata | None
    same_as_best: bool  # the very same bytes as the group's first photo
    similarity: float  # CLIP cosine with the group's first photo (1.0 for it and its exact copies)

    def describe(self) -> str:
        when = describe_time(self.metadata.local_time, self.metadata.time_source, self.metadata.utc_offset_min) \
            if self.metadata else "date unknown"
        how = "exact copy" if self.same_as_best else f"similarity {self.similarity:.3f}"
        return f"{self.path}  ({self.width}x{self.height}, {self.size:,} bytes, {when}, {how})"

    def to_dict(self) -> dict:
        return {"path": self.path, "bytes": self.size, "width": self.width, "height": self.height,
                "taken": self.metadata.local_time.isoformat() if self.metadata else None,
                "exact_copy_of_first": self.same_as_best, "similarity": round(self.similarity, 6)}


@dataclass(frozen=True)
class DuplicateGroup:
    photos: list[DuplicatePhoto]  # best first

    @property
    def exact(self) -> bool:
        """Every photo has the same bytes."""
        return all(p.same_as_best for p in self.photos)

    def describe(self) -> str:
        kind = "exact copies" if self.exact else "near-duplicates"
        best = self.photos[0].path
        name = os.path.basename(best)
        shared = any(os.path.basename(p.path) == name for p in self.photos[1:])  # then the folder tells them apart
        return f"{len(self.photos)} {kind}; keep {name}{f' in {os.path.dirname(best)}' if shared else ''}?"

    def to_dict(self) -> dict:
        return {"kind": "exact" if self.exact else "near", "photos": [p.to_dict() for p in self.photos]}


class _Sets:
    """Union-find over row ids."""

    def __init__(self):
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


def near_pairs(neighbours: Callable, vectors_for: Callable, ids: np.ndarray, threshold: float,
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
    from pixseek.images import open_upright, perceptual_hash

    def one(item):
        id_, path = item
        try:
            return id_, perceptual_hash(open_upright(path, min_side=64))
        except ImageError:
            return id_, None

    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1, thread_name_prefix="pixseek-phash") as pool:
        return {i: h for i, h in pool.map(one, paths.items()) if h is not None}
