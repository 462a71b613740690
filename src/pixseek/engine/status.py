"""The index at a glance, for `pixseek status` and every face's status view."""

from __future__ import annotations

import os

from pixseek.engine.index import OpenIndex
from pixseek.engine.face_pass import finds_faces
from pixseek.engine.text_pass import reads_text
from pixseek.engine.video_search import video_counts
from pixseek.people.store import People
from pixseek.engine.results import Status
from pixseek.errors import PixseekError
from pixseek.model.bundle import stand_in_warning


def model_warning(index: OpenIndex) -> str | None:
    """What every face must say about this index's model, if anything (a random stand-in)."""
    return stand_in_warning(index.catalog.model_id)


def status(index: OpenIndex, check: bool = True) -> Status:
    """`check=False` skips the integrity check, whose time grows with the catalog."""
    catalog = index.catalog
    problems = catalog.check() if check else []
    live = index.vectors()
    live.refresh()
    count = catalog.count()
    if live.index.ntotal != count:
        problems.append(f"vector index holds {live.index.ntotal} vectors for {count} files")
    updated = float(catalog.meta("updated_at", "0") or 0)
    roots = catalog.roots()
    warning = model_warning(index)
    text_read, text_found = catalog.text_counts()
    videos, moments, seconds = video_counts(index)
    faces, photos_with_faces, videos_with_faces, people = People(catalog.connection).counts()
    return Status(index_dir=str(index.index_dir), model_id=catalog.model_id, images=count,
                  folders=roots, missing_folders=[root for root in roots if not os.path.isdir(root)],
                  include_hidden=index.include_hidden, skipped=catalog.count_skipped(),
                  last_update=updated or None, vector_index=live.index.describe(), runs_on=_runs_on(index),
                  consistent=not problems, problems=problems,
                  notes=([warning] if warning else []) + index.notes + live.notes,
                  reads_text=reads_text(catalog), text_read=text_read, text_found=text_found, videos=videos,
                  video_moments=moments, video_seconds=seconds, finds_faces=finds_faces(catalog), faces=faces,
                  photos_with_faces=photos_with_faces, videos_with_faces=videos_with_faces, people=people)


def _runs_on(index: OpenIndex) -> str:
    try:
        described: str = index.encoder.describe()
        return described
    except PixseekError as error:  # the model is not installed here, or cannot be used
        return f"cannot run: {error}"
