"""The signal seam (pixseek.signals): a signal written only against it is read, stored, skipped
for known content, copied, backfilled, removed and committed with its batch by the indexer; and
the three signals pixseek ships sit on it with the tables and rows of schema 2."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from conftest import make_photo
from pixseek.images import perceptual_hash
from pixseek.library import Library
from pixseek.signals import (SIGNALS, ClipVectors, Faces, FileData, Metadata, PerceptualHash, Reads, Signal,
                             SignalRows, VideoMoments, Words)
from pixseek.store.catalog import Catalog
from pixseek.store.sqlite import rows_for


class BrightnessRows(SignalRows):
    schema = """
CREATE TABLE IF NOT EXISTS test_brightness (id INTEGER PRIMARY KEY, brightness REAL NOT NULL, gen INTEGER NOT NULL);
"""
    backfill = "f.id NOT IN (SELECT id FROM test_brightness)"

    def write(self, rows: Sequence[tuple[int, Any]], generation: int) -> None:
        self.db.executemany("INSERT OR REPLACE INTO test_brightness (id, brightness, gen) VALUES (?, ?, ?)",
                            [(i, value, generation) for i, value in rows])

    def read(self, ids: Iterable[int]) -> dict[int, Any]:
        return dict(rows_for(self.db, "SELECT id, brightness FROM test_brightness WHERE id IN ({})", ids))

    def delete(self, ids: Sequence[int]) -> None:
        self.db.executemany("DELETE FROM test_brightness WHERE id = ?", [(i,) for i in ids])


class Brightness(Signal):
    """A test-only signal: the mean grey level of the decoded image."""

    name = "brightness"
    reads = Reads.IMAGE
    rows = BrightnessRows
    min_side = 16
    seen: list[str] = []  # paths read, across the run's worker threads
    batches: list[int] = []  # sizes of the batches completed

    def read(self, file: FileData) -> float:
        assert file.image is not None
        self.seen.append(file.entry.path)
        return float(np.asarray(file.image.convert("L"), dtype=np.float64).mean())

    def complete(self, raw: list[Any]) -> list[Any]:
        self.batches.append(len(raw))
        return raw


class SwitchedOff(Brightness):
    """A signal that does not run here (an optional model not installed, say)."""

    @classmethod
    def for_run(cls, encoder: Any) -> Signal | None:
        return None


class FailingRows(BrightnessRows):
    """Fails on its second write, as a crash would in the middle of a run."""

    writes = 0

    def write(self, rows: Sequence[tuple[int, Any]], generation: int) -> None:
        FailingRows.writes += 1
        if FailingRows.writes == 2:
            raise RuntimeError("the second batch fails")
        super().write(rows, generation)


class FailingBrightness(Brightness):
    rows = FailingRows


@pytest.fixture
def register() -> Iterator[Any]:
    """Adds signals to pixseek's list for one test, as a new signal's one line there would."""
    added: list[type[Signal]] = []
    Brightness.seen, Brightness.batches, FailingRows.writes = [], [], 0

    def add(*kinds: type[Signal]) -> None:
        for kind in kinds:
            SIGNALS.append(kind)
            added.append(kind)

    yield add
    for kind in added:
        SIGNALS.remove(kind)


def catalog_of(index: Path) -> Catalog:
    return Catalog.open(index, create=False)


def rows_by_path(catalog: Catalog, signal: str) -> dict[str, Any]:
    ids = {int(i): path for i, path in catalog.paths_for(catalog.ids_under()).items()}
    return {Path(ids[i]).name: value for i, value in catalog.values(signal, ids).items()}


def test_a_signal_added_through_the_seam_is_read_stored_with_its_batch_and_removed(pixseek_home, tmp_path,
                                                                                     photo_dir, register):
    register(Brightness)
    index = tmp_path / "index"
    with Library.open(index, create=True) as library:
        assert library.index([photo_dir]).indexed == 12
    catalog = catalog_of(index)
    try:
        stored = rows_by_path(catalog, "brightness")
        assert len(stored) == 12 and len(Brightness.seen) == 12
        png = next(photo_dir.rglob("*.png"))  # decoded whole at any size: the stored value is the file's
        grey = np.asarray(Image.open(png).convert("L"), dtype=np.float64).mean()
        assert stored[png.name] == pytest.approx(grey)
        db = sqlite3.connect(index / "catalog.sqlite3")
        generations = db.execute("SELECT COUNT(*) FROM files f JOIN test_brightness b ON b.id = f.id "
                                 "WHERE b.gen = f.gen").fetchone()[0]
        db.close()
        assert generations == 12  # each row carries its batch's generation, as the file's row does
    finally:
        catalog.close()
    png.unlink()
    with Library.open(index) as library:
        assert library.index().removed == 1
    catalog = catalog_of(index)
    try:
        assert len(rows_by_path(catalog, "brightness")) == 11 and png.name not in rows_by_path(catalog, "brightness")
    finally:
        catalog.close()


def test_known_content_is_not_read_again_a_copy_takes_the_stored_value(pixseek_home, tmp_path, register):
    register(Brightness)
    photos = tmp_path / "photos"
    original = make_photo(photos / "a.jpg", seed=1)
    make_photo(photos / "b.jpg", seed=2)
    index = tmp_path / "index"
    with Library.open(index, create=True) as library:
        library.index([photos])
        assert len(Brightness.seen) == 2
        shutil.copy(original, photos / "copy of a.jpg")  # same content, a new file
        (photos / "b.jpg").rename(photos / "moved b.jpg")  # same content, a new name
        report = library.index()
        assert (report.indexed, report.reused) == (0, 2)
    assert len(Brightness.seen) == 2  # neither was decoded for the signal
    catalog = catalog_of(index)
    try:
        stored = rows_by_path(catalog, "brightness")
        assert set(stored) == {"a.jpg", "copy of a.jpg", "moved b.jpg"}
        assert stored["copy of a.jpg"] == stored["a.jpg"]
    finally:
        catalog.close()


def test_the_signal_completes_once_per_batch_and_a_failed_batch_leaves_nothing_of_itself(pixseek_home, tmp_path,
                                                                                           photo_dir, register,
                                                                                           monkeypatch):
    monkeypatch.setenv("PIXSEEK_BATCH", "4")
    register(FailingBrightness)
    index = tmp_path / "index"
    with Library.open(index, create=True) as library:
        with pytest.raises(RuntimeError, match="second batch"):
            library.index([photo_dir])
    catalog = catalog_of(index)
    try:
        assert catalog.count() == 4  # the first batch, whole: files, vectors and the signal's rows
        assert len(rows_by_path(catalog, "brightness")) == 4 and catalog.check() == []
    finally:
        catalog.close()
    with Library.open(index) as library:  # the next run resumes from the last committed batch
        assert library.index().indexed == 8
    assert Brightness.batches[:2] == [4, 4]
    catalog = catalog_of(index)
    try:
        assert len(rows_by_path(catalog, "brightness")) == 12
    finally:
        catalog.close()


def test_a_signal_new_to_an_index_gets_its_tables_and_reads_only_what_lacks_it(pixseek_home, tmp_path, photo_dir,
                                                                                 register):
    index = tmp_path / "index"
    with Library.open(index, create=True) as library:
        library.index([photo_dir])
    catalog = catalog_of(index)
    vectors = dict(zip(catalog.ids_under().tolist(), catalog.vectors_for(catalog.ids_under())))
    catalog.close()
    register(Brightness)
    shutil.rmtree(pixseek_home / "models")  # no model: nothing is embedded again
    with Library.open(index, create=True) as library:  # opening where it can write makes the tables
        report = library.index()
        assert (report.indexed, report.reused, report.described, report.unchanged) == (0, 0, 12, 12)
        assert library.index().described == 0  # read once
    catalog = catalog_of(index)
    try:
        assert len(rows_by_path(catalog, "brightness")) == 12
        ids = catalog.ids_under()
        assert all(np.array_equal(vectors[int(i)], v) for i, v in zip(ids, catalog.vectors_for(ids)))
    finally:
        catalog.close()


def test_a_signal_that_does_not_run_is_not_backfilled(pixseek_home, tmp_path, photo_dir, register):
    index = tmp_path / "index"
    with Library.open(index, create=True) as library:
        library.index([photo_dir])
    register(SwitchedOff)
    with Library.open(index) as library:
        assert library.changes().undescribed == 0
        assert (library.index().described, Brightness.seen) == (0, [])


def test_a_query_reads_the_signal_of_its_results_by_id(pixseek_home, tmp_path, photo_dir, register):
    """The query side's hook: stored values by id, here to re-rank results by brightness."""
    register(Brightness)
    index = tmp_path / "index"
    with Library.open(index, create=True) as library:
        library.index([photo_dir])
        results = library.search("a photo", k=5)
    catalog = catalog_of(index)
    try:
        brightness = catalog.values("brightness", [r.id for r in results])
    finally:
        catalog.close()
    assert set(brightness) == {r.id for r in results}
    brightest = sorted(results, key=lambda r: -brightness[r.id])
    assert [brightness[r.id] for r in brightest] == sorted(brightness.values(), reverse=True)


