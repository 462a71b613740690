"""Whole-pipeline tests: real image files, the tiny real CLIP on ONNX Runtime, real FAISS and SQLite."""

from __future__ import annotations

import os
import re
import shutil
import time

import numpy as np
import pytest

from conftest import SHARED_PHOTOS, make_photo
from pixseek.errors import FolderNotFound, IndexIncompatible, IndexLocked, IndexNotFound, PixseekError, QueryError
from pixseek.filters import SearchFilters
from pixseek.images import open_upright
from pixseek.library import Library
from pixseek.engine.query import parse_query


@pytest.fixture
def library(pixseek_home, tmp_path):
    with Library.open(tmp_path / "index", create=True) as lib:
        yield lib


def stored(library, path):
    record = library._index.catalog.lookup(str(path))
    assert record is not None, f"{path} is not in the catalog"
    return record, library._index.catalog.vectors_for([record.id])[0]


def all_paths(library):
    return {r.path for r in library._index.catalog.files_under(library._index.catalog.roots())}


def test_every_image_queried_by_itself_ranks_first(library, photo_dir):
    report = library.index([photo_dir])
    assert report.indexed == 12 and not report.skipped
    for path in all_paths(library):
        results = library.search(parse_query(images=[path]), k=3)
        assert results[0].path == path
        assert results[0].score == pytest.approx(1.0, abs=1e-5)


def test_scores_equal_numpy_cosine_of_stored_vectors(library, photo_dir):
    library.index([photo_dir])
    for query in (parse_query(["a red car"]), parse_query(["2:dog", "1:snow"], negatives=["people"])):
        q = library.query_vector(query)
        results = library.search(query, k=12)
        assert len(results) == 12
        assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
        for result in results:
            _, vector = stored(library, result.path)
            assert result.score == pytest.approx(float(np.dot(q, vector)), abs=1e-5)


def test_weighted_and_negative_terms_combine_as_documented(library, photo_dir):
    library.index([photo_dir])
    dog, snow, people = library.encoder.encode_texts(["dog", "snow", "people"])
    expected = 2 * dog + snow - people
    expected /= np.linalg.norm(expected)
    got = library.query_vector(parse_query(["2:dog", "snow"], negatives=["people"]))
    assert np.allclose(got, expected, atol=1e-6)


def test_ids_and_paths_never_drift(library, photo_dir):
    library.index([photo_dir])
    encoder = library.encoder
    for path in all_paths(library):
        _, vector = stored(library, path)
        fresh = encoder.encode_images([open_upright(path, min_side=encoder.image_size)])[0]
        assert float(np.dot(fresh, vector)) == pytest.approx(1.0, abs=1e-4), path


def test_reindex_handles_added_changed_moved_deleted(library, photo_dir, tmp_path):
    library.index([photo_dir])
    paths = sorted(all_paths(library))
    deleted, changed, moved = paths[0], paths[1], paths[2]
    record_moved, vector_moved = stored(library, moved)
    os.remove(deleted)
    time.sleep(0.01)
    make_photo(type(photo_dir)(changed), seed=999, fmt="JPEG" if changed.lower().endswith(("jpg", "jpeg")) else "PNG")
    new_place = photo_dir / "renamed" / "moved here.jpg"
    new_place.parent.mkdir()
    shutil.move(moved, new_place)
    added = make_photo(photo_dir / "new" / "added.png", seed=1234)

    report = library.index([photo_dir])
    assert (report.indexed, report.reused, report.removed) == (2, 1, 1)
    assert report.unchanged == 9

    now = all_paths(library)
    assert deleted not in now and moved not in now
    assert {str(new_place), str(added), changed} <= now
    record_new, vector_new = stored(library, new_place)
    assert record_new.id == record_moved.id and np.array_equal(vector_new, vector_moved)
    for result in library.search("anything", k=50):
        assert result.path not in (deleted, moved)
    assert library.status().consistent

    again = library.index([photo_dir])
    assert (again.indexed, again.reused, again.removed, again.unchanged) == (0, 0, 0, 12)


