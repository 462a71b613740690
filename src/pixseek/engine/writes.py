"""Every change to an index goes through `write`, the one write primitive: under the writer
lock, repair what is damaged, make the change on a connection of its own, then save the vector
file. Indexing, updating, cluster runs, ingesting, removing a folder and choosing the vector
index kind are each a change handed to it; a rebuild for another model writes a new index
through it, then swaps it in under the same lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

from pixseek import reindex
from pixseek.engine import face_pass, folders, text_pass, video_pass
from pixseek.engine.folders import Folders
from pixseek.engine.index import HIDDEN_KEY, OpenIndex
from pixseek.engine.opening import close_index, open_index
from pixseek.engine.results import ChangeSummary, IndexReport, IngestReport, ProgressCallback
from pixseek.engine.storage import write_failure, writing
from pixseek.errors import FolderNotFound, PixseekError, ShardRefused, StorageError
from pixseek.indexer import Indexer, Plan, make_plan, update_targets
from pixseek.model import find_bundle
from pixseek.people.carry import carry_people
from pixseek.store.catalog import Catalog
from pixseek.store.live_index import SETTING_KEY
from pixseek.store.vector_index import KINDS

CLUSTER_SHARDS = "cluster-shards"  # where a cluster run's shards wait to be ingested (unless kept elsewhere)
Done = TypeVar("Done")


def write(index: OpenIndex, change: Callable[[Catalog], Done],
          saves: Callable[[Done], bool] = lambda done: True) -> Done:
    """Make `change` on a writer connection under the writer lock, after repairing a damaged
    catalog; then save the vector file (unless `saves` says the change left nothing to save)."""
    with writing(index.index_dir):
        index.repair_if_damaged()
        with index.writer() as writer:
            done = change(writer)
        if saves(done):
            _save_vectors(index)
        return done


def _save_vectors(index: OpenIndex) -> None:
    """Write the vector file. The catalog is committed by now, so a failure here loses
    nothing: searches rebuild the vectors from the catalog until a save succeeds."""
    try:
        index.vectors().save()
    except (OSError, RuntimeError) as exc:  # FAISS reports a failed write as RuntimeError
        raise StorageError(f"the index at {index.index_dir} is up to date, but its vector file could not be "
                           f"written ({write_failure(exc)}); searches rebuild it from the catalog meanwhile") from None


def _record_folders(index: OpenIndex, writer: Catalog, wanted: Folders, include_hidden: bool | None) -> list[str]:
    """The folders to scan, checked and recorded, and the hidden-files policy set (None keeps it)."""
    checked = folders.to_scan(index, wanted, writer)
    writer.add_roots(checked)
    if include_hidden is not None:
        writer.set_setting(HIDDEN_KEY, "yes" if include_hidden else "no")
    return checked


def _plan(writer: Catalog, roots: list[str]) -> Plan:
    return make_plan(writer, roots, include_hidden=writer.meta(HIDDEN_KEY) == "yes")


def _run_plan(index: OpenIndex, plan: Plan, writer: Catalog, progress: ProgressCallback | None,
              cancel: threading.Event | None) -> IndexReport:
    indexer = Indexer(writer, index.encoder if plan.candidates else None)
    ahead = text_pass.read_ahead(writer, plan.candidates)  # on the cores the vectors leave idle
    try:
        try:
            report = indexer.run(plan, progress, cancel)
        finally:
            indexer.close()
        video_pass.index_videos(writer, lambda: index.encoder, plan.roots, writer.meta(HIDDEN_KEY) == "yes", report,
                                progress, cancel)  # after the photos: they are searchable meanwhile
        text_pass.read_text(writer, report, progress, cancel, ahead)  # after the vectors: search works meanwhile
    finally:
        if ahead is not None:
            ahead.close()
    face_pass.find_faces(writer, report, progress, cancel)
    return report


def index_folders(index: OpenIndex, wanted: Folders, progress: ProgressCallback | None,
                  cancel: threading.Event | None, include_hidden: bool | None) -> IndexReport:
    def change(writer: Catalog) -> IndexReport:
        plan = _plan(writer, _record_folders(index, writer, wanted, include_hidden))
        return _run_plan(index, plan, writer, progress, cancel)

    return write(index, change)


def update(index: OpenIndex, changed: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
           progress: ProgressCallback | None, cancel: threading.Event | None) -> IndexReport:
    paths = [changed] if isinstance(changed, (str, os.PathLike)) else changed

    def change(writer: Catalog) -> IndexReport:
        plan = make_plan(writer, *update_targets(paths, writer.roots()), include_hidden=writer.meta(HIDDEN_KEY) == "yes")
        return _run_plan(index, plan, writer, progress, cancel)

    return write(index, change)


def index_on_cluster(index: OpenIndex, wanted: Folders, cluster: str, shards: Path | str | None,
                     progress: ProgressCallback | None, cancel: threading.Event | None, dashboard: bool,
                     include_hidden: bool | None) -> IndexReport:
    # why: Ray and pyarrow are optional extras, imported only for a cluster run
    from pixseek.cluster.ingest import Ingester
    from pixseek.cluster.job import run_job
    from pixseek.cluster.shards import list_shards

    own = index.index_dir / CLUSTER_SHARDS

    def change(writer: Catalog) -> IndexReport:
        roots = _record_folders(index, writer, wanted, include_hidden)
        for leftover in list_shards(own):  # a killed run's last shard: ingested, not embedded again
            try:
                Ingester(writer, index.encoder.bundle).ingest_file(leftover)
            except ShardRefused as refusal:
                index.note(f"{refusal}; deleted it (its photos are embedded again)")
            leftover.unlink()
        return run_job(writer, _plan(writer, roots), index.encoder.bundle, index.precision, cluster,
                       Path(shards) if shards else own, keep_shards=shards is not None,
                       progress=progress, cancel=cancel, dashboard=dashboard)

    return write(index, change)


def ingest(index: OpenIndex, folder: Path | str) -> IngestReport:
    # why: pyarrow is an optional extra, imported only to ingest
    from pixseek.cluster.ingest import ingest_folder

    # (an index made for shards that were all refused is not kept: no vector file)
    return write(index, lambda writer: ingest_folder(writer, index.encoder.bundle, Path(folder).expanduser()),
                 saves=lambda report: bool(report.shards))


def remove(index: OpenIndex, folder: str | os.PathLike[str]) -> int:
    path = folders.indexed_folder(index, folder, around=False)
    return write(index, lambda writer: writer.remove_roots([path]) + video_pass.remove_videos(writer, [path]))


def set_vector_index(index: OpenIndex, kind: str) -> None:
    if kind not in KINDS:
        raise PixseekError(f"unknown vector index kind {kind!r}; use one of {', '.join(KINDS)}")
    write(index, lambda writer: writer.set_setting(SETTING_KEY, kind))


def changes(index: OpenIndex, wanted: Folders) -> ChangeSummary:
    """What indexing `wanted` would do now, without doing it."""
    return make_plan(index.catalog, folders.to_scan(index, wanted), include_hidden=index.include_hidden).summary()


def rebuild(index: OpenIndex, model: str, wanted: Folders, progress: ProgressCallback | None,
            cancel: threading.Event | None) -> IndexReport:
    """Rebuild the index for `model` beside the old one (written through `write`, on the new
    index), then swap it in; cancelled, what was done is kept for the next call to resume."""
    bundle = find_bundle(model)
    with writing(index.index_dir):
        if reindex.staged_model(index.index_dir) not in (None, bundle.model_id):
            reindex.discard_staging(index.index_dir)  # a rebuild for a third model, abandoned
        missing = [root for root in index.catalog.roots() if not os.path.isdir(root)]
        if missing and not wanted:  # the rebuilt index would lose their photos
            raise FolderNotFound(f"an indexed folder is missing ({', '.join(missing)}): bring it back before "
                                 "rebuilding, or remove it from the index")
        checked = folders.to_scan(index, wanted)
        include_hidden = index.include_hidden  # the rebuilt index keeps the policy
        rebuilt = open_index(reindex.staging_dir(index.index_dir), model, True, index.precision, index.device)
        try:
            text_pass.carry_setting(index, rebuilt)
            carry_people(index.catalog, rebuilt.catalog)  # names and corrections find their faces again
            report = index_folders(rebuilt, checked, progress, cancel, include_hidden)
        finally:
            close_index(rebuilt)
        if report.cancelled:
            return report
        reindex.mark_complete(index.index_dir)
        close_index(index)
        reindex.swap_in(index.index_dir)
    index.reopen(model)
    return report
