"""The words written in a photo (OCR): read from the decoded image, stored line by line with
box and confidence, and searched as words through SQLite FTS5.

Reading is slow (a few hundred ms a photo on 2 cores), so the index run does not read text
inline (`for_run` is None): vectors first, so search works at once, then a pass of its own
(engine/text_pass.py) reads the photos that `WordRows.backfill` names: those never read, and
those read by another reader than the current one (recorded in the catalog's meta under
READER_KEY by the pass, so a new reader re-reads text alone). Everything else follows the seam:
a copy of stored content takes its text, a changed file is a new row with none, rows leave
with their file.

Storage: `text_read` (one row a photo read, with the reader's name, and why it was skipped if it
was), `text_lines` (each line's text, box as JSON, confidence), and `text_search`, an FTS5
table with the trigram tokenizer holding each photo's folded lines (rowid = the photo's id):
trigrams match inside words and cope with OCR letter errors (signals/text_match.py); its
`pairs` column holds the same text with every character doubled, so that a two-character word
(Q3, 東京) is found through the index too, not by a scan.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pixseek.model.ocr import TextLine, TextReader, text_reader
from pixseek.signals.base import FileData, Reads, Signal, SignalRows
from pixseek.signals.text_match import doubled, fold
from pixseek.store.sqlite import decode_path, rows_for

if TYPE_CHECKING:
    from pixseek.model import Encoder

READER_KEY = "text_reader"  # meta: the name of the reader whose text is current
SETTING_KEY = "read_text"  # meta: "no" where the index's owner turned reading text off
SEPARATOR = "\n"  # between a photo's lines in the search table (no word spans two lines)


@dataclass(frozen=True)
class PhotoText:
    """What the reader found in one photo: its lines (none for a photo without text), or why
    the photo could not be read (it is not read again until the reader changes)."""

    reader: str
    lines: tuple[TextLine, ...] = ()
    skipped: str | None = None


class WordRows(SignalRows):
    schema = """
