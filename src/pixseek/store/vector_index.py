"""The FAISS vector index: inner-product search over unit vectors, keyed by catalog row id.

It is a derived cache of the vectors in the catalog, saved as `vectors-<generation>.faiss`
(written to a temporary file, fsynced and renamed), so a reader always finds a whole file and
knows which catalog generation it reflects.

Three kinds, chosen by collection size (or forced by a setting):
- "flat": exact search over float32 vectors. Single-query search is memory-bound, so it is kept
  only while the scan stays well under the query latency budget.
- "ivf": an inverted file over 8-bit scalar-quantized codes (4x smaller than float32). It only
  proposes candidates: the caller re-ranks them with the exact vectors stored in the catalog,
  so reported scores stay exact while the index stays small enough for 1M photos in RAM.
- "ivf4": for tens of millions, where 8-bit codes no longer fit in RAM (5 GiB at 10M): the same
  inverted file over 4-bit product-quantized codes, one per two dimensions (128 B for 512-d, 16x
  smaller than float32), scanned with FAISS's FastScan (SIMD look-up tables, ~7x faster than
  4-bit scalar codes at 10M), with an HNSW graph over the list centroids so that assigning
  millions of vectors to lists stays cheap. Its coarse scores ask for 1,000 candidates, re-ranked
  from a float16 copy of the vectors (half_vectors.py), as the catalog outgrows the page cache.
  (Indexes saved with 4-bit scalar codes, the first ivf4, still load and work.)
The kind and its parameters live in the FAISS file itself (`Spec.of` reads them back). FAISS is
imported where it is used, not with this module.
"""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, cast

import numpy as np

from pixseek import atomic
from pixseek.errors import IndexCorrupt

if TYPE_CHECKING:
    import faiss

FILE_PATTERN = re.compile(r"^vectors-(\d{12})\.faiss$")
KINDS = ("auto", "flat", "ivf", "ivf4")
FLAT_LIMIT = 20_000  # exact search up to here: ~8 ms a query on one core (see docs/benchmarks.md)
IVF4_FROM = 2_000_000  # beyond, 8-bit codes would take over 1 GiB of RAM: 4-bit PQ codes
IVF_MIN = 1_000  # fewer vectors than this cannot train an IVF worth having: stay exact
MAX_NLIST = 4096
IVF4_MIN_PROBES = 32  # see _probes
# Candidates per wanted result (and at least so many), re-ranked with the exact stored vectors.
RERANK = {"ivf": (4, 50), "ivf4": (100, 1000)}
RERANK_CHUNK = 65_536  # candidates' vectors read at once (64-128 MiB)

Batches = Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]]
# Stored vectors of ids: (the ids found, their vectors in that order); ids since removed are left out.
VectorLookup = Callable[[list[int]], tuple[list[int], np.ndarray]]


@contextmanager
def _one_thread() -> Iterator[None]:
    """One query gains nothing from an OpenMP team, and on a busy machine waiting for the team to
    get cores costs far more than the search (measured: 36 ms against 0.8 ms at 10k vectors)."""
    import faiss

    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(threads)


def _floor_pow2(value: float) -> int:
    return 1 << max(0, int(math.floor(math.log2(max(value, 1.0)))))