def test_duplicates_and_touched_files_reuse_stored_vectors(library, photo_dir):
    library.index([photo_dir])
    source = sorted(all_paths(library))[0]
    copy = photo_dir / "copy of it.jpg"
    shutil.copyfile(source, copy)
    touched = sorted(all_paths(library))[1]
    os.utime(touched, ns=(time.time_ns(), time.time_ns() + 10**9))
    report = library.index([photo_dir])
    assert (report.indexed, report.reused) == (0, 2)
    assert np.array_equal(stored(library, copy)[1], stored(library, source)[1])
    assert stored(library, touched)[0].mtime_ns == os.stat(touched).st_mtime_ns


def test_filters_within_folder_and_min_score(library, photo_dir):
    library.index([photo_dir])
    trip = photo_dir / "trip"
    inside = library.search("a photo", k=50, filters=SearchFilters(folder=str(trip)))
    assert inside and all(r.path.startswith(str(trip) + os.sep) for r in inside)
    assert len(inside) == sum(1 for p in all_paths(library) if p.startswith(str(trip) + os.sep))
    everything = library.search("a photo", k=50)
    threshold = everything[len(everything) // 2].score
    above = library.search("a photo", k=50, min_score=threshold)
    assert [r.path for r in above] == [r.path for r in everything if r.score >= threshold]


def test_removing_a_folder_and_deleted_files_never_return(library, photo_dir):
    library.index([photo_dir])
    removed = library.remove(photo_dir / "trip")
    assert removed > 0
    assert all("trip" not in r.path for r in library.search("x", k=50))
    assert library.status().consistent


def test_search_sees_commits_from_another_process_handle(library, photo_dir, tmp_path):
    library.index([photo_dir])
    with Library.open(tmp_path / "index") as reader:
        assert len(reader.search("x", k=50)) == 12
        make_photo(photo_dir / "later.png", seed=77)
        library.index([photo_dir])
        assert len(reader.search("x", k=50)) == 13


def test_broken_vector_file_is_rebuilt_from_stored_vectors(library, photo_dir, tmp_path):
    library.index([photo_dir])
    before = [(r.path, round(r.score, 5)) for r in library.search("a cat", k=12)]
    (vector_file,) = (tmp_path / "index").glob("vectors-*.faiss")
    vector_file.write_bytes(b"garbage" * 10)
    with Library.open(tmp_path / "index") as reopened:
        after = [(r.path, round(r.score, 5)) for r in reopened.search("a cat", k=12)]
        status = reopened.status()
    assert after == before
    assert status.consistent and any("damaged" in note for note in status.notes)


def test_index_from_another_model_is_a_clear_error(library, photo_dir, tmp_path, clip_vocab, pixseek_home):
    from pixseek.model.export import export_random

    library.index([photo_dir])
    export_random("tiny", pixseek_home / "models" / "other", seed=5)
    with pytest.raises(IndexIncompatible, match="built with model 'random/tiny-seed0'"):
        Library.open(tmp_path / "index", model="other")


def test_index_from_a_newer_schema_is_a_clear_error(library, photo_dir, tmp_path):
    library.index([photo_dir])
    library._index.catalog.set_setting("schema_version", "99")
    with pytest.raises(IndexIncompatible, match="newer pixseek"):
        Library.open(tmp_path / "index")


def test_second_writer_is_refused(library, photo_dir, tmp_path):
    from filelock import FileLock

    with FileLock(str(tmp_path / "index" / "write.lock")):
        with pytest.raises(IndexLocked):
            library.index([photo_dir])


def test_user_errors(pixseek_home, tmp_path, library):
    with pytest.raises(FolderNotFound):
        library.index([tmp_path / "nope"])
    with pytest.raises(IndexNotFound):
        Library.open(tmp_path / "no-index")
    with pytest.raises(QueryError):
        parse_query(["   "])
    with pytest.raises(QueryError):
        library.search("x", k=0)


@pytest.mark.skipif(not SHARED_PHOTOS.is_dir(), reason="../shared/data is not present (optional real photos)")
def test_real_photos_index_and_self_query(library):
    folder = SHARED_PHOTOS / "coco-mini"
    report = library.index([folder])
    assert report.indexed + len(report.skipped) == len(list(folder.glob("*.jpg")))
    sample = sorted(all_paths(library))[::40]
    for path in sample:
        assert library.search(parse_query(images=[path]), k=1)[0].path == path


def test_indexing_in_one_thread_while_another_reads(library, photo_dir, monkeypatch):
    """A search replays the catalog in a read transaction on the shared connection; the indexer
    must commit on a connection of its own meanwhile, and searches must see each commit."""
    import threading

    library.index([photo_dir])
    for i in range(40):
        make_photo(photo_dir / "more" / f"{i}.jpg", seed=100 + i)
    monkeypatch.setenv("PIXSEEK_BATCH", "4")  # many commits to search between
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(library.index([photo_dir])))
    with library._index.catalog.snapshot():  # what a search's replay holds while another thread indexes
        worker.start()
        worker.join(120)
    assert outcome and outcome[0].indexed == 40

    for i in range(20):
        make_photo(photo_dir / "even more" / f"{i}.jpg", seed=200 + i)
    worker = threading.Thread(target=library.index, args=([photo_dir],))
    counts = []
    worker.start()
    while worker.is_alive():
        counts.append(len(library.search("x", k=100)))
    worker.join()
    # Never fewer than before, and some search saw a run half done: each batch shows on commit.
    assert counts == sorted(counts) and 52 <= counts[0] and any(52 < c < 72 for c in counts), counts
    assert len(library.search("x", k=100)) == 72


