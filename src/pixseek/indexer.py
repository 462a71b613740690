"""Indexing: diff the folders against the catalog, then run the signals on what changed.

The plan compares a scan with the catalog by (size, mtime): files are new, changed, unchanged
or missing. Every new or changed file is read once; its signals that read bytes run on it (the
metadata), and its content hash decides whether the signals that read the image (the CLIP
vector, the perceptual hash) run at all: a hash already in the catalog means a moved, renamed,
touched or duplicate file, whose stored values are kept or copied. The rest are decoded in
worker threads while the committing thread completes the previous batch (one encoder call;
Pillow and ONNX Runtime both release the GIL), and each batch is committed in one transaction,
every signal's rows with the files': a crash loses at most the batch in flight. Missing files
that no new file claimed as a move are removed at the end.

Unchanged files whose rows lack a signal that is backfilled (the metadata, for an index made
before pixseek read it) are read for those signals alone: no hashing, no model.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import deque
from itertools import chain
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from typing import TYPE_CHECKING, Any

from pixseek.environment import number
from pixseek.errors import ImageError
from pixseek.files import FileEntry, ScanTally, scan
from pixseek.images import decode, read_file
from pixseek.raw import NEEDS_RAWPY, raw_supported
from pixseek.engine.results import ChangeSummary, IndexReport, Progress, ProgressCallback
from pixseek.signals import SIGNALS, FileData, Reads, Signal, signals_for_run
from pixseek.store.catalog import Catalog, FileRecord, NewFile

if TYPE_CHECKING:
    from pixseek.model import Encoder

DEFAULT_BATCH = 32  # photos per encoder call and per committed transaction (PIXSEEK_BATCH)


def batch_size() -> int:
    return int(number("PIXSEEK_BATCH", DEFAULT_BATCH, minimum=1))


def content_hash(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


@dataclass
class Plan:
    roots: list[str]
    candidates: list[FileEntry] = field(default_factory=list)  # new or changed: to read
    previous: dict[str, FileRecord] = field(default_factory=dict)  # changed path -> its old row
    missing: dict[int, FileRecord] = field(default_factory=dict)  # rows whose file is gone
    backfill: dict[str, FileRecord] = field(default_factory=dict)  # unchanged file -> its row, lacking signals
    backfill_entries: list[FileEntry] = field(default_factory=list)
    gone_skipped: list[str] = field(default_factory=list)  # skipped files that are gone: forget them
    unchanged: int = 0
    skipped_before: int = 0
    scan_errors: list[tuple[str, str]] = field(default_factory=list)
    new_scan_errors: list[tuple[str, str]] = field(default_factory=list)  # not yet in the catalog as such
    tally: ScanTally = field(default_factory=ScanTally)

    def summary(self) -> ChangeSummary:
        changed = len(self.previous)
        return ChangeSummary(new=len(self.candidates) - changed, changed=changed, deleted=len(self.missing),
                             unchanged=self.unchanged, undescribed=len(self.backfill))

    def entries(self) -> list[FileEntry]:
        """Every file the run reads: new and changed ones, then those read for lacking signals alone."""
        return self.candidates + self.backfill_entries


def make_plan(catalog: Catalog, roots: Iterable[str], shallow: Iterable[str] = (),
              vanished: Iterable[str] = (), include_hidden: bool = False) -> Plan:
    """Diff `roots` (recursively) against the catalog. A watcher's update also names `shallow`
    folders (only the files directly in them are looked at) and `vanished` folders (gone: every
    file the catalog holds under them is missing, and none is scanned)."""
    roots = [os.path.abspath(r) for r in roots]
    shallow = {os.path.abspath(f) for f in shallow}
    vanished = [os.path.abspath(f) for f in vanished]
    plan = Plan(roots + sorted(shallow))
    # Rows lacking a signal are read again for it only where it runs in a run that embeds
    # nothing (as a run with nothing new is): a signal switched off is not backfilled either.
    backfilled = frozenset(signal.name for signal in signals_for_run(None))

    def direct(path: str) -> bool:
        return os.path.dirname(path) in shallow

    known = {record.path: record for record in catalog.files_under(roots + vanished)}
    known.update((r.path, r) for r in catalog.files_under(shallow) if direct(r.path))
    skipped = catalog.skipped_under(roots + vanished)
    skipped.update((p, s) for p, s in catalog.skipped_under(shallow).items() if direct(p))

    def on_error(path: str, reason: str) -> None:
        plan.scan_errors.append((path, reason))

    # Links may lead anywhere inside the index's folders, whichever part of them is scanned.
    bounds = catalog.roots() + roots
    for entry in chain(scan(roots, on_error=on_error, include_hidden=include_hidden, tally=plan.tally, bounds=bounds),
                       scan(sorted(shallow), recursive=False, on_error=on_error, include_hidden=include_hidden,
                            tally=plan.tally, bounds=bounds)):
        record = known.pop(entry.path, None)
        skip = skipped.pop(entry.path, None)
        if record is not None and (record.size, record.mtime_ns) == (entry.size, entry.mtime_ns):
            plan.unchanged += 1
            if record.lacking & backfilled:
                plan.backfill[entry.path] = replace(record, lacking=record.lacking & backfilled)
                plan.backfill_entries.append(entry)
            continue
        if (record is None and skip is not None and skip[:2] == (entry.size, entry.mtime_ns)
                and not _retry_skip(skip[2])):
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


def update_targets(changed: Iterable[str | os.PathLike[str]], roots: list[str]) -> tuple[list[str], list[str], list[str]]:
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
class Outcome:
    """One file read for a batch: what its signals read, or why it is skipped."""

    entry: FileEntry
    hash: bytes | None = None
    reuse_id: int | None = None  # a stored row with the same content
    size: tuple[int, int] = (0, 0)  # as decoded
    error: ImageError | None = None
    backfill_id: int | None = None  # an unchanged row read only for the signals it lacks
    raw: dict[str, Any] = field(default_factory=dict)  # signal name -> what its read() gave, to complete
    values: dict[str, Any] = field(default_factory=dict)  # signal name -> the value to store


def examine(entry: FileEntry, find_stored: Callable[[bytes], int | None], signals: Sequence[Signal],
            backfill: FileRecord | None = None) -> Outcome:
    """Read a file, run the signals that read its bytes and hash it, then decode it for the
    signals that read the image, unless `find_stored(hash)` finds a stored row with the same
    content. A row read again for the signals it lacks (`backfill`) runs those alone, unhashed.
    The local indexer's threads and the cluster's nodes both do this."""
    outcome = Outcome(entry, backfill_id=None if backfill is None else backfill.id)
    wanted = [s for s in signals if backfill is None or s.name in backfill.lacking]
    pictured = [s for s in wanted if s.reads is Reads.IMAGE]
    try:
        data = read_file(entry.path)
        _read(outcome, [s for s in wanted if s.reads is Reads.BYTES], FileData(entry, data))
        if backfill is None:
            outcome.hash = content_hash(data)
            outcome.reuse_id = find_stored(outcome.hash)
        if outcome.reuse_id is None and pictured:
            image = decode(data, min_side=max(s.min_side for s in pictured), name=entry.path)
            outcome.size = image.size
            _read(outcome, pictured, FileData(entry, data, image))
    except ImageError as error:
        outcome.error = error
    return outcome


def _read(outcome: Outcome, signals: Iterable[Signal], file: FileData) -> None:
    for signal in signals:
        outcome.raw[signal.name] = signal.read(file)


class Indexer:
    def __init__(self, catalog: Catalog, encoder: Encoder | None, workers: int | None = None):
        """`encoder` None: a run that embeds nothing (rows read again for a signal they lack)."""
        self.catalog = catalog
        self.signals = signals_for_run(encoder)
        self.workers = workers or int(number("PIXSEEK_DECODE_WORKERS", 0)) or os.cpu_count() or 1
        self.batch_size = batch_size()
        self._reader = catalog.clone()
        self._reader_lock = threading.Lock()

    def close(self) -> None:
        self._reader.close()

    def _find_stored(self, content: bytes) -> int | None:
        with self._reader_lock:
            return self._reader.find_by_hash(content)

    def _outcomes(self, plan: Plan, pool: ThreadPoolExecutor) -> Iterator[Outcome]:
        """Results in order, with a bounded number of files in flight."""
        pending: deque[Future[Outcome]] = deque()
        window = max(2 * self.batch_size, 4 * self.workers)
        for entry in plan.entries():
            pending.append(pool.submit(examine, entry, self._find_stored, self.signals, plan.backfill.get(entry.path)))
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
        batch = Batch(self.catalog, self.signals, plan, self.batch_size)
        total = len(plan.candidates) + len(plan.backfill)
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
                    progress(Progress(done, total, report.indexed + batch.pending_new, report.reused,
                                      len(report.skipped) - len(plan.scan_errors), time.monotonic() - start,
                                      saved / saved_at if saved_at > 0 else 0.0, outcome.entry.path))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        batch.commit(report)
        batch.finish(report)
        report.elapsed = time.monotonic() - start
        return report


class Batch:
    """Outcomes waiting to be completed (a batch's model call) and committed together, in one
    transaction: a crash loses the batch whole. The local indexer and the cluster's ingest
    (whose outcomes bring their vectors) both commit through it."""

    def __init__(self, catalog: Catalog, signals: Sequence[Signal], plan: Plan, size: int):
        self.catalog = catalog
        self.signals = signals
        self.plan = plan
        self.size = size
        self.claimed: set[int] = set()  # missing rows claimed by a moved file
        self._reset()

    def _reset(self) -> None:
        self.fresh: list[Outcome] = []  # content no stored row holds
        self.reused: list[Outcome] = []
        self.skips: list[Outcome] = []
        self.backfilled: list[Outcome] = []

    @property
    def pending_new(self) -> int:
        return len(self.fresh)

    @property
    def full(self) -> bool:
        return len(self.fresh) >= self.size or len(self.reused) + len(self.skips) + len(self.backfilled) >= 1000

    def take(self, outcome: Outcome) -> None:
        if outcome.backfill_id is not None:
            if outcome.error is None:  # unreadable now: it stays as it is, and is tried again next run
                self.backfilled.append(outcome)
        elif outcome.error is not None:
            self.skips.append(outcome)
        elif outcome.reuse_id is not None:
            self.reused.append(outcome)
        else:
            self.fresh.append(outcome)

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
        if not (self.fresh or self.reused or self.skips or self.backfilled):
            return
        self._complete(self.fresh + self.reused + self.backfilled)
        added = [self._new_file(o) for o in self.fresh]
        removed: list[int] = []
        moved: list[tuple[int, str, int]] = []
        copies = []
        for outcome in self.reused:
            old = self.plan.previous.get(outcome.entry.path)
            assert outcome.reuse_id is not None
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
        self._copy_stored(copies)
        added += [self._new_file(o) for o in copies]
        by_path = {o.entry.path: o for o in self.reused}
        kept: dict[str, list[tuple[int, Any]]] = {}  # signal -> values of rows that stay
        for id_, outcome in ([(i, by_path[path]) for i, path, _ in moved]
                             + [(o.backfill_id, o) for o in self.backfilled if o.backfill_id is not None]):
            for name, value in outcome.values.items():
                kept.setdefault(name, []).append((id_, value))
        for outcome in self.fresh + self.skips:
            old = self.plan.previous.get(outcome.entry.path)
            if old is not None:
                removed.append(old.id)
        skipped = [(o.entry.path, o.entry.size, o.entry.mtime_ns, str(o.error.reason)) for o in self.skips if o.error]
        self.catalog.commit_batch(added=added, removed_ids=removed, moved=moved, skipped=skipped,
                                  forget_skipped=[path for _, path, _ in moved], values=kept)
        report.indexed += len(self.fresh)
        report.reused += len(self.reused)
        report.described += len(self.backfilled)
        report.skipped += [(o.entry.path, str(o.error)) for o in self.skips]
        self._reset()

    def _complete(self, outcomes: list[Outcome]) -> None:
        """Each signal's batch step (one encoder call, one place look-up) over what it read."""
        for signal in self.signals:
            waiting = [o for o in outcomes if signal.name in o.raw]
            if waiting:
                for outcome, value in zip(waiting, signal.complete([o.raw.pop(signal.name) for o in waiting])):
                    outcome.values[signal.name] = value

    def _copy_stored(self, copies: list[Outcome]) -> None:
        """A copy of stored content takes the stored row's values of every signal that reads the
        image (those depend on the content alone), rather than decoding it again."""
        if not copies:
            return
        stored_ids = [o.reuse_id for o in copies if o.reuse_id is not None]
        for signal in SIGNALS:
            if signal.reads is Reads.IMAGE:
                stored = self.catalog.values(signal.name, stored_ids)
                for outcome in copies:
                    if outcome.reuse_id in stored:
                        outcome.values[signal.name] = stored[outcome.reuse_id]
                    elif signal.required:
                        raise KeyError(outcome.reuse_id)

    @staticmethod
    def _new_file(outcome: Outcome) -> NewFile:
        """A new row; its pixel size is the decoded one until a signal knows better (the metadata
        reads the header's)."""
        entry = outcome.entry
        assert outcome.hash is not None
        return NewFile(entry.path, entry.size, entry.mtime_ns, outcome.hash, *outcome.size, values=outcome.values)