CREATE TABLE IF NOT EXISTS text_read (
    id INTEGER PRIMARY KEY, reader TEXT NOT NULL, lines INTEGER NOT NULL, skipped TEXT, gen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS text_lines (
    id INTEGER NOT NULL, line INTEGER NOT NULL, text TEXT NOT NULL, box TEXT NOT NULL, confidence REAL NOT NULL,
    PRIMARY KEY (id, line)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS text_search USING fts5(words, pairs, tokenize = 'trigram');
"""
    backfill = (f"f.id NOT IN (SELECT id FROM text_read WHERE reader = "
                f"(SELECT value FROM meta WHERE key = '{READER_KEY}'))")

    def write(self, rows: Sequence[tuple[int, Any]], generation: int) -> None:
        ids = [i for i, _ in rows]
        self.delete(ids)
        self.db.executemany("INSERT INTO text_read (id, reader, lines, skipped, gen) VALUES (?, ?, ?, ?, ?)",
                            [(i, t.reader, len(t.lines), t.skipped, generation) for i, t in rows])
        self.db.executemany("INSERT INTO text_lines (id, line, text, box, confidence) VALUES (?, ?, ?, ?, ?)",
                            [(i, n, line.text, json.dumps(line.box), line.confidence)
                             for i, t in rows for n, line in enumerate(t.lines)])
        texts = [(i, SEPARATOR.join(fold(line.text) for line in t.lines)) for i, t in rows if t.lines]
        self.db.executemany("INSERT INTO text_search (rowid, words, pairs) VALUES (?, ?, ?)",
                            [(i, text, doubled(text)) for i, text in texts])

    def read(self, ids: Iterable[int]) -> dict[int, Any]:
        ids = list(ids)
        lines = self.lines(ids)
        return {i: PhotoText(reader, tuple(lines.get(i, ())), skipped) for i, reader, skipped in
                rows_for(self.db, "SELECT id, reader, skipped FROM text_read WHERE id IN ({})", ids)}

    def lines(self, ids: Iterable[int]) -> dict[int, list[TextLine]]:
        """The lines read in each of `ids` that has any, in reading order."""
        found: dict[int, list[TextLine]] = {}
        for i, text, box, confidence in rows_for(
                self.db, "SELECT id, text, box, confidence FROM text_lines WHERE id IN ({}) ORDER BY id, line", ids):
            found.setdefault(i, []).append(TextLine(text, tuple(tuple(p) for p in json.loads(box)), confidence))
        return found

    def delete(self, ids: Sequence[int]) -> None:
        pairs = [(i,) for i in ids]
        self.db.executemany("DELETE FROM text_read WHERE id = ?", pairs)
        self.db.executemany("DELETE FROM text_lines WHERE id = ?", pairs)
        self.db.executemany("DELETE FROM text_search WHERE rowid = ?", pairs)

    def counts(self) -> tuple[int, int]:
        """(photos read for text by the current reader, those of them with any)."""
        row = self.db.execute(f"SELECT COUNT(*), COUNT(NULLIF(lines, 0)) FROM text_read WHERE reader = "
                              f"(SELECT value FROM meta WHERE key = '{READER_KEY}')").fetchone()
        return int(row[0]), int(row[1])

    def unread(self, limit: int | None = None) -> list[tuple[int, str, int, int]]:
        """(id, path, size, mtime_ns) of the photos the text pass is to read."""
        sql = f"SELECT f.id, f.path, f.size, f.mtime_ns FROM files f WHERE {self.backfill} ORDER BY f.id"
        rows = self.db.execute(sql + (f" LIMIT {int(limit)}" if limit is not None else ""))
        return [(int(i), decode_path(path), size, mtime) for i, path, size, mtime in rows]

    def matching(self, expression: str, contains: Sequence[str], limit: int | None = None,
                 ranked: bool = False) -> list[int]:
        """Ids of photos whose folded text matches the FTS5 `expression` ("": any text) and
        holds every string of `contains` (single characters, checked by a scan); `ranked`: best
        (bm25) matches first."""
        # Without an expression every photo's text is scanned: read from FTS5's own content table
        # (its column c0 is `words`), twice as fast as through the virtual table (27 against 61 ms
        # over 100,000 texts)
        source, key, column = ("text_search", "rowid", "words") if expression else ("text_search_content", "id", "c0")
        where = ["text_search MATCH ?"] if expression else []
        where += [f"instr({column}, ?) > 0"] * len(contains)
        params: list[Any] = ([expression] if expression else []) + list(contains)
        order = " ORDER BY rank" if expression and ranked else ""
        bound = f" LIMIT {int(limit)}" if limit is not None else ""
        try:
            rows = self.db.execute(f"SELECT {key} FROM {source} WHERE {' AND '.join(where)}{order}{bound}", params)
            return [int(r[0]) for r in rows]
        except sqlite3.OperationalError as exc:  # an index opened read-only before text existed
            if "no such table" in str(exc):
                return []
            raise

    def globbing(self, patterns: Sequence[str]) -> set[int]:
        """Ids of photos whose folded text matches any of the GLOB `patterns` (each narrowed by
        the trigram index, then checked by SQLite)."""
        if not patterns:
            return set()
        union = " UNION ".join(["SELECT rowid FROM text_search WHERE words GLOB ?"] * len(patterns))
        try:
            return {int(r[0]) for r in self.db.execute(union, list(patterns))}
        except sqlite3.OperationalError as exc:  # an index opened read-only before text existed
            if "no such table" in str(exc):
                return set()
            raise


class Words(Signal):
    name = "words"
    reads = Reads.IMAGE  # the content alone: copies take the stored text, known content is not read
    rows = WordRows
    min_side = 1200  # small print needs pixels: boxes are cut from the image at this size

    @classmethod
    def for_run(cls, encoder: Encoder | None) -> Signal | None:
        """Never inline: the text pass (engine/text_pass.py) reads text after the vectors."""
        return None

    def __init__(self, reader: TextReader | None = None):
        """`reader`: the one to read with (the text pass's threads that read ahead have their
        own), else the process's."""
        self._reader = reader

    def read(self, file: FileData) -> PhotoText:
        assert file.image is not None  # an image signal is given the decoded image
        reader = self._reader or text_reader()
        return PhotoText(reader.name, tuple(reader.read(file.image)))
