"""Indexing: diff the folders against the catalog, then embed what changed.

The plan compares a scan with the catalog by (size, mtime): files are new, changed, unchanged
or missing. Every new or changed file is read once; its content hash decides whether it needs
the model at all: a hash already in the catalog means a moved, renamed, touched or duplicate
file, whose stored vector is reused. The rest are decoded in worker threads while the encoder
runs on the previous batch (Pillow and ONNX Runtime both release the GIL), and each batch is
committed in one transaction: a crash loses at most the batch in flight. Missing files that no
new file claimed as a move are removed at the end.

Every file read also gives its metadata (metadata.py, from the same bytes), and every decoded
photo its perceptual hash; GPS positions are named (places.py) when a batch is committed.
Unchanged files whose metadata was never read (an index made before pixseek read metadata) are
read for it alone: no hashing, no decoding, no model.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import deque
from itertools import chain
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from collections.abc import Callable, Iterable, Iterator

import numpy as np

from pixseek.environment import number
from pixseek.errors import ImageError
from pixseek.files import FileEntry, ScanTally, scan
from pixseek.images import decode, perceptual_hash, read_file
from pixseek.metadata import PhotoMetadata, read_metadata
from pixseek.model import Encoder
from pixseek.places import Place, name_places
from pixseek.raw import NEEDS_RAWPY, raw_supported
from pixseek.engine.results import ChangeSummary, IndexReport, Progress, ProgressCallback
from pixseek.store.catalog import Catalog, Description, FileRecord, NewFile

DEFAULT_BATCH = 32  # photos per encoder call and per committed transaction (PIXSEEK_BATCH)


def batch_size() -> int:
    return number("PIXSEEK_BATCH", DEFAULT_BATCH, minimum=1)


def content_hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


@dataclass
class Plan:
    roots: list[str]
    candidates: list[FileEntry] = field(default_factory=list)  # new or changed: to read
    previous: dict[str, FileRecord] = field(default_factory=dict)  # changed path -> its old row
    missing: dict[int, FileRecord] = field(default_factory=dict)  # rows whose file is gone
    undescribed: dict[str, int] = field(default_factory=dict)  # unchanged file -> its row, metadata never read
    undescribed_entries: list[FileEntry] = field(default_factory=list)
    gone_skipped: list[str] = field(default_factory=list)  # skipped files that are gone: forget them
    unchanged: int = 0
    skipped_before: int = 0
    scan_errors: list[tuple[str, str]] = field(default_factory=list)
    new_scan_errors: list[tuple[str, str]] = field(default_factory=list)  # not yet in the catalog as such
    tally: ScanTally = field(default_factory=ScanTally)

    def summary(self) -> ChangeSummary:
        changed = len(self.previous)
        return ChangeSummary(new=len(self.candidates) - changed, changed=changed, deleted=len(self.missing),
                             unchanged=self.unchanged, undescribed=len(self.undescribed))

    def entries(self) -> list[FileEntry]:
        """Every file the run reads: new and changed ones, then those read for metadata alone."""
        return self.candidates + self.undescribed_entries


def make_plan(catalog: Catalog, roots: Iterable[str], shallow: Iterable[str] = (),
              vanished: Iterable[str] = (), include_hidden: bool = False) -> Plan:
    """Diff `roots` (recursively) against the catalog. A watcher's update also names `shallow`
    folders (only the files directly in them are looked at) and `vanished` folders (gone: every
    file the catalog holds under them is missing, and none is scanned)."""
    roots = [os.path.abspath(r) for r in roots]
    shallow = {os.path.abspath(f) for f in shallow}
    vanished = [os.path.abspath(f) for f in vanished]
    plan = Plan(roots + sorted(shallow))

    def direct(path: str) -> bool:
        return os.path.dirname(path) in shallow

    known = {record.path: record for record in catalog.files_under(roots + vanished)}
    known.update((r.path, r) for r in catalog.files_under(shallow) if direct(r.path))
    skipped = catalog.skipped_under(roots + vanished)
    skipped.update((p, s) for p, s in catalog.skipped_under(shallow).items() if direct(p))

    def on_error(path: str, reason: str) -> None:
        plan.scan_errors.append((path, reason))

    # Links may lead anywhere inside the index's folders, whichever part of them is scanned.
    walk = dict(on_error=on_error, include_hidden=include_hidden, tally=plan.tally, bounds=catalog.roots() + roots)
    for entry in chain(scan(roots, **walk), scan(sorted(shallow), recursive=False, **walk)):
        record = known.pop(entry.path, None)
        skip = skipped.pop(entry.path, (None, None))
        if record is not None and (record.size, record.mtime_ns) == (entry.size, entry.mtime_ns):
            plan.unchanged += 1
            if not record.described:
                plan.undescribed[entry.path] = record.id
                plan.undescribed_entries.append(entry)
            continue
        if record is None and skip[:2] == (entry.size, entry.mtime_ns) and not _retry_skip(skip[2]):
            plan.skipped_before += 1
            continue
        if record is not None:
            plan.previous[entry.path] = record
        plan.candidates.append(entry)
    unreadable = {path for path, _ in plan.scan_errors}
    # Broken links and unreadable folders are skipped files too: kept in the catalog like the rest,
    # so that the run's summary and the index's status count the same skipped files.
    plan.new_scan_errors = [(path, reason) for path, reason in plan.scan_errors
                            if skipped.get(path, (None, None, None))[2] != reason]

    def gone(path: str) -> bool:  # not seen, and not merely hidden behind an unreadable folder
        return path not in unreadable and not any(path.startswith(os.path.join(u, "")) for u in unreadable)

    plan.missing = {r.id: r for r in known.values() if gone(r.path)}
    plan.gone_skipped = [path for path in skipped if gone(path)]
    return plan


def _retry_skip(reason: str) -> bool:
    """A RAW file skipped for want of rawpy is read again once rawpy is installed."""
    return reason.startswith(NEEDS_RAWPY) and raw_supported()


def update_targets(changed: Iterable[str | os.PathLike], roots: list[str]) -> tuple[list[str], list[str], list[str]]:
    """Where to look after `changed` paths changed inside `roots`: (folders to rescan whole,
    folders whose own files to recheck, folders that are gone), for make_plan. A root that is
    itself gone is left alone: an unmounted disk is not a deleted collection."""
    deep: set[str] = set()
    shallow: set[str] = set()
    vanished: set[str] = set()
    for raw in changed:
        path = os.path.abspath(os.fspath(raw))
        root = next((r for r in roots if path == r or path.startswith(os.path.join(r, ""))), None)
        if root is None or any(part.startswith(".") for part in os.path.relpath(path, root).split(os.sep)):
            continue
        if os.path.isdir(path):
            deep.add(path)
        elif os.path.lexists(path):
            shallow.add(os.path.dirname(path))
        elif os.path.isdir(root):
            while not os.path.isdir(os.path.dirname(path)):  # the highest folder that went with it
                path = os.path.dirname(path)
            vanished.add(path)
            shallow.add(os.path.dirname(path))

    def covered(path: str, by: set[str]) -> bool:
        return any(path.startswith(os.path.join(folder, "")) for folder in by)

    deep = {d for d in deep if not covered(d, deep)}
    shallow = {s for s in shallow if s not in deep and not covered(s, deep)}
    vanished = {v for v in vanished if not covered(v, deep | vanished)}
    return sorted(deep), sorted(shallow), sorted(vanished)


@dataclass
class _Outcome:
    entry: FileEntry
    hash: bytes | None = None
    reuse_id: int | None = None  # a stored row with the same content
    pixels: np.ndarray | None = None
    size: tuple[int, int] = (0, 0)
    error: ImageError | None = None
    metadata: PhotoMetadata | None = None
    phash: int | None = None
    describe_id: int | None = None  # an unchanged row read only for its metadata
    vector: np.ndarray | None = None  # already embedded (on a cluster node): no need to encode


def examine(entry: FileEntry, find_stored: Callable[[bytes], int | None], min_side: int, preprocess: Callable,
            describe_id: int | None = None) -> _Outcome:
    """Read a file, take its metadata and hash it, and decode it only if `find_stored(hash)` finds
    no stored vector with the same content; a row whose metadata was never read (`describe_id`) is
    only read for it. The local indexer's threads and the cluster's nodes both do this."""
    outcome = _Outcome(entry, describe_id=describe_id)
    try:
        data = read_file(entry.path)
        outcome.metadata = read_metadata(data, entry.path, entry.mtime_ns)
        if describe_id is not None:
            return outcome
        outcome.hash = content_hash(data)
        outcome.reuse_id = find_stored(outcome.hash)
        if outcome.reuse_id is None:
            image = decode(data, min_side=min_side, name=entry.path)
            outcome.size = image.size
            outcome.phash = perceptual_hash(image)
            outcome.pixels = preprocess(image)
    except ImageError as error:
        outcome.error = error
    return outcome


class Indexer:
    def __init__(self, catalog: Catalog, encoder: Encoder, workers: int | None = None):
        self.catalog = catalog
        self.encoder = encoder
        self.workers = workers or number("PIXSEEK_DECODE_WORKERS", 0) or os.cpu_count() or 1
        self.batch_size = batch_size()
        self._reader = catalog.clone()
        self._reader_lock = threading.Lock()

    def close(self) -> None:
        self._reader.close()

    def _find_stored(self, content: bytes) -> int | None:
        with self._reader_lock:
            return self._reader.find_by_hash(content)

    def _examine(self, entry: FileEntry, undescribed: dict[str, int]) -> _Outcome:
        """Worker: see `examine`. A run that only reads metadata has no encoder, and needs none."""
        size, preprocess = (self.encoder.image_size, self.encoder.preprocess) if self.encoder else (0, None)
        return examine(entry, self._find_stored, size, preprocess, undescribed.get(entry.path))

    def _outcomes(self, plan: Plan, pool: ThreadPoolExecutor) -> Iterator[_Outcome]:
        """Results in order, with a bounded number of files in flight."""
        pending: deque = deque()
        window = max(2 * self.batch_size, 4 * self.workers)
        for entry in plan.entries():
            pending.append(pool.submit(self._examine, entry, plan.undescribed))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def run(self, plan: Plan, progress: ProgressCallback | None = None,
            cancel: threading.Event | None = None) -> IndexReport:
        report = IndexReport(unchanged=plan.unchanged, skipped_before=plan.skipped_before,
                             skipped=list(plan.scan_errors), hidden=plan.tally.hidden,
                             not_followed=plan.tally.not_followed)
        start = time.monotonic()
        batch = _Batch(self.catalog, self.encoder, plan, self.batch_size)
        total = len(plan.candidates) + len(plan.undescribed)
        done = saved = 0
        saved_at = 0.0
        pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="pixseek-decode")
        try:
            for outcome in self._outcomes(plan, pool):
                if cancel is not None and cancel.is_set():
                    report.cancelled = True
                    break
                batch.take(outcome)
                done += 1
                if batch.full:
                    batch.commit(report)
                    saved, saved_at = done, time.monotonic() - start
                if progress:
                    # The rate counts saved files only: files read and decoded run ahead of the
                    # encoder by a window, and would promise a finish long before it comes.
                    progress(Progress(done, total, report.indexed + batch.pending_embeds, report.reused,
                                      len(report.skipped) - len(plan.scan_errors), time.monotonic() - start,
                                      saved / saved_at if saved_at > 0 else 0.0, outcome.entry.path))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        batch.commit(report)
        batch.finish(report)
        report.elapsed = time.monotonic() - start
        return report


class _Batch:
    """Outcomes waiting to be encoded and committed together."""

    def __init__(self, catalog: Catalog, encoder: Encoder, plan: Plan, size: int):
        self.catalog = catalog
        self.encoder = encoder
        self.plan = plan
        self.size = size
        self.claimed: set[int] = set()  # missing rows claimed by a moved file
        self._reset()

    def _reset(self) -> None:
        self.to_embed: list[_Outcome] = []
        self.reused: list[_Outcome] = []
        self.skips: list[_Outcome] = []
        self.described: list[_Outcome] = []

    @property
    def pending_embeds(self) -> int:
        return len(self.to_embed)

    @property
    def full(self) -> bool:
        return len(self.to_embed) >= self.size or len(self.reused) + len(self.skips) + len(self.described) >= 1000

    def take(self, outcome: _Outcome) -> None:
        if outcome.describe_id is not None:
            if outcome.error is None:  # unreadable now: it stays as it is, and is tried again next run
                self.described.append(outcome)
        elif outcome.error is not None:
            self.skips.append(outcome)
        elif outcome.reuse_id is not None:
            self.reused.append(outcome)
        else:
            self.to_embed.append(outcome)

    def finish(self, report: IndexReport) -> None:
        """At the end of a run (the local one or a cluster's): unless it was cancelled, rows whose
        file is gone and that no new file claimed as moved leave the index and skipped files that
        are gone are forgotten; the scan's new errors are recorded."""
        gone = [] if report.cancelled else [i for i in self.plan.missing if i not in self.claimed]
        forget = [] if report.cancelled else self.plan.gone_skipped
        report.removed = len(gone)
        if gone or forget or self.plan.new_scan_errors:
            self.catalog.commit_batch(removed_ids=gone, forget_skipped=forget,
                                      skipped=[(path, 0, 0, reason) for path, reason in self.plan.new_scan_errors])

    def commit(self, report: IndexReport) -> None:
        if not (self.to_embed or self.reused or self.skips or self.described):
            return
        places = self._places()
        unencoded = [o for o in self.to_embed if o.vector is None]
        if unencoded:
            for outcome, vector in zip(unencoded, self.encoder.encode_pixels(np.stack([o.pixels for o in unencoded]))):
                outcome.vector = vector
        added = [self._new_file(o, o.vector, places) for o in self.to_embed]
        removed: list[int] = []
        moved: list[tuple[int, str, int]] = []
        copies = []
        for outcome in self.reused:
            old = self.plan.previous.get(outcome.entry.path)
            if old is not None and old.id == outcome.reuse_id:  # touched: same content, new mtime
                moved.append((old.id, outcome.entry.path, outcome.entry.mtime_ns))
            elif outcome.reuse_id in self.plan.missing and outcome.reuse_id not in self.claimed:
                self.claimed.add(outcome.reuse_id)  # moved or renamed
                moved.append((outcome.reuse_id, outcome.entry.path, outcome.entry.mtime_ns))
                if old is not None:
                    removed.append(old.id)
            else:  # a duplicate of stored content, or a changed file that now equals another
                copies.append(outcome)
                if old is not None:
                    removed.append(old.id)
        if copies:
            vectors = self.catalog.vectors_for([o.reuse_id for o in copies])
            phashes = self.catalog.phashes(o.reuse_id for o in copies)
            for outcome, vector in zip(copies, vectors):
                outcome.phash = phashes.get(outcome.reuse_id)
                added.append(self._new_file(outcome, vector, places))
        by_path = {o.entry.path: o for o in self.reused}
        described = [(id_, self._description(by_path[path], places)) for id_, path, _ in moved]
        described += [(o.describe_id, self._description(o, places)) for o in self.described]
        described = [(id_, description) for id_, description in described if description is not None]
        for outcome in self.to_embed + self.skips:
            old = self.plan.previous.get(outcome.entry.path)
            if old is not None:
                removed.append(old.id)
        skipped = [(o.entry.path, o.entry.size, o.entry.mtime_ns, o.error.reason) for o in self.skips]
        self.catalog.commit_batch(added=added, removed_ids=removed, moved=moved, skipped=skipped,
                                  forget_skipped=[path for _, path, _ in moved], described=described)
        report.indexed += len(self.to_embed)
        report.reused += len(self.reused)
        report.described += len(self.described)
        report.skipped += [(o.entry.path, str(o.error)) for o in self.skips]
        self._reset()

    def _places(self) -> dict[tuple[float, float], Place | None]:
        """The batch's GPS positions, named in one look-up."""
        positions = {(o.metadata.latitude, o.metadata.longitude) for o in self.to_embed + self.reused + self.described
                     if o.metadata is not None and o.metadata.has_position}
        return dict(zip(positions, name_places(positions)))

    @staticmethod
    def _description(outcome: _Outcome, places: dict) -> Description | None:
        """None where the metadata was not read (a photo embedded on a cluster node): the row
        stays undescribed, and the next local run reads it, as for an index from before metadata."""
        m = outcome.metadata
        return None if m is None else Description(m, places.get((m.latitude, m.longitude)), outcome.phash)

    def _new_file(self, outcome: _Outcome, vector: np.ndarray, places: dict) -> NewFile:
        entry, m = outcome.entry, outcome.metadata
        width, height = (m.width, m.height) if m is not None and m.width and m.height else outcome.size
        return NewFile(entry.path, entry.size, entry.mtime_ns, outcome.hash, width, height, vector,
                       self._description(outcome, places))
