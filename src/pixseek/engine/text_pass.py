"""The text pass: reading the words in photos after an index run has stored their vectors.

OCR costs ten times what the CLIP image tower does, so it never runs inline: the run indexes
vectors as before (search works at once), then this pass reads the photos that lack text from
the current reader (`WordRows.backfill`: new photos, changed ones, and every photo when the
reader changes), in batches of TEXT_BATCH committed one transaction each (a crash or Ctrl-C
loses one batch at most), with progress and time left through the run's callback. What the run
read ahead while its vectors were computed (engine/text_ahead.py) is stored, not read again. An index
whose owner turned text off (`pixseek index --no-text`) is not read; where the OCR package is
missing the pass is skipped with one line saying how to get it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence

from pixseek.engine import photo_pass
from pixseek.engine.index import OpenIndex
from pixseek.engine.results import IndexReport, ProgressCallback
from pixseek.engine.text_ahead import ReadAhead
from pixseek.environment import number
from pixseek.errors import ImageError, PixseekError
from pixseek.files import FileEntry
from pixseek.model.encoder import side_by_side, usable_cores
from pixseek.model.ocr import ahead_reader, text_reader
from pixseek.signals.base import FileData
from pixseek.signals.words import READER_KEY, SETTING_KEY, PhotoText, Words
from pixseek.store.catalog import Catalog

TEXT_BATCH = 16  # photos read per committed transaction (PIXSEEK_TEXT_BATCH)
STAGE = "reading text"
DEFAULT_ENV = "PIXSEEK_READ_TEXT"  # "no": indexes with no setting of their own read no text
OFF = ("no", "off", "0", "false")


def reads_text(catalog: Catalog) -> bool:
    """Whether this index reads the text in its photos: its own setting (`pixseek index
    --text/--no-text`), else $PIXSEEK_READ_TEXT, else yes."""
    setting = catalog.meta(SETTING_KEY)
    if setting is None:
        return os.environ.get(DEFAULT_ENV, "yes").strip().lower() not in OFF
    return setting != "no"


def choose(index: OpenIndex, on: bool) -> None:
    """Turn reading text on or off for this index (kept for later runs); text already read stays."""
    photo_pass.choose(index, SETTING_KEY, on)


def carry_setting(source: OpenIndex, target: OpenIndex) -> None:
    """A rebuilt index reads text as the one it replaces did, where its owner chose."""
    setting = source.catalog.meta(SETTING_KEY)
    if setting is not None:
        choose(target, setting != "no")


def read_ahead(writer: Catalog, entries: Sequence[FileEntry]) -> ReadAhead[PhotoText | None] | None:
    """`entries` (a run's new and changed photos) read ahead while the run computes their
    vectors; None where this index reads no text or the reader is missing (the pass says so)."""
    if not entries or not reads_text(writer):
        return None
    try:
        reader = ahead_reader()
    except PixseekError:
        return None
    signal = Words(reader)
    return ReadAhead(entries, lambda entry: _read_one(signal, reader.name, entry), usable_cores())


def read_text(writer: Catalog, report: IndexReport, progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None, ahead: ReadAhead[PhotoText | None] | None = None) -> None:
    """Read the text of every photo that lacks it (see the module's docstring), taking what
    `ahead` read; what was done, or why nothing was, goes into `report`."""
    if ahead is not None:
        ahead.stop()  # the pass reads the rest itself, at full priority
    if not reads_text(writer) or report.cancelled:
        return
    try:
        reader = text_reader()
    except PixseekError as error:
        report.text_note = f"text in photos not read: {error}"
        return
    if writer.meta(READER_KEY) != reader.name:
        writer.set_setting(READER_KEY, reader.name)  # every photo read by another reader is read again
    start = time.monotonic()
    size = int(number("PIXSEEK_TEXT_BATCH", TEXT_BATCH, minimum=1))
    signal = Words()

    def read(entry: FileEntry) -> PhotoText | None:
        if ahead is not None:
            was_read, text = ahead.take(entry)
            if was_read:
                return text
        return _read_one(signal, reader.name, entry)

    for batch in photo_pass.read_in_batches(writer, writer.words.unread(), Words.name, size, STAGE, read, report,
                                            progress, cancel, workers=side_by_side()[0]):
        report.text_read += len(batch)
        report.text_found += sum(1 for _, text in batch if text.lines)
    report.elapsed += time.monotonic() - start


def _read_one(signal: Words, reader: str, entry: FileEntry) -> PhotoText | None:
    """One photo's text; None when its file changed or went since it was indexed (the next run
    sees to it), a skip with the reason when it cannot be read."""
    try:
        found = photo_pass.still_there(entry, signal.min_side)
        return None if found is None else signal.read(FileData(entry, *found))
    except ImageError as error:
        return PhotoText(reader, skipped=str(error))