# -- the three signals pixseek ships ---------------------------------------------------------------

SCHEMA_2 = {  # every table and column of a schema 2 catalog: what older pixseeks wrote and read
    "meta": ["key", "value"], "roots": ["path", "added_at"],
    "files": ["id", "path", "size", "mtime_ns", "hash", "width", "height", "indexed_at", "gen"],
    "vectors": ["id", "vector"], "removed": ["id", "gen"], "skipped": ["path", "size", "mtime_ns", "reason"],
    "photo_meta": ["id", "taken_at", "utc_offset", "time_source", "camera_id", "lens", "latitude", "longitude",
                   "place_id", "phash", "gen"],
    "cameras": ["id", "make", "model"], "places": ["id", "city", "area", "region", "country", "country_code"],
}


def test_the_shipped_signals_are_the_vector_the_metadata_the_perceptual_hash_the_words_video_moments_and_faces():
    assert SIGNALS == [ClipVectors, Metadata, PerceptualHash, Words, VideoMoments, Faces]
    assert [(s.name, s.reads) for s in SIGNALS] == [("clip", Reads.IMAGE), ("metadata", Reads.BYTES),
                                                    ("phash", Reads.IMAGE), ("words", Reads.IMAGE),
                                                    ("video", Reads.BYTES), ("faces", Reads.IMAGE)]
    assert VideoMoments.for_run(None) is None  # read by the video pass, never inline


