"""Rebuilding an index for another model: the old one answers until the new one is complete."""

from __future__ import annotations

import json
import os
import threading

import pytest

from conftest import make_photo
from pixseek.errors import IndexIncompatible
from pixseek.library import Library
from pixseek.reindex import COMPLETE_MARK, staging_dir
from reliability_kit import cli

OLD, NEW = "random/tiny-seed0", "random/tiny-seed5"


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


@pytest.fixture
def indexed(pixseek_home, tmp_path):
    """80 photos indexed with the default test model; a second model, "other", installed."""
    from pixseek.model.export import export_random

    export_random("tiny", pixseek_home / "models" / "other", seed=5)
    for i in range(80):
        make_photo(tmp_path / "photos" / f"{i:02d}.jpg", seed=i)
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([tmp_path / "photos"])
    return tmp_path / "index"


def test_another_model_is_refused_with_what_to_do(indexed):
    with pytest.raises(IndexIncompatible, match="rebuild it for other") as error:
        Library.open(indexed, model="other")
    assert error.value.model == "other"
    result = cli("search", "--index", indexed, "--model", "other", "a dog")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "`pixseek index --model other --reindex`" in result.stderr


def test_interrupted_rebuild_keeps_the_old_index_and_resumes(indexed, tmp_path, monkeypatch):
    """... and the owner's settings: reading text turned off stays off (it fell back to the default)."""
    monkeypatch.setenv("PIXSEEK_READ_TEXT", "yes")
    cancel = threading.Event()
    with Library.open(indexed) as library:
        library.index(read_text=False)
        report = library.reindex("other", progress=lambda p: p.done >= 32 and cancel.set(), cancel=cancel)
        assert report.cancelled
        # The old index is untouched and searchable; the rebuild waits beside it.
        assert library.model_id == OLD and library.status().images == 80
        assert library.search("a dog", k=3)
    assert (staging_dir(indexed) / "catalog.sqlite3").is_file()
    with Library.open(staging_dir(indexed)) as partial:
        done_before = partial.status().images
    assert 0 < done_before < 80

    with Library.open(indexed) as library:
        report = library.reindex("other")
        assert not report.cancelled and report.indexed == 80 - done_before  # resumed, not restarted
        assert library.model_id == NEW and library.status().images == 80
        assert report.text_read == 0 and not library.status().reads_text
        first = str(tmp_path / "photos" / "07.jpg")
        best = library.search(first, k=1)[0]
        assert best.path == first and best.score > 0.999
    assert not staging_dir(indexed).exists()
    with Library.open(indexed, model="other") as reopened:
        assert reopened.status().consistent


def test_searches_during_a_rebuild_answer_from_the_old_index(indexed):
    answers = []

    def search_meanwhile(progress):
        if not answers:
            with Library.open(indexed) as reader:
                answers.append((reader.model_id, len(reader.search("a red car", k=5))))

    with Library.open(indexed) as library:
        library.reindex("other", progress=search_meanwhile)
    assert answers == [(OLD, 5)]


def test_a_rebuild_for_a_third_model_starts_over(indexed, pixseek_home):
    from pixseek.model.export import export_random

    export_random("tiny", pixseek_home / "models" / "third", seed=7)
    cancel = threading.Event()
    with Library.open(indexed) as library:
        library.reindex("other", progress=lambda p: cancel.set(), cancel=cancel)
        report = library.reindex("third")
    assert report.indexed == 80
    with Library.open(indexed) as library:
        assert library.model_id == "random/tiny-seed7"


def test_swap_killed_midway_is_finished_on_next_open(indexed):
    """The state a process killed between the swap's two renames leaves: the old index moved
    aside, the complete new one still in its staging folder."""
    cancel = threading.Event()
    with Library.open(indexed) as library:
        library.reindex("other", progress=lambda p: cancel.set(), cancel=cancel)
    with Library.open(staging_dir(indexed), model="other") as staged:
        staged.index()
    (staging_dir(indexed) / COMPLETE_MARK).touch()
    os.rename(indexed, indexed.parent / f".{indexed.name}.previous")
    with Library.open(indexed) as library:
        assert library.model_id == NEW and library.status().images == 80
        assert any("rebuilt for another model" in note for note in library.notes)
    assert not staging_dir(indexed).exists() and not (indexed.parent / f".{indexed.name}.previous").exists()


def test_cli_reindex(indexed):
    result = cli("index", "--index", indexed, "--model", "other", "--reindex", "-q")
    assert result.returncode == 0, result.stderr
    status = cli("status", "--index", indexed, "--json")
    assert '"model_id": "random/tiny-seed5"' in status.stdout
    assert cli("index", "--index", indexed, "--reindex").returncode == 1  # which model? one line says
    found = cli("search", "--index", indexed, "--model", "other", "--json", "a dog")
    assert found.returncode == 0 and len(json.loads(found.stdout)) == 10
