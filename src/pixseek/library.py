"""The Library: the one engine facade that the CLI, the web app and the desktop app call.

Plain data in and out (see reports.py), a progress callback and a cancel event for long work.
It owns the index folder: the SQLite catalog, the FAISS vector file, and the writer lock that
keeps two indexers off the same index. The model is loaded only when a call needs it.

Every public call fails with a one-line PixseekError, never a storage traceback. Opening to
write (`create`) and indexing repair what they find damaged; what was repaired is in `notes`.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sqlite3
import threading
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from collections.abc import Callable, Iterable
from typing import BinaryIO

import numpy as np

from pixseek import containment, duplicates, paths, reindex
from pixseek.duplicates import DuplicateGroup, DuplicatePhoto
from pixseek.errors import (FolderNotFound, FolderNotIndexed, HoldsIndexedFolders, ImageError, IndexCorrupt,
                            IndexIncompatible, IndexLocked, IndexNotFound, PixseekError, QueryError, ShardRefused,
                            StorageError)
from pixseek.files import check_folder
from pixseek.filters import SearchFilters
from pixseek.images import MAX_FILE_BYTES
from pixseek.indexer import Indexer, Plan, ProgressCallback, make_plan, update_targets
from pixseek.model import Encoder, find_bundle
from pixseek.model.bundle import stand_in_warning
from pixseek.reports import ChangeSummary, FolderInfo, IndexedFile, IndexReport, IngestReport, SearchResult, Status
from pixseek.search import DEFAULT_K, Query, Term, combine, min_score_error, parse_query
from pixseek.store.catalog import CATALOG_NAME, Catalog, folder_range, storage_error
from pixseek.store.facets import Facets
from pixseek.store.live_index import SETTING_KEY, LiveVectorIndex, drop_derived_files
from pixseek.store.repair import repair_catalog
from pixseek.store.vector_index import KINDS, saved_files
from pixseek.thumbnails import ThumbnailCache

MAX_K = 1000
MAX_ID = 2**63  # SQLite's integers: larger ids name no photo
SORTS = ("score", "date")  # best first; oldest first (by the instant each photo was taken)
LOCK_NAME = "write.lock"
CLUSTER_SHARDS = "cluster-shards"  # where a cluster run's shards wait to be ingested (unless kept elsewhere)
HIDDEN_KEY = "include_hidden"  # the index's hidden-files policy: "yes", or left out
log = logging.getLogger(__name__)


def index_exists(index_dir: Path | str | None = None) -> bool:
    return (Path(index_dir or paths.default_index_dir()) / CATALOG_NAME).is_file()


@contextmanager
def writing(index_dir: Path):
    """The writer lock: one process at a time changes an index (an fcntl lock, so a process
    that dies, even by SIGKILL, releases it)."""
    from filelock import FileLock, Timeout

    lock = FileLock(str(index_dir / LOCK_NAME), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise IndexLocked(f"another pixseek process is updating the index at {index_dir}; "
                          "wait for it to finish") from None
    except OSError as exc:
        raise StorageError(f"cannot write to the index at {index_dir} ({exc.strerror})") from None
    try:
        yield
    finally:
        lock.release()


def _storage_errors(method):
    """SQLite failures (locked, full, read-only, damaged) become one clear PixseekError."""
    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise storage_error(exc, self.catalog.path) from None
    return guarded


def _model_identity(model: str | None) -> tuple[str, int]:
    bundle = find_bundle(model)
    return bundle.model_id, bundle.config.embedding_dim


class Library:
    def __init__(self, index_dir: Path, catalog: Catalog, model: str | None, precision: str | None,
                 device: str | None):
        self.index_dir = index_dir
        self.catalog = catalog
        self._model_name = model
        self._precision = precision
        self._device = device
        self._encoder: Encoder | None = None
        self._live: LiveVectorIndex | None = None
        self._facets: Facets | None = None
        self._text_cache: dict[str, np.ndarray] = {}
        self._lock = threading.RLock()
        self.thumbnails = ThumbnailCache()
        self.notes: list[str] = []  # what opening or indexing had to repair
        self._made = False  # this Library made the index: if nothing is ever added, close() removes it
        self._catalog_file = _file_identity(catalog.path)

    def _note(self, message: str) -> None:
        log.warning(message)
        self.notes.append(message)

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, index_dir: Path | str | None = None, model: str | None = None, create: bool = False,
             precision: str | None = None, device: str | None = None) -> Library:
        """Open an index; with `create`, make it (with `model`, default the default model) if absent,
        and repair it if its catalog is damaged."""
        index_dir = Path(index_dir or paths.default_index_dir()).expanduser().absolute()
        notes = []
        made = False
        if reindex.finish_interrupted_swap(index_dir):
            notes.append("finished putting in place an index rebuilt for another model (the last run stopped midway)")
        try:
            catalog = Catalog.open(index_dir, create=False)
        except IndexNotFound:
            if not create:
                if saved_files(index_dir):
                    raise IndexNotFound(f"the index at {index_dir} has lost its catalog ({CATALOG_NAME}); a vector "
                                        "file alone cannot tell which photo is which: indexing a folder makes "
                                        "a new one") from None
                raise
            catalog, notes = cls._new_catalog(index_dir, model)
            made = True
        except IndexCorrupt as damage:
            if not create:
                raise
            with writing(index_dir):
                notes = [repair_catalog(index_dir, damage.reason, *_model_identity(model))]
            catalog = Catalog.open(index_dir, create=False)
        if model is not None:
            bundle = find_bundle(model)
            if bundle.model_id != catalog.model_id:
                built_with = catalog.model_id
                catalog.close()
                raise IndexIncompatible(
                    f"the index at {index_dir} was built with model {built_with!r}, not {bundle.model_id!r} "
                    f"({bundle.name}); rebuild it for {bundle.name} (the old one keeps working until the new one "
                    "is complete), or use another index for it", model=model)
        library = cls(index_dir, catalog, model, precision, device)
        library._made = made
        for note in notes:
            library._note(note)
        return library

    @staticmethod
    def _new_catalog(index_dir: Path, model: str | None) -> tuple[Catalog, list[str]]:
        """A new catalog (also where a run was killed while making one). Vector files already
        in the folder belong to a catalog that is gone, so they must not be mixed with it."""
        model_id, dim = _model_identity(model)
        catalog = Catalog.open(index_dir, create=True, model_id=model_id, dim=dim)
        dropped = drop_derived_files(index_dir)
        return catalog, [f"the catalog was missing: made a new one and dropped {dropped} vector file(s) "
                         "that belonged to the old one"] if dropped else []

    def _repair_if_damaged(self) -> None:
        """Under the write lock: a catalog that fails its check is rebuilt from what it still holds."""
        problems = self.catalog.check()
        if problems:
            self.catalog.close()
            self._note(repair_catalog(self.index_dir, "; ".join(problems), *_model_identity(self._model_name)))
            self.catalog = Catalog.open(self.index_dir, create=False)
            self._catalog_file = _file_identity(self.catalog.path)
            self._live = self._facets = None

    def close(self) -> None:
        if self._live is not None:
            self._live.close()
        if self._encoder is not None:
            self._encoder.close()
            self._encoder = None
        unused = self._made and self._holds_nothing()
        self.catalog.close()
        if unused:
            self._remove_unused_index()

    def is_current(self) -> bool:
        """Whether the index's catalog is still the file this Library reads: another process may
        have rebuilt a damaged one, or removed an index it made and never filled. A long-lived
        face (the web app) then opens a new Library."""
        return _file_identity(self.catalog.path) == self._catalog_file

    def _holds_nothing(self) -> bool:
        try:
            return not self.catalog.roots() and self.catalog.count() == 0
        except sqlite3.Error:
            return False

    def _remove_unused_index(self) -> None:
        """An index made for a run that never added a folder (a missing folder, a dry run) is not
        left behind: later commands then say there is no index yet, not "no results"."""
        self._made = False
        try:
            with writing(self.index_dir):
                for name in (CATALOG_NAME, f"{CATALOG_NAME}-wal", f"{CATALOG_NAME}-shm"):
                    (self.index_dir / name).unlink(missing_ok=True)
        except (PixseekError, OSError):
            return  # another process has it (and may be filling it): it stays
        (self.index_dir / LOCK_NAME).unlink(missing_ok=True)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def encoder(self) -> Encoder:
        """The model this index was built with (loaded on first use)."""
        with self._lock:
            if self._encoder is None:
                bundle = find_bundle(self._model_name) if self._model_name else None
                if bundle is None or bundle.model_id != self.catalog.model_id:
                    bundle = find_bundle(model_id=self.catalog.model_id)
                if bundle.config.embedding_dim != self.catalog.dim:
                    raise IndexIncompatible(f"model {bundle.name} makes {bundle.config.embedding_dim}-d vectors, "
                                            f"this index holds {self.catalog.dim}-d ones")
                self._encoder = Encoder(bundle, precision=self._precision, device=self._device)
            return self._encoder

    def _vectors(self) -> LiveVectorIndex:
        with self._lock:
            if self._live is None:
                self._live = LiveVectorIndex(self.index_dir, self.catalog)
            return self._live

    def _metadata(self) -> Facets:
        """The photos' metadata in memory, loaded on the first search that filters by it."""
        if not self.catalog.has_metadata:
            raise QueryError(f"the index at {self.index_dir} was made by an older pixseek and cannot be updated "
                             "here (it is read-only), so its photos' dates, cameras and places are not known yet")
        live = self._vectors()
        with self._lock:
            if self._facets is None:
                self._facets = Facets(self.catalog, live.lock)
            return self._facets

    # -- indexing ---------------------------------------------------------------------------

    def _folders_to_scan(self, folders, catalog: Catalog | None = None) -> list[str]:
        """The folders asked for, each checked; none asked for: every indexed folder still there
        (a missing one, an unmounted drive, keeps its photos and is named in a note)."""
        catalog = catalog or self.catalog
        if isinstance(folders, (str, os.PathLike)):
            folders = [folders]
        if folders:
            return [check_folder(folder) for folder in folders]
        roots = catalog.roots()
        if not roots:
            raise FolderNotFound("no folder given, and this index has no folders yet")
        present = [root for root in roots if os.path.isdir(root)]
        for root in roots:
            if root not in present:
                self._note(missing_note(root, self.catalog.count_under(root)))
        if not present:
            raise FolderNotFound("every folder of this index is missing: " + ", ".join(roots))
        return [check_folder(root) for root in present]

    @contextmanager
    def _writer(self):
        """A connection of its own for a write, so that searches from other threads, on the
        shared connection, never see (or join) its open transactions."""
        writer = self.catalog.clone()
        try:
            yield writer
        finally:
            writer.close()

    def _save_vectors(self) -> None:
        """Write the vector file. The catalog is committed by now, so a failure here loses
        nothing: searches rebuild the vectors from the catalog until a save succeeds."""
        try:
            self._vectors().save()
        except (OSError, RuntimeError) as exc:  # FAISS reports a failed write as RuntimeError
            raise StorageError(f"the index at {self.index_dir} is up to date, but its vector file could not be "
                               f"written ({_write_failure(exc)}); searches rebuild it from the catalog meanwhile") from None

    def _run(self, plan_for: Callable[[Catalog], Plan], progress: ProgressCallback | None,
             cancel: threading.Event | None) -> IndexReport:
        """Under the write lock: repair what is damaged, plan on a writer connection, index."""
        with writing(self.index_dir):
            self._repair_if_damaged()
            with self._writer() as writer:
                plan = plan_for(writer)
                indexer = Indexer(writer, self.encoder if plan.candidates else None)
                try:
                    report = indexer.run(plan, progress, cancel)
                finally:
                    indexer.close()
            self._save_vectors()
            return report

    @_storage_errors
    def index_on_cluster(self, folders: Iterable[str | os.PathLike] | None = None, cluster: str = "local",
                         shards: Path | str | None = None, progress: ProgressCallback | None = None,
                         cancel: threading.Event | None = None, dashboard: bool = False,
                         include_hidden: bool | None = None) -> IndexReport:
        """Like `index`, with the decoding and embedding done on the Ray cluster at `cluster`
        ("local", "auto", "ray://HEAD:PORT", "HEAD:PORT"). Results come back as Parquet shards,
        ingested as they arrive; `shards` keeps them in that folder (else they are deleted once
        ingested). `dashboard` starts Ray's dashboard (on 127.0.0.1) for a "local" cluster."""
        from pixseek.cluster.ingest import Ingester
        from pixseek.cluster.job import run_job
        from pixseek.cluster.shards import list_shards

        with writing(self.index_dir):
            self._repair_if_damaged()
            own = self.index_dir / CLUSTER_SHARDS
            with self._writer() as writer:
                folders = self._folders_to_scan(folders, writer)
                writer.add_roots(folders)
                if include_hidden is not None:  # the hidden-files policy, as for `index`
                    writer.set_setting(HIDDEN_KEY, "yes" if include_hidden else "no")
                for leftover in list_shards(own):  # a killed run's last shard: ingested, not embedded again
                    try:
                        Ingester(writer, self.encoder.bundle).ingest_file(leftover)
                    except ShardRefused as refusal:
                        self._note(f"{refusal}; deleted it (its photos are embedded again)")
                    leftover.unlink()
                plan = make_plan(writer, folders, include_hidden=writer.meta(HIDDEN_KEY) == "yes")
                report = run_job(writer, plan, self.encoder.bundle, self._precision, cluster,
                                 Path(shards) if shards else own, keep_shards=shards is not None,
                                 progress=progress, cancel=cancel, dashboard=dashboard)
            self._save_vectors()
            return report

    @_storage_errors
    def ingest(self, folder: Path | str) -> IngestReport:
        """Merge the Parquet shards in `folder` (from `index_on_cluster`) into the index, upserting
        by content hash; shards from another model or preprocessing, or damaged, are refused."""
        from pixseek.cluster.ingest import ingest_folder

        with writing(self.index_dir):
            self._repair_if_damaged()
            with self._writer() as writer:
                report = ingest_folder(writer, self.encoder.bundle, Path(folder).expanduser())
            if report.shards:  # (an index made for shards that were all refused is not kept: no vector file)
                self._save_vectors()
            return report

    @_storage_errors
    def index(self, folders: Iterable[str | os.PathLike] | None = None, progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None, include_hidden: bool | None = None) -> IndexReport:
        """Bring the index up to date with `folders` (default: every folder already indexed).

        `include_hidden` sets the index's policy for hidden files and folders (names starting
        with "."), kept for later runs; None keeps the one it has (default: left out)."""

        def plan_for(writer: Catalog) -> Plan:
            checked = self._folders_to_scan(folders, writer)
            writer.add_roots(checked)
            if include_hidden is not None:
                writer.set_setting(HIDDEN_KEY, "yes" if include_hidden else "no")
            return make_plan(writer, checked, include_hidden=writer.meta(HIDDEN_KEY) == "yes")

        return self._run(plan_for, progress, cancel)

    @_storage_errors
    def update(self, changed: Iterable[str | os.PathLike], progress: ProgressCallback | None = None,
               cancel: threading.Event | None = None) -> IndexReport:
        """Bring the index up to date for files and folders that changed inside the indexed
        folders (what a file watcher saw), looking only where they are: a changed file's folder
        (not below it), a new folder (all of it), a folder that is gone (its files leave).
        Paths outside the indexed folders, or under hidden names, are ignored."""
        if isinstance(changed, (str, os.PathLike)):
            changed = [changed]

        def plan_for(writer: Catalog) -> Plan:
            return make_plan(writer, *update_targets(changed, writer.roots()),
                             include_hidden=writer.meta(HIDDEN_KEY) == "yes")

        return self._run(plan_for, progress, cancel)

    @_storage_errors
    def reindex(self, model: str, folders: Iterable[str | os.PathLike] | None = None,
                progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> IndexReport:
        """Rebuild this index for `model` (every photo embedded again) beside the old one, which
        keeps answering searches until the new one is complete and takes its place. Cancelled, the
        rebuild keeps what it has done and the next call resumes it."""
        bundle = find_bundle(model)
        with writing(self.index_dir):
            if reindex.staged_model(self.index_dir) not in (None, bundle.model_id):
                reindex.discard_staging(self.index_dir)  # a rebuild for a third model, abandoned
            missing = [root for root in self.catalog.roots() if not os.path.isdir(root)]
            if missing and not folders:  # the rebuilt index would lose their photos
                raise FolderNotFound(f"an indexed folder is missing ({', '.join(missing)}): bring it back before "
                                     "rebuilding, or remove it from the index")
            folders = self._folders_to_scan(folders)
            include_hidden = self.catalog.meta(HIDDEN_KEY) == "yes"  # the rebuilt index keeps the policy
            with Library.open(reindex.staging_dir(self.index_dir), model=model, create=True,
                              precision=self._precision, device=self._device) as rebuilt:
                report = rebuilt.index(folders, progress, cancel, include_hidden=include_hidden)
            if report.cancelled:
                return report
            reindex.mark_complete(self.index_dir)
            self.close()
            reindex.swap_in(self.index_dir)
        self.catalog = Catalog.open(self.index_dir, create=False)
        self._catalog_file = _file_identity(self.catalog.path)
        self._model_name, self._live, self._facets = model, None, None
        self._text_cache.clear()
        return report

    @_storage_errors
    def set_vector_index(self, kind: str) -> None:
        """Force a vector index kind ("flat", "ivf", "ivf4"), or "auto" to choose by size; applied now."""
        if kind not in KINDS:
            raise PixseekError(f"unknown vector index kind {kind!r}; use one of {', '.join(KINDS)}")
        with writing(self.index_dir), self._writer() as writer:
            writer.set_setting(SETTING_KEY, kind)
        with writing(self.index_dir):
            self._save_vectors()

    @_storage_errors
    def changes(self, folders: Iterable[str | os.PathLike] | None = None) -> ChangeSummary:
        """What `index` would do now, without doing it."""
        folders = self._folders_to_scan(folders)
        return make_plan(self.catalog, folders, include_hidden=self.catalog.meta(HIDDEN_KEY) == "yes").summary()

    def _indexed_folder(self, folder, around: bool = True) -> str:
        """`folder` as the index names it: an indexed folder or one inside it, decided on where
        it leads (containment.indexed_form); with `around`, also a folder written around indexed
        ones (a search in it covers them). Otherwise a FolderNotIndexed saying what is held."""
        path = containment.absolute(folder)
        roots = self.catalog.roots()
        named = containment.indexed_form(path, roots)
        if named is not None:
            return named
        inside = [root for root in roots if containment.is_inside(root, path)]
        if inside and around:
            return path
        if inside:
            raise HoldsIndexedFolders(f"{folder} is not an indexed folder; it holds {len(inside)} "
                                      f"({', '.join(inside)}): remove those instead", inside)
        held = ", ".join(roots) if roots else "none yet"
        raise FolderNotIndexed(f"{folder} is not in the index, or leads out of it (its folders: {held})")

    @_storage_errors
    def remove(self, folder: str | os.PathLike) -> int:
        """Drop an indexed folder, or a folder inside one, from the index; returns files removed.
        A folder that only holds indexed ones is refused (HoldsIndexedFolders names them)."""
        path = self._indexed_folder(folder, around=False)
        with writing(self.index_dir):
            with self._writer() as writer:
                removed = writer.remove_roots([path])
            self._save_vectors()
            return removed

    # -- searching --------------------------------------------------------------------------

    def _term_vector(self, term: Term) -> np.ndarray:
        if term.text is not None:
            cached = self._text_cache.get(term.text)
            if cached is None:
                cached = self.encoder.encode_texts([term.text])[0]
                if len(self._text_cache) > 256:
                    self._text_cache.clear()
                self._text_cache[term.text] = cached
            return cached
        record = self.catalog.lookup(term.image)
        if record is not None and _stat_key(term.image) == (record.size, record.mtime_ns):
            return self.catalog.vectors_for([record.id])[0]
        from pixseek.images import open_upright

        try:
            image = open_upright(term.image, min_side=self.encoder.image_size)
        except ImageError as error:
            raise QueryError(f"cannot use {term.image} as a query image: {error}") from None
        return self.encoder.encode_images([image])[0]

    @_storage_errors
    def query_vector(self, query: Query) -> np.ndarray:
        vectors = np.stack([self._term_vector(t) for t in query.terms])
        return combine(vectors, np.array([t.weight for t in query.terms]))

    @_storage_errors
    def search(self, query: Query | str, k: int = DEFAULT_K, min_score: float | None = None,
               filters: SearchFilters | None = None, sort: str = "score") -> list[SearchResult]:
        """The `k` best matches among the photos that pass `filters`, best first, or in the order
        they were taken with sort="date". Each result carries the photo's metadata and place."""
        if isinstance(query, str):
            query = parse_query([query])
        if not 1 <= k <= MAX_K:
            raise QueryError(f"the number of results must be between 1 and {MAX_K}")
        if sort not in SORTS:
            raise QueryError(f"unknown sort order {sort!r}; use one of {', '.join(SORTS)}")
        if min_score is not None and not -1 <= min_score <= 1:  # a cosine; NaN fails the test too
            raise QueryError(min_score_error(min_score))
        filters = filters or SearchFilters()
        if filters.folder is not None:
            within = self._indexed_folder(filters.folder)
            missing = next((root for root in self.catalog.roots()
                            if containment.is_inside(within, root) and not os.path.isdir(root)),
                           None)
            if missing:
                raise FolderNotFound(missing_note(missing, self.catalog.count_under(missing)))
            filters = replace(filters, folder=within)
        if self._live is None and any(t.text is not None for t in query.terms):
            self.encoder.preload("text")  # the first search loads the model while the vector index opens
        live = self._vectors()
        vector = self.query_vector(query)
        allowed = self._metadata().select(filters) if filters.needs_metadata else None
        bounds = folder_range(filters.folder) if filters.folder else None
        pool = live.index.ntotal if allowed is None else len(allowed)
        fetch = k if bounds is None and min_score is None else k * 4
        while True:
            scores, ids = live.search(vector, fetch, allowed)
            paths_by_id = self.catalog.paths_for(i for i in ids if i >= 0)
            results = []
            for score, id_ in zip(scores, ids):
                path = paths_by_id.get(int(id_))
                if path is None or (min_score is not None and score < min_score):
                    continue
                if bounds and not bounds[0] <= os.fsencode(path) < bounds[1]:
                    continue
                if os.path.exists(path):
                    results.append(SearchResult(path, float(score), int(id_)))
            exhausted = fetch >= pool or (min_score is not None and len(scores) and scores[-1] < min_score)
            if len(results) >= k or exhausted:
                return self._described(results[:k], sort)
            fetch *= 4

    def _described(self, results: list[SearchResult], sort: str) -> list[SearchResult]:
        found = self.catalog.descriptions(r.id for r in results)
        results = [replace(r, metadata=found[r.id].metadata, place=found[r.id].place) if r.id in found else r
                   for r in results]
        if sort == "date":  # photos whose metadata is not read yet go last
            results.sort(key=lambda r: r.metadata.taken_at if r.metadata else float("inf"))
        return results

    # -- duplicates -------------------------------------------------------------------------

    @_storage_errors
    def duplicates(self, threshold: float | None = None, folder: str | None = None) -> list[DuplicateGroup]:
        """Groups of exact copies and near-duplicates (see duplicates.py), each best copy first,
        largest groups first; `threshold` is the CLIP cosine a near-duplicate needs."""
        threshold = duplicates.DEFAULT_THRESHOLD if threshold is None else threshold
        if not 0 < threshold <= 1:
            raise QueryError(f"the duplicate threshold must be more than 0 and at most 1 (got {threshold:g})")
        live = self._vectors()
        folder = self._indexed_folder(folder) if folder is not None else None
        with self.catalog.snapshot():
            ids, copies = self.catalog.ids_under(folder), self.catalog.copies(folder)
        later_copies = {i for members in copies for i in members[1:]}  # one vector per content is enough
        unique = np.array([i for i in ids if i not in later_copies], dtype=np.int64)
        pairs = duplicates.near_pairs(lambda q: live.neighbours(q, duplicates.K_NEIGHBOURS, duplicates.NPROBE),
                                      self.catalog.vectors_for, unique, threshold, self._phashes)
        return [self._duplicate_group(members) for members in
                sorted(duplicates.group(copies, pairs), key=lambda g: (-len(g), g[0]))]

    def _phashes(self, ids: list[int]) -> dict[int, int]:
        """Stored perceptual hashes, and those missing (photos indexed by an older pixseek) from the files."""
        known = self.catalog.phashes(ids)
        missing = self.catalog.paths_for(i for i in ids if i not in known)
        return {**known, **duplicates.missing_phashes(missing)}

    def _duplicate_group(self, ids: list[int]) -> DuplicateGroup:
        details = self.catalog.file_details(ids)
        described = self.catalog.descriptions(ids)
        found = [i for i in ids if i in details]

        def rank(id_):  # the most pixels, the most bytes, the oldest
            path, size, width, height, _ = details[id_]
            taken = described[id_].metadata.taken_at if id_ in described else float("inf")
            return -width * height, -size, taken, path

        found.sort(key=rank)
        vectors = dict(zip(found, self.catalog.vectors_for(found)))
        best = found[0]
        return DuplicateGroup([
            DuplicatePhoto(i, details[i][0], details[i][1], details[i][2], details[i][3],
                           described[i].metadata if i in described else None, details[i][4] == details[best][4],
                           float(np.dot(vectors[i], vectors[best]))) for i in found])

    # -- information ------------------------------------------------------------------------

    @_storage_errors
    def photo_path(self, photo_id: int) -> str | None:
        """The path of the indexed photo with this id (SearchResult.id), None if it has left the
        index: a face can name a photo by its id, in a URL say, without a path."""
        if not _valid_id(photo_id):
            return None
        return self.catalog.paths_for([photo_id]).get(int(photo_id))

    @_storage_errors
    def contains(self, path: str) -> bool:
        """True only for a file that is in the index (what the web app may serve), named exactly
        as indexed: normalising `x/link/../a.jpg` to `x/a.jpg` would vouch for another file."""
        return self.catalog.lookup(path) is not None

    @_storage_errors
    def file(self, id_: int) -> IndexedFile | None:
        """The indexed photo with this id (ids are in search results), or None."""
        if not _valid_id(id_):
            return None
        info = self.catalog.file_info(id_)
        if info is None:
            return None
        path, size, mtime_ns, width, height, indexed_at = info
        return IndexedFile(int(id_), path, size, mtime_ns / 1e9, width, height, indexed_at)

    @_storage_errors
    def vector(self, path: str) -> np.ndarray | None:
        """The stored vector of a file, named exactly as indexed (None if it is not in the index)."""
        record = self.catalog.lookup(path)
        return None if record is None else self.catalog.vectors_for([record.id])[0]

    @_storage_errors
    def folders(self) -> list[str]:
        """The folders this index covers (each searched recursively)."""
        return self.catalog.roots()

    @_storage_errors
    def count(self, folder: str | os.PathLike | None = None) -> int:
        """Photos in the index, or only those under `folder`."""
        if folder is None:
            return self.catalog.count()
        return self.catalog.count_under(containment.absolute(folder))

    @property
    def model_id(self) -> str:
        """The model this index was built with."""
        return self.catalog.model_id

    @property
    def model_warning(self) -> str | None:
        """What every face must say about this index's model, if anything (a random stand-in)."""
        return stand_in_warning(self.catalog.model_id)

    @_storage_errors
    def thumbnail(self, path: str, size: int = 256) -> bytes:
        record = self.catalog.lookup(os.path.abspath(path))
        if record is None:
            raise FolderNotFound(f"not in the index: {path}")
        return self.thumbnails.get(record.path, lambda: self.original(record.path), record.hash, size)

    @_storage_errors
    def open_original(self, path: str) -> BinaryIO:
        """A file in the index, named exactly as indexed, opened for reading (what a face may
        offer for download): FolderNotFound for any other path, OutsideFolders when it now
        leads out of the indexed folders (a link swapped in since), ImageError when unreadable."""
        if not self.contains(path):
            raise FolderNotFound(f"not in the index: {path}")
        return containment.open_inside(path, self.catalog.roots())

    def original(self, path: str) -> bytes:
        """The bytes of a file in the index, as open_original checks it."""
        with self.open_original(path) as opened:
            data = opened.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ImageError("too large", f"over {MAX_FILE_BYTES // 2**20} MiB")
        return data

    @_storage_errors
    def skipped(self) -> list[tuple[str, str]]:
        """(path, reason) of every file that could not be indexed."""
        return self.catalog.skipped()

    @_storage_errors
    def folder_details(self) -> list[FolderInfo]:
        """The indexed folders, with their photo counts and whether each is there now."""
        return [FolderInfo(root, self.catalog.count_under(root), os.path.isdir(root)) for root in self.catalog.roots()]

    @_storage_errors
    def status(self, check: bool = True) -> Status:
        """The index at a glance; `check=False` skips the integrity check, whose time grows with
        the catalog (for a status redrawn while indexing)."""
        problems = self.catalog.check() if check else []
        live = self._vectors()
        live.refresh()
        count = self.catalog.count()
        if live.index.ntotal != count:
            problems.append(f"vector index holds {live.index.ntotal} vectors for {count} files")
        updated = float(self.catalog.meta("updated_at", "0"))
        roots = self.catalog.roots()
        return Status(index_dir=str(self.index_dir), model_id=self.catalog.model_id, images=count,
                      folders=roots, missing_folders=[root for root in roots if not os.path.isdir(root)],
                      include_hidden=self.catalog.meta(HIDDEN_KEY) == "yes", skipped=self.catalog.count_skipped(),
                      last_update=updated or None, vector_index=live.index.describe(), runs_on=self._runs_on(),
                      consistent=not problems, problems=problems,
                      notes=[n for n in [self.model_warning] if n] + self.notes + live.notes)

    def _runs_on(self) -> str:
        try:
            return self.encoder.describe()
        except PixseekError as error:  # the model is not installed here, or cannot be used
            return f"cannot run: {error}"


def _file_identity(path: Path) -> tuple[int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _valid_id(id_) -> bool:
    """Whether `id_` can name a row at all: a whole number SQLite can hold (a huge, negative or
    fractional id from a URL names no photo rather than overflowing)."""
    return isinstance(id_, (int, np.integer)) and not isinstance(id_, bool) and 1 <= id_ < MAX_ID



def missing_note(folder: str, images: int) -> str:
    return (f"the indexed folder {folder} is missing (an unmounted drive?): its {images} photos are kept in the "
            "index but left out of searches until it is back; or remove it from the index")


def _stat_key(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:  # gone since the query was parsed: decoding it says so
        return None
    return stat.st_size, stat.st_mtime_ns


def _write_failure(exc: Exception) -> str:
    """The system's words for a failed write: strerror, or the last parenthesis in FAISS's message."""
    if getattr(exc, "strerror", None):
        return exc.strerror
    found = re.findall(r"\(([^()]+)\)", str(exc))
    return found[-1] if found else str(exc).splitlines()[0]
