"""`pixseek watch` as a real process on real folders: after each change the index must equal a
fresh full index of the same folder; Ctrl-C leaves it consistent; a restart catches up."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from api_server import server_env
from conftest import make_copies, make_photo
from pixseek.library import Library

SETTLE_TIMEOUT_S = 90
BURST = 10_000


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


class WatchProcess:
    def __init__(self, home: Path, index: Path, *folders: Path):
        self.command = [sys.executable, "-m", "pixseek.cli", "watch", "--index", str(index), "--debounce", "0.3",
                        *map(str, folders)]
        self.env = server_env(home)
        self.lines: list[str] = []

    def __enter__(self) -> WatchProcess:
        self.process = subprocess.Popen(self.command, env=self.env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=lambda: self.lines.extend(self.process.stderr), daemon=True).start()
        self.wait_for("watching")
        return self

    def wait_for(self, words: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not any(words in line for line in self.lines):
            assert self.process.poll() is None, f"watch exited: {''.join(self.lines)}"
            assert time.monotonic() < deadline, f"no {words!r} in {''.join(self.lines)}"
            time.sleep(0.05)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout=60)

    def __exit__(self, *exc) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def snapshot(index: Path, root: Path) -> tuple[dict, dict, dict]:
    """(path -> (size, mtime, hash), path -> vector, skipped path -> reason) of one index."""
    with Library.open(index) as library:
        records = list(library._index.catalog.files_under([str(root)]))
        vectors = library._index.catalog.vectors_for([r.id for r in records])
        files = {r.path: (r.size, r.mtime_ns, r.hash) for r in records}
        return files, dict(zip(files, vectors)), dict(library._index.catalog.skipped_under([str(root)]))


def fresh(tmp_path: Path, root: Path):
    index = tmp_path / f"fresh-{time.monotonic_ns()}"
    with Library.open(index, create=True) as library:
        library.index([root])
    try:
        return snapshot(index, root)
    finally:
        shutil.rmtree(index)


def assert_matches_fresh(index: Path, root: Path, tmp_path: Path, timeout: float = SETTLE_TIMEOUT_S) -> float:
    """Wait until the watched index equals a fresh full index of `root`; the seconds it took."""
    expected_files, expected_vectors, expected_skipped = fresh(tmp_path, root)
    begun = time.monotonic()
    while True:
        files, vectors, skipped = snapshot(index, root)
        if files == expected_files and {p: s[2] for p, s in skipped.items()} == \
                {p: s[2] for p, s in expected_skipped.items()}:
            break
        assert time.monotonic() - begun < timeout, (
            f"index differs from a fresh one: {len(set(files) ^ set(expected_files))} paths differ, e.g. "
            f"{sorted(set(files) ^ set(expected_files))[:3]}")
        time.sleep(0.2)
    for path, vector in expected_vectors.items():
        assert float(np.dot(vector, vectors[path])) > 0.999, path
    return time.monotonic() - begun


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    for i in range(6):
        make_photo(root / ("2023" if i < 3 else "2024") / f"p{i}.jpg", seed=i)
    return root


def test_add_modify_rename_delete_folder_removed_and_recreated_burst(pixseek_home, photos, tmp_path):
    index = tmp_path / "index"
    with WatchProcess(pixseek_home, index, photos) as watcher:
        assert_matches_fresh(index, photos, tmp_path)

        make_photo(photos / "2024" / "added.jpg", seed=100)
        make_photo(photos / "new folder" / "deep" / "added.png", seed=101)
        (photos / "2024" / "notes.txt").write_text("not a photo")
        (photos / "2024" / "broken.jpg").write_bytes(b"\xff\xd8\xff broken")
        assert_matches_fresh(index, photos, tmp_path)

        make_photo(photos / "2023" / "p0.jpg", seed=200)  # edited in place
        assert_matches_fresh(index, photos, tmp_path)

        with Library.open(index) as library:
            moved_id = library._index.catalog.lookup(str(photos / "2023" / "p1.jpg")).id
        os.rename(photos / "2023" / "p1.jpg", photos / "2024" / "p1 moved.jpg")
        os.rename(photos / "2024" / "p3.jpg", photos / "2024" / "p3 renamed.jpg")
        assert_matches_fresh(index, photos, tmp_path)
        with Library.open(index) as library:  # a move keeps the stored vector: it is not embedded again
            assert library._index.catalog.lookup(str(photos / "2024" / "p1 moved.jpg")).id == moved_id

        os.unlink(photos / "2024" / "p4.jpg")
        assert_matches_fresh(index, photos, tmp_path)

        kept = shutil.copytree(photos / "2023", tmp_path / "backup")
        shutil.rmtree(photos / "2023")
        assert_matches_fresh(index, photos, tmp_path)
        shutil.copytree(kept, photos / "2023")
        assert_matches_fresh(index, photos, tmp_path)

        # 10,000 files copied in at once: 500 distinct pictures, each 20 times, so that the
        # embedding (twice: the watcher's and the fresh index's) does not swamp the test's time.
        distinct = make_copies(tmp_path / "camera", 500, size=(40, 30))
        started = time.monotonic()
        (photos / "burst").mkdir()
        for i in range(BURST):
            shutil.copyfile(distinct[i % len(distinct)], photos / "burst" / f"IMG_{i:05d}.jpg")
        copied = time.monotonic()
        assert_matches_fresh(index, photos, tmp_path, timeout=120)
        print(f"\nburst of {BURST} files: copied in {copied - started:.1f} s; the watched index matched a fresh "
              f"full index {time.monotonic() - copied:.1f} s after the copy ended")
        assert watcher.stop() == 0
    assert "stopped; the index is consistent" in "".join(watcher.lines)


def test_ctrl_c_mid_update_leaves_it_consistent_and_a_restart_catches_up(pixseek_home, photos, tmp_path):
    index = tmp_path / "index"
    with WatchProcess(pixseek_home, index, photos) as watcher:
        make_copies(photos / "incoming", 600, size=(1600, 1200))
        time.sleep(1.0)  # quiet for the debounce: the update starts
        assert watcher.stop() == 0
    with Library.open(index) as library:
        status = library.status()
        assert status.consistent, status.problems
        assert status.images < 6 + 600, "the update was not interrupted: make it larger"
    make_photo(photos / "2023" / "while away.jpg", seed=300)  # changes nobody watched
    os.unlink(photos / "2024" / "p5.jpg")
    with WatchProcess(pixseek_home, index) as watcher:  # default: the folders already indexed
        assert_matches_fresh(index, photos, tmp_path)
        assert watcher.stop() == 0


def test_folder_gone_and_back_keeps_its_photos_meanwhile(pixseek_home, photos, tmp_path):
    index = tmp_path / "index"
    with WatchProcess(pixseek_home, index, photos) as watcher:
        assert_matches_fresh(index, photos, tmp_path)
        away = tmp_path / "away"
        os.rename(photos, away)  # as an unmounted disk whose mount point went with it
        watcher.wait_for("is gone or empty")
        with Library.open(index) as library:
            assert library.count(photos) == 6
        make_photo(away / "2024" / "added while away.jpg", seed=400)
        os.rename(away, photos)
        watcher.wait_for("is back")
        assert_matches_fresh(index, photos, tmp_path)
        make_photo(photos / "2024" / "after.jpg", seed=401)  # watched again
        assert_matches_fresh(index, photos, tmp_path)


def _mount_tmpfs(folder: Path) -> bool:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "pixseek-test", str(folder)],
                          capture_output=True).returncode == 0


def test_unmounted_and_remounted_disk(pixseek_home, tmp_path):
    """A real mount: after umount the mount point is an empty folder, not a deleted collection."""
    disk = tmp_path / "disk"
    if not _mount_tmpfs(disk):
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    try:
        for i in range(4):
            make_photo(disk / f"p{i}.jpg", seed=i)
        index = tmp_path / "index"
        with WatchProcess(pixseek_home, index, disk) as watcher:
            assert_matches_fresh(index, disk, tmp_path)
            subprocess.run(["umount", str(disk)], check=True)
            watcher.wait_for("is gone or empty")
            with Library.open(index) as library:
                assert library.count(disk) == 4
            assert _mount_tmpfs(disk)
            for i in range(5):
                make_photo(disk / f"p{i}.jpg", seed=i)
            watcher.wait_for("is back")
            assert_matches_fresh(index, disk, tmp_path)
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_serve_with_watch_in_one_process(pixseek_home, photos, tmp_path):
    from api_server import ApiServer

    index = tmp_path / "index"
    env = server_env(pixseek_home, PIXSEEK_INDEX=str(index))
    with ApiServer(env, str(photos), "--watch", "--debounce", "0.3") as server, server.client() as client:
        assert_matches_fresh(index, photos, tmp_path)
        make_photo(photos / "2024" / "new.jpg", seed=500)
        assert_matches_fresh(index, photos, tmp_path)
        names = [hit["name"] for hit in client.get("/api/search", params={"q": "x", "k": 50}).json()["results"]]
        assert sorted(names) == sorted(p.name for p in photos.rglob("*.jpg"))
    assert "watching 1 folder(s)" in "".join(server.stderr)


def test_systemd_user_unit(pixseek_home, photos, tmp_path):
    """The documented unit is valid for systemd, and what it runs stops cleanly on its SIGTERM."""
    from conftest import ROOT

    unit = (ROOT / "contrib" / "systemd" / "pixseek-watch.service").read_text()
    command = re.search(r"^ExecStart=(\S+) (.*)$", unit, re.MULTILINE)
    assert command.group(1).endswith("/pixseek") and command.group(2) == "watch"
    here = tmp_path / "pixseek-watch.service"
    here.write_text(unit.replace(command.group(1), str(Path(sys.executable).with_name("pixseek"))))
    if shutil.which("systemd-analyze"):
        checked = subprocess.run(["systemd-analyze", "verify", str(here)], capture_output=True, text=True)
        assert checked.returncode == 0 and not checked.stderr, checked.stderr
    index = tmp_path / "index"
    with Library.open(index, create=True) as library:
        library.index([photos])
    env = server_env(pixseek_home, PIXSEEK_INDEX=str(index))
    process = subprocess.Popen([str(Path(sys.executable).with_name("pixseek")), *command.group(2).split()], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    threading.Thread(target=lambda: lines.extend(process.stderr), daemon=True).start()
    deadline = time.monotonic() + 60
    while not any("watching 1 folder" in line for line in lines):
        assert process.poll() is None and time.monotonic() < deadline, "".join(lines)
        time.sleep(0.05)
    process.terminate()
    assert process.wait(timeout=60) == 0
    assert "stopped; the index is consistent" in "".join(lines)