def test_the_shipped_signals_keep_schema_2s_tables(tmp_path):
    catalog = Catalog.open(tmp_path, create=True, model_id="m", dim=4)
    catalog.close()
    db = sqlite3.connect(tmp_path / "catalog.sqlite3")
    try:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        tables.discard("sqlite_sequence")
        kept = tables - {t for t in tables if t.startswith("text_")}  # the words' tables are new (signals/words.py)
        kept -= set(VideoMoments.rows.tables())  # so are the videos' (signals/video.py)
        kept -= set(Faces.rows.tables())  # and the faces' (signals/faces.py)
        assert {t: [row[1] for row in db.execute(f"PRAGMA table_info({t})")] for t in kept} == SCHEMA_2
    finally:
        db.close()


def test_the_shipped_signals_rows_after_an_index_run(pixseek_home, tmp_path, photo_dir):
    png = next(photo_dir.rglob("*.png"))
    shutil.copy(png, photo_dir / "copy.png")
    index = tmp_path / "index"
    with Library.open(index, create=True) as library:
        library.index([photo_dir])
    catalog = catalog_of(index)
    try:
        ids = catalog.ids_under()
        by_name = {Path(p).name: i for i, p in catalog.paths_for(ids).items()}
        vectors = catalog.values("clip", ids)
        assert len(vectors) == 13 and all(np.array_equal(vectors[int(i)], v)
                                          for i, v in zip(ids, catalog.vectors_for(ids)))
        assert catalog.values("metadata", ids) == catalog.descriptions(ids) and len(catalog.descriptions(ids)) == 13
        described = catalog.descriptions([by_name[png.name]])[by_name[png.name]].metadata
        assert (described.width, described.height, described.time_source) == (320, 240, "file")
        phashes = catalog.values("phash", ids)
        assert phashes == catalog.phashes(ids) and len(phashes) == 13
        with Image.open(png) as image:
            assert phashes[by_name[png.name]] == perceptual_hash(image.convert("RGB"))
        copy, first = by_name["copy.png"], by_name[png.name]
        assert phashes[copy] == phashes[first] and np.array_equal(vectors[copy], vectors[first])
    finally:
        catalog.close()
