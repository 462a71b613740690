"""The face pass: finding the faces in photos after an index run has stored their vectors, then
grouping the new ones into people.

Like the text pass (engine/text_pass.py): the photos that lack faces from the current face model
(`FaceRows.backfill`: new photos, changed ones, every photo when the model changes) are looked
at in batches of FACE_BATCH committed one transaction each (a crash or Ctrl-C loses one batch at
most), with progress through the run's callback; then the faces waiting are grouped
(people/grouping.py, a transaction per 1,000 faces). A model change also clears every person's
centre (vectors of two models do not compare), keeping names and corrections: they find their
faces again when those are found anew. An index whose owner turned faces off (`pixseek index
--no-faces`, or `pixseek people --forget`) is not looked at; by default faces are found where a
face model is installed, and where none is the pass is skipped without a word.
"""

from __future__ import annotations

import os
import threading
import time
from functools import partial

from pixseek.engine import photo_pass
from pixseek.engine.index import OpenIndex
from pixseek.engine.results import IndexReport, ProgressCallback
from pixseek.environment import number
from pixseek.errors import ImageError, PixseekError
from pixseek.files import FileEntry
from pixseek.model.faces import FaceModel, face_model, installed_packs
from pixseek.model.encoder import side_by_side
from pixseek.people.grouping import group_pending
from pixseek.people.store import People
from pixseek.signals.faces import FINDER_KEY, SETTING_KEY, FaceRows, Faces, PhotoFaces
from pixseek.store.catalog import Catalog

FACE_BATCH = 16  # photos looked at per committed transaction (PIXSEEK_FACE_BATCH)
STAGE = "finding faces"
DEFAULT_ENV = "PIXSEEK_FIND_FACES"  # "no": indexes with no setting of their own find no faces
OFF = ("no", "off", "0", "false")


def finds_faces(catalog: Catalog) -> bool:
    """Whether this index finds faces: its own setting (`pixseek index --faces/--no-faces`), else
    $PIXSEEK_FIND_FACES, else whether a face model is installed."""
    setting = catalog.meta(SETTING_KEY)
    if setting is not None:
        return setting != "no"
    if os.environ.get(DEFAULT_ENV, "yes").strip().lower() in OFF:
        return False
    return bool(installed_packs())


def choose(index: OpenIndex, on: bool) -> None:
    """Turn finding faces on or off for this index (kept for later runs); faces found stay."""
    photo_pass.choose(index, SETTING_KEY, on)


def find_faces(writer: Catalog, report: IndexReport, progress: ProgressCallback | None = None,
               cancel: threading.Event | None = None) -> None:
    """Find the faces of every photo that lacks them, then group the new ones (see the module's
    docstring); what was done, or why nothing was, goes into `report`."""
    if not finds_faces(writer) or report.cancelled:
        return
    try:
        model = face_model()
    except PixseekError as error:
        report.faces_note = f"faces not found: {error}"
        return
    db = writer.connection
    if writer.meta(FINDER_KEY) != model.name:
        with writer.transaction():
            db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (FINDER_KEY, model.name))
            db.execute("UPDATE people SET total = NULL, members = 0")  # another model's vectors
    start = time.monotonic()
    _look(writer, model, report, progress, cancel)
    if not report.cancelled:
        report.faces_grouped += group_pending(db, model.config.match_threshold, cancel)
        People(db).tidy()
    report.elapsed += time.monotonic() - start


def _look(writer: Catalog, model: FaceModel, report: IndexReport, progress: ProgressCallback | None,
          cancel: threading.Event | None) -> None:
    size = int(number("PIXSEEK_FACE_BATCH", FACE_BATCH, minimum=1))
    for batch in photo_pass.read_in_batches(writer, FaceRows(writer.connection).unread(), Faces.name, size, STAGE,
                                            partial(_look_at, model), report, progress, cancel,
                                            workers=side_by_side()[0]):
        report.faces_read += len(batch)
        report.faces_found += sum(len(found.faces) for _, found in batch)


def _look_at(model: FaceModel, entry: FileEntry) -> PhotoFaces | None:
    """One photo's faces; None when its file changed or went since it was indexed (the next run
    sees to it), a skip with the reason when it cannot be read."""
    try:
        found = photo_pass.still_there(entry)
        return None if found is None else PhotoFaces(model.name, tuple(model.find(found[1])))
    except ImageError as error:
        return PhotoFaces(model.name, skipped=str(error))
