"""Text "read" in indexed photos, written straight into the index's catalog (real SQLite, the
store the text pass writes to), so the faces' tests of word search need no OCR run."""

from __future__ import annotations

from pathlib import Path

from pixseek.model.ocr import TextLine
from pixseek.signals.words import PhotoText, Words
from pixseek.store.catalog import Catalog

BOX = ((4.0, 4.0), (120.0, 4.0), (120.0, 30.0), (4.0, 30.0))


def write_text(index_dir: Path | str, lines: dict[Path, list[str]]) -> None:
    """Store `lines` as the text read in each indexed photo named (by path)."""
    catalog = Catalog.open(Path(index_dir), create=False)
    try:
        rows = [(catalog.lookup(str(path)).id, PhotoText("test rows", tuple(TextLine(t, BOX, 0.9) for t in texts)))
                for path, texts in lines.items()]
        catalog.commit_batch(values={Words.name: rows})
    finally:
        catalog.close()