def _probes(kind: str, nlist: int) -> int:
    """Lists probed by a query. 4-bit codes probe about 2% of the lists, and never fewer than 32:
    with 1,024 lists (2M to 4.2M vectors) 21 probes gave recall@10 0.94 on the benchmark's 3M
    mixture, 32 gave 0.98 (docs/benchmarks.md, "Recall just past the switch to 4-bit codes");
    2,048 lists (10M) keep their 42."""
    return min(nlist, max(8, nlist // 8) if kind == "ivf" else max(IVF4_MIN_PROBES, nlist // 48))


def _size_kind(count: int) -> str:
    """The kind that auto picks for `count` vectors."""
    return "flat" if count <= FLAT_LIMIT else "ivf" if count <= IVF4_FROM else "ivf4"


@dataclass(frozen=True)
class Spec:
    """An index kind and its parameters."""

    kind: str
    nlist: int = 0
    nprobe: int = 0

    @classmethod
    def choose(cls, count: int, setting: str = "auto") -> Spec:
        """The spec for `count` vectors: exact while that is fast, IVF beyond, IVF over 4-bit codes
        for tens of millions (or as forced, where there are enough vectors to train an IVF)."""
        if setting not in KINDS:
            raise ValueError(f"unknown vector index kind {setting!r}; use one of {', '.join(KINDS)}")
        kind = _size_kind(count) if setting == "auto" else setting
        if kind == "flat" or count < IVF_MIN:
            return cls("flat")
        # About sqrt(n) lists, each trained from >= 39 points (FAISS's own floor).
        nlist = min(MAX_NLIST, _floor_pow2(min(math.sqrt(count), count / 39)))
        return cls(kind, nlist, _probes(kind, nlist))

    @classmethod
    def of(cls, index: faiss.Index) -> Spec:
        import faiss

        if not isinstance(index, faiss.IndexIVF):  # (read_index hands back the concrete class)
            return cls("flat")
        four_bit = isinstance(index, faiss.IndexIVFPQFastScan) or (
            isinstance(index, faiss.IndexIVFScalarQuantizer) and index.sq.qtype == faiss.ScalarQuantizer.QT_4bit)
        kind, nlist = "ivf4" if four_bit else "ivf", int(index.nlist)
        # (probes are a search setting: a file saved with fewer than this version wants gets the new ones)
        return cls(kind, nlist, max(int(index.nprobe), _probes(kind, nlist)))

    @property
    def approximate(self) -> bool:
        return self.kind != "flat"

    @property
    def reranks_from_copy(self) -> bool:
        """Re-ranked from a float16 copy of the vectors (half_vectors.py) rather than the catalog,
        which at tens of millions outgrows the page cache."""
        return self.kind == "ivf4"

    def rerank_count(self, k: int) -> int:
        """How many candidates to ask for so that `k` survive exact re-ranking."""
        if not self.approximate:
            return k
        factor, least = RERANK[self.kind]
        return max(k * factor, least)

    def describe(self) -> str:
        if self.kind == "flat":
            return "flat (exact)"
        codes = "8-bit codes" if self.kind == "ivf" else "4-bit PQ codes"
        reranked = "re-ranked with float16 vectors" if self.reranks_from_copy else "re-ranked exactly"
        return (f"{self.kind} (approximate: {self.nlist} lists, {self.nprobe} probed, {codes}, "
                f"top {RERANK[self.kind][0]}x {reranked})")

    def outgrown(self, count: int, setting: str = "auto") -> bool:
        """True when `count` vectors want another kind, or IVF lists 2x finer or 4x coarser.

        Auto steps down to a smaller kind only below half the size that chose the current one,
        so a collection near a limit does not flip between kinds on every update.
        """
        wanted = Spec.choose(count, setting)
        if wanted.kind != self.kind:
            floor = {"ivf": FLAT_LIMIT, "ivf4": IVF4_FROM}.get(self.kind, 0) // 2
            stepping_down = KINDS.index(wanted.kind) < KINDS.index(self.kind)
            return not (setting == "auto" and stepping_down and count > floor)
        return self.approximate and not self.nlist // 4 < wanted.nlist < self.nlist * 2


class VectorIndex:
    def __init__(self, index: faiss.Index, spec: Spec):
        self._index = index
        self.spec = spec

    @property
    def kind(self) -> str:
        return self.spec.kind

    @property
    def approximate(self) -> bool:
        return self.spec.approximate

    def describe(self) -> str:
        return self.spec.describe()

    @classmethod
    def empty(cls, dim: int) -> VectorIndex:
        import faiss

        return cls(faiss.IndexIDMap2(faiss.IndexFlatIP(dim)), Spec("flat"))

    @classmethod
    def build(cls, dim: int, spec: Spec, batches: Batches, count: int) -> VectorIndex:
        """An index of `spec` holding everything `batches()` yields ((ids, vectors) pairs).

        IVF reads the batches twice: once to train on an even sample, once to add.
        """
        if spec.kind == "flat":
            index = cls.empty(dim)
        else:
            import faiss

            ivf: faiss.IndexIVF
            if spec.kind == "ivf":
                quantizer = faiss.IndexFlatIP(dim)
                ivf = faiss.IndexIVFScalarQuantizer(quantizer, dim, spec.nlist, faiss.ScalarQuantizer.QT_8bit,
                                                    faiss.METRIC_INNER_PRODUCT)
                ivf.own_fields = True
                quantizer.this.disown()  # type: ignore[attr-defined]  # (SWIG's handle: not in faiss's stubs)
            else:  # the factory hands back the concrete class, an IndexIVFPQFastScan
                ivf = cast("faiss.IndexIVF", faiss.index_factory(dim, f"IVF{spec.nlist}_HNSW32,PQ{dim // 2}x4fs",
                                                                   faiss.METRIC_INNER_PRODUCT))
            ivf.cp.max_points_per_centroid = 64
            ivf.train(_sample(batches, count, spec.nlist * 64))
            ivf.nprobe = spec.nprobe
            index = cls(ivf, spec)
        for ids, vectors in batches():
            index.add(ids, vectors)
        return index

    @property
    def ntotal(self) -> int:
        return self._index.ntotal

    @property
    def dim(self) -> int:
        return self._index.d

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        if len(ids):
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32),
                                     np.ascontiguousarray(ids, dtype=np.int64))

    def remove(self, ids: np.ndarray) -> None:
        if len(ids):
            # (faiss's Python wrapper also takes an array of ids; its stubs show only a selector)
            self._index.remove_ids(np.ascontiguousarray(ids, dtype=np.int64))  # type: ignore[arg-type]

    def candidates(self, k: int) -> int:
        """How many results to ask for so that `k` survive exact re-ranking."""
        return self.spec.rerank_count(k)

    def search(self, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids of the `k` nearest vectors to one query vector (ids -1 pad a short list),
        among the ids in `allowed` when given (a filter applied inside the search, not after it).

        IVF scores are approximate; IVF probes more lists when `k` is a large share of the
        vectors it may return, so that asking for everything returns everything.
        """
        import faiss

        pool = self.ntotal if allowed is None else min(len(allowed), self.ntotal)
        k = max(1, min(k, pool))
        query = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        params: faiss.SearchParameters | None
        selector, bitmap = (None, None) if allowed is None else _selector(allowed)
        if self.approximate:
            share = math.ceil(self.spec.nlist * 4 * k / max(pool, 1))
            nprobe = min(self.spec.nlist, max(self.spec.nprobe, share))
            # (faiss's stubs leave out the keyword constructors its Python wrappers add, and HNSW's parameters)
            params = ivf_params = faiss.SearchParametersIVF(nprobe=nprobe, sel=selector)  # type: ignore[call-arg]
            if self.spec.kind == "ivf4":  # the centroid graph must look at least as wide as the probes
                graph = faiss.SearchParametersHNSW(efSearch=max(64, 2 * nprobe))  # type: ignore[attr-defined]
                ivf_params.quantizer_params = graph  # (`graph` stays referenced until the search is done)
        else:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None  # type: ignore[call-arg]
        with _one_thread():
            scores, ids = self._index.search(query, k, params=params)
        del bitmap  # the selector reads it during the search: kept alive until here
        return scores[0], ids[0]

    def neighbours(self, queries: np.ndarray, k: int, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The `k` nearest of many queries at once (all cores); IVF probes `nprobe` lists."""
        import faiss

        k = max(1, min(k, self.ntotal))
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        params: faiss.SearchParameters | None = None
        if self.approximate:
            probes = min(self.spec.nlist, nprobe or self.spec.nprobe)
            # (faiss's stubs leave out the keyword constructors its Python wrappers add)
            params = faiss.SearchParametersIVF(nprobe=probes)  # type: ignore[call-arg]
        return self._index.search(queries, k, params=params)

    # -- files ------------------------------------------------------------------------------

    def save(self, folder: Path, generation: int) -> Path:
        import faiss

        folder = Path(folder)
        target = folder / f"vectors-{generation:012d}.faiss"
        # Written through a Python file: FAISS's own writer only prints a failed final flush
        # (a full disk, a size limit) and would leave a truncated file to rename into place.
        with atomic.replacing(target, prefix=".vectors-", sync=True) as handle:
            writer = faiss.PyCallbackIOWriter(handle.write)  # type: ignore[attr-defined]  # (not in faiss's stubs)
            faiss.write_index(self._index, writer)
        for old in saved_files(folder):
            if old[1] != target:
                old[1].unlink(missing_ok=True)
        return target

    @classmethod
    def load(cls, path: Path, dim: int) -> VectorIndex:
        import faiss

        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorrupt(f"{path.name} is damaged ({str(exc).splitlines()[0][:80]})") from None
        if index.d != dim:
            raise IndexCorrupt(f"{path.name} holds {index.d}-d vectors, the catalog {dim}-d")
        return cls(index, Spec.of(index))


def _selector(ids: np.ndarray) -> tuple[faiss.IDSelectorBitmap, np.ndarray]:
    """A FAISS selector for `ids` (a bitmap over the id range: cheap to build, O(1) to ask) and
    the array it reads, which must outlive the search."""
    import faiss

    ids = np.asarray(ids, dtype=np.int64)
    mask = np.zeros(int(ids.max(initial=0)) + 1, dtype=bool)
    mask[ids] = True
    bitmap = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(bitmap), faiss.swig_ptr(bitmap)), bitmap  # n counts bytes