def test_a_run_with_nothing_to_do_rewrites_nothing(library, photo_dir, tmp_path):
    library.index([photo_dir])
    (before,) = (tmp_path / "index").glob("vectors-*.faiss")
    generation = library._index.catalog.generation
    library.index([photo_dir])
    assert library._index.catalog.generation == generation
    assert list((tmp_path / "index").glob("vectors-*.faiss")) == [before]


def test_engine_messages_name_no_command_or_flag(library, photo_dir, tmp_path, pixseek_home):
    """Every face shows the engine's words: they say what to do without a CLI command or flag
    (each face adds its own how-to)."""
    from pixseek.model.export import export_random

    library.index([photo_dir])
    export_random("tiny", pixseek_home / "models" / "other", seed=1)
    (tmp_path / "a file").write_text("not a folder")
    attempts = [lambda: Library.open(tmp_path / "none"), lambda: parse_query([]),
                lambda: parse_query(images=[str(tmp_path / "gone.jpg")]),
                lambda: Library.open(tmp_path / "index", model="other"),
                lambda: Library.open(tmp_path / "a file", create=True),
                lambda: library.search("x", filters=SearchFilters(folder=str(tmp_path / "elsewhere")))]
    messages = []
    for attempt in attempts:
        with pytest.raises(PixseekError) as caught:
            attempt()
        messages.append(str(caught.value))
    library._index.catalog.set_setting("schema_version", "99")
    with pytest.raises(IndexIncompatible) as caught:
        Library.open(tmp_path / "index")
    messages.append(str(caught.value))
    for message in messages:
        assert not re.search(r"`pixseek|--[a-z]", message), message
    assert "a file of that name is in the way" in messages[4]  # was a FileExistsError traceback


def test_time_left_is_estimated_from_saved_batches_only(library, photo_dir, tmp_path, monkeypatch):
    """Files are read and decoded a window ahead of the encoder: a rate counted from them
    promised a finish long before it came (the web app said 2 s for a 14 s run). No estimate
    until a batch is saved, and then from saved files."""
    import sqlite3

    monkeypatch.setenv("PIXSEEK_BATCH", "8")
    for i in range(40):
        make_photo(photo_dir / "more" / f"{i}.jpg", seed=400 + i)
    reader = sqlite3.connect(tmp_path / "index" / "catalog.sqlite3")
    seen = []

    def progress(p):
        saved = reader.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        seen.append((p.done, saved, p.eta))

    library.index([photo_dir], progress=progress)
    reader.close()
    assert seen[0][2] is None and any(eta is not None for _, _, eta in seen)
    for done, saved, eta in seen:
        assert (eta is None) == (saved == 0), (done, saved, eta)
