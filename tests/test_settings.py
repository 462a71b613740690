"""What the faces remember, and files replaced whole: one module each (there were two settings
modules and six temp-file-then-rename copies, three of which left the temp file on failure)."""

from __future__ import annotations

import json

import pytest

from pixseek import atomic, settings
from pixseek.thumbnails import ThumbnailCache


def test_settings_are_remembered_per_face_and_never_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PIXSEEK_HOME", str(tmp_path / "home"))
    assert settings.load("desktop") == {}
    settings.save("desktop", folder="/photos/ünï côde")
    settings.save("desktop", k=7)  # beside what was remembered
    settings.save("web", folders=["/a", "/b"])
    assert settings.load("desktop") == {"folder": "/photos/ünï côde", "k": 7}
    assert settings.load("web") == {"folders": ["/a", "/b"]}
    assert settings.settings_file("desktop") == tmp_path / "home" / "config" / "desktop.json"
    for damaged in ("{not json", json.dumps(["a list"]), "\xff"):
        settings.settings_file("desktop").write_text(damaged)
        assert settings.load("desktop") == {}  # like a first run, never a crash
    config = settings.settings_file("desktop").parent
    for child in config.iterdir():
        child.unlink()
    config.rmdir()
    config.write_text("a file where the config folder should be")
    settings.save("desktop", folder="/elsewhere")  # an unwritable config folder costs only the memory
    assert settings.load("desktop") == {}


def test_a_failed_replacement_keeps_the_old_file_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "kept.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic.replacing(target) as handle:
        handle.write(b"half of the new")
        raise RuntimeError("the writer failed")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]

    folder_in_the_way = tmp_path / "a folder"
    folder_in_the_way.mkdir()
    with pytest.raises(OSError):
        atomic.write_bytes(folder_in_the_way, b"new")  # the rename fails
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a folder", "kept.json"]


def test_a_thumbnail_cache_that_cannot_store_still_serves_and_leaves_nothing(tmp_path):
    from conftest import make_photo

    photo = make_photo(tmp_path / "p.jpg", seed=1)
    cache = ThumbnailCache(tmp_path / "cache")
    content_hash = bytes(16)
    key = tmp_path / "cache" / "00" / f"{content_hash.hex()}-64.jpg"
    key.mkdir(parents=True)  # where the thumbnail goes, a folder: its rename fails
    assert cache.get(str(photo), photo.read_bytes, content_hash, 64)[:2] == b"\xff\xd8"
    assert [p.name for p in key.parent.iterdir()] == [key.name]  # (the old cache left a .tmp here)
