"""Reading a run's text ahead (engine/text_ahead.py): each photo read once and handed over as it
was read, on threads of a lower priority, never more than AHEAD photos, nothing more once stopped."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from pixseek.engine import text_ahead
from pixseek.engine.text_ahead import ReadAhead
from pixseek.files import FileEntry


def entries(folder: Path, count: int) -> list[FileEntry]:
    found = []
    for i in range(count):
        path = folder / f"{i:03d}.bin"
        path.write_bytes(b"x" * (i + 1))
        info = path.stat()
        found.append(FileEntry(str(path), info.st_size, info.st_mtime_ns))
    return found


def test_each_entry_is_read_once_and_handed_over(tmp_path):
    todo, reads = entries(tmp_path, 20), []

    def read(entry: FileEntry) -> int:
        reads.append(entry.path)
        return len(Path(entry.path).read_bytes())

    ahead = ReadAhead(todo, read, workers=2)
    try:
        assert [ahead.take(entry) for entry in todo] == [(True, i + 1) for i in range(20)]
        assert ahead.take(todo[0]) == (False, None)  # handed over once
    finally:
        ahead.close()
    assert sorted(reads) == sorted(entry.path for entry in todo)


def test_a_file_that_changed_since_is_not_taken(tmp_path):
    (entry,) = entries(tmp_path, 1)
    ahead = ReadAhead([entry], lambda e: e.size, workers=1)
    try:
        assert ahead.take(FileEntry(entry.path, entry.size + 1, entry.mtime_ns)) == (False, None)
        assert ahead.take(entry) == (True, entry.size)
    finally:
        ahead.close()


def test_no_more_than_AHEAD_photos_are_read_ahead(tmp_path, monkeypatch):
    monkeypatch.setattr(text_ahead, "AHEAD", 5)
    todo = entries(tmp_path, 8)
    ahead = ReadAhead(todo, lambda e: e.size, workers=2)
    try:
        taken = [ahead.take(entry)[0] for entry in todo]
    finally:
        ahead.close()
    assert taken == [True] * 5 + [False] * 3


def test_once_stopped_what_waits_is_not_read(tmp_path):
    todo, reads, release = entries(tmp_path, 10), [], threading.Event()

    def read(entry: FileEntry) -> str:
        reads.append(entry.path)
        release.wait(10)
        return entry.path

    ahead = ReadAhead(todo, read, workers=1)
    try:
        ahead.stop()
        release.set()
        assert ahead.take(todo[0]) == (True, todo[0].path)  # being read when stopped: finished
        assert not any(ahead.take(entry)[0] for entry in todo[2:])
    finally:
        ahead.close()
    assert len(reads) <= 2  # the one being read, and at most the one its worker had already taken


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a thread's own nice value is Linux's")
def test_the_reading_threads_run_at_a_lower_priority(tmp_path):
    todo = entries(tmp_path, 3)
    ahead = ReadAhead(todo, lambda e: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()), workers=1)
    try:
        niceness = [ahead.take(entry)[1] for entry in todo]
    finally:
        ahead.close()
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert niceness == [min(19, own + text_ahead.NICENESS)] * 3
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # this thread untouched
