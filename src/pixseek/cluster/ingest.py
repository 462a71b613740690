"""Merge shards into the catalog: one transaction per shard, upserting by content hash.

Each row goes through the local indexer's own batch logic (`Batch`), so a photo from a shard
lands exactly as if it had been indexed here: new, changed (its old row replaced), touched or
moved (the stored row kept), a duplicate of stored content (its vector copied), or skipped with
the node's reason. A row already in the catalog with the same content, size and mtime changes
nothing, so a retried shard, a duplicate row or a second ingest of the same folder is a no-op.
Shards made with another model file or preprocessing, or damaged ones, are refused whole.
"""

from __future__ import annotations

from pathlib import Path

from pixseek.cluster.nodes import pipeline_name
from pixseek.cluster.shards import PixelPipeline, ShardRows, list_shards, read_shard
from pixseek.cluster.shipping import accepted_tower_hashes
from pixseek.errors import FolderNotFound, ImageError, ShardRefused
from pixseek.files import FileEntry
from pixseek.indexer import Batch, Outcome, Plan, batch_size
from pixseek.model.bundle import Bundle
from pixseek.engine.results import IndexReport, IngestReport
from pixseek.signals import ClipVectors
from pixseek.store.catalog import Catalog


def accepted_pipelines(bundle: Bundle) -> set[PixelPipeline]:
    """The (tower file, preprocessing) pairs whose vectors belong in an index of `bundle`'s model."""
    preprocessing = pipeline_name(bundle.config.preprocessor())
    return {PixelPipeline(tower, preprocessing) for tower in accepted_tower_hashes(bundle)}


class Ingester:
    """Merges shards into `catalog`. With the plan of the run that made them, files the plan
    found missing can be claimed as moved; without one (a later `ingest`), they stay until the
    next index run removes them."""

    def __init__(self, catalog: Catalog, bundle: Bundle, plan: Plan | None = None, report: IndexReport | None = None):
        self.catalog = catalog
        self.accepted = accepted_pipelines(bundle)
        self.plan = plan or Plan(roots=[])
        # The shards bring the vectors, and no signal runs here: one commit per shard, whatever its size.
        self.batch = Batch(catalog, [], self.plan, batch_size())
        self.report = report or IndexReport()
        self.ingest_report = IngestReport()

    def ingest_file(self, path: Path) -> None:
        """Ingest one shard; a refused one raises ShardRefused and changes nothing."""
        self.ingest_rows(read_shard(path, self.accepted, self.catalog.dim))

    def ingest_rows(self, rows: ShardRows) -> None:
        latest = {path: i for i, path in enumerate(rows.paths)}  # a path twice: the last row counts
        for i in latest.values():
            outcome = self._outcome(rows, i)
            if outcome is not None:
                self.batch.take(outcome)
        before = (self.report.indexed, self.report.reused)
        self.batch.commit(self.report)
        self.ingest_report.shards += 1
        self.ingest_report.added += self.report.indexed - before[0]
        self.ingest_report.reused += self.report.reused - before[1]

    def _outcome(self, rows: ShardRows, i: int) -> Outcome | None:
        entry = FileEntry(rows.paths[i], int(rows.sizes[i]), int(rows.mtimes[i]))
        content = rows.hashes[i]
        record = self.catalog.lookup(entry.path)
        if record is not None and (record.hash, record.size, record.mtime_ns) == (content, entry.size, entry.mtime_ns):
            self.ingest_report.unchanged += 1
            return None
        reason = rows.skip_reasons[i]
        if reason:
            if record is None and self.catalog.skip_record(entry.path) == (entry.size, entry.mtime_ns, reason):
                self.ingest_report.unchanged += 1
                return None
            outcome = Outcome(entry, content, error=ImageError(reason, rows.skip_details[i] or ""))
        else:
            stored = self.catalog.find_by_hash(content) if content is not None else None
            if stored is None and not rows.has_vector[i]:  # its content was removed since the job was planned
                self.ingest_report.unresolved += 1
                return None
            outcome = Outcome(entry, content, reuse_id=stored, size=(int(rows.widths[i]), int(rows.heights[i])),
                              values={} if stored is not None else {ClipVectors.name: rows.vectors[i]})
        if record is not None:
            self.plan.previous[entry.path] = record
        return outcome


def ingest_folder(catalog: Catalog, bundle: Bundle, folder: Path) -> IngestReport:
    """Ingest every shard in `folder`; refused shards are listed in the report, not raised."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FolderNotFound(f"folder not found: {folder}")
    shards = list_shards(folder)
    if not shards:
        raise FolderNotFound(f"no shards (*.parquet) in {folder}")
    ingester = Ingester(catalog, bundle)
    for shard in shards:
        try:
            ingester.ingest_file(shard)
        except ShardRefused as refusal:
            ingester.ingest_report.refused.append(str(refusal))
    result = ingester.ingest_report
    result.skipped = ingester.report.skipped
    return result