def _sample(batches: Batches, count: int, wanted: int) -> np.ndarray:
    """About `wanted` vectors spread evenly over all `count` (a strided pass, no random reads)."""
    stride = max(1, count // max(wanted, 1))
    return np.ascontiguousarray(np.concatenate([v[::stride] for _, v in batches()]), dtype=np.float32)


def saved_files(folder: Path) -> list[tuple[int, Path]]:
    """Saved vector files in `folder`, newest generation first."""
    found = []
    for child in Path(folder).iterdir() if Path(folder).is_dir() else []:
        match = FILE_PATTERN.match(child.name)
        if match:
            found.append((int(match.group(1)), child))
    return sorted(found, reverse=True)


def rerank(query: np.ndarray, ids: Iterable[int], lookup: VectorLookup) -> tuple[np.ndarray, np.ndarray]:
    """Exact scores for candidate `ids`, best first, from `lookup(ids) -> (ids found, vectors)`.

    Ids whose vectors are gone (removed since the index was updated) drop out. Vectors are read
    RERANK_CHUNK at a time: a search that widens to millions of candidates (a folder filter, a
    folder whose disk is unplugged) must not hold all their vectors at once.
    """
    wanted = [int(i) for i in ids if i >= 0]
    query = np.asarray(query, dtype=np.float32).reshape(-1)
    found: list[int] = []
    chunk_scores = [np.zeros(0, dtype=np.float32)]
    for start in range(0, len(wanted), RERANK_CHUNK):
        chunk_found, vectors = lookup(wanted[start:start + RERANK_CHUNK])
        found += chunk_found
        chunk_scores.append(vectors @ query)
    scores = np.concatenate(chunk_scores)
    order = np.argsort(-scores, kind="stable")
    return scores[order], np.asarray(found, dtype=np.int64)[order]
