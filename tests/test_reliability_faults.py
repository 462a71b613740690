"""Faults around an index run: a full disk, a read-only index folder or photo folder, photos
deleted or replaced while the indexer reads them. The index from before keeps working, errors
are one clear line, and the next run converges to exactly what a clean run gives."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, make_photo
from pixseek.library import Library
from reliability_kit import (QUERY, assert_clean_failure, assert_true_scores, cli, index_state, indexed,
                             max_cosine_gap, module_home, record, search_everything)

TOLERANCE = 1e-5
TMPFS_BYTES = 8 << 20
FREE_BYTES = (0, 8 << 10, 48 << 10, 96 << 10, 192 << 10)  # room left when the second run starts
FIGURES: dict[str, dict] = {}


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


@pytest.fixture(scope="module")
def world(tmp_path_factory, tiny_bundle_dir):
    """Photos in two folders, the clean index of both, and a query's vector."""
    base = tmp_path_factory.mktemp("faults")
    with module_home(base, tiny_bundle_dir) as env:
        for i in range(20):
            make_photo(base / "before" / f"{i:02d}.jpg", seed=i)
        for i in range(150):
            make_photo(base / "more" / f"{i:03d}.jpg", seed=1000 + i)
        yield base, *indexed(base / "clean", [base / "before", base / "more"]), env


def _run(*args) -> dict:
    result = cli(*args, env={"PIXSEEK_BATCH": "8"})
    return {"rc": result.returncode, "stdout": result.stdout, "stderr": result.stderr}


def disk_full_child(disk: str, base: str) -> None:
    """Runs inside a mount namespace where `disk` is a small tmpfs: for each amount of room
    left, index `before`, fill the disk, index `more`, then search and check; then free the
    disk and finish. Prints what happened as JSON (the tmpfs vanishes with the namespace)."""
    disk, base = Path(disk), Path(base)
    outcomes = {}
    for free in FREE_BYTES:
        index, filler = disk / "index", disk / "filler"
        shutil.rmtree(index, ignore_errors=True)
        filler.unlink(missing_ok=True)
        first = _run("index", "-q", "--index", index, base / "before")
        with open(filler, "wb") as handle:
            handle.truncate(0)
            room = shutil.disk_usage(disk).free - free
            handle.write(b"\0" * max(room, 0))
        full = _run("index", "-q", "--index", index, base / "more")
        after = {"status": _run("status", "--index", index),
                 "search": _run("search", "--index", index, "--json", "-k", 1000, QUERY)}
        filler.unlink()
        final = _run("index", "-q", "--index", index, base / "more")
        state = {p: v.tolist() for p, v in index_state(index).items()} if final["rc"] == 0 else {}
        outcomes[free] = {"first": first, "full": full, **after, "final": final, "state": state}
    print(json.dumps(outcomes))


def test_disk_full_is_a_clear_error_and_the_index_keeps_working(world):
    base, reference, query, env = world
    disk = base / "disk"
    disk.mkdir()
    child = (f"import sys; sys.path[:0] = [{str(ROOT / 'tests')!r}]; import test_reliability_faults as t; "
             f"t.disk_full_child({str(disk)!r}, {str(base)!r})")
    result = subprocess.run(["unshare", "-Urm", "sh", "-c", 'mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && exec "$@"',
                             "sh", str(TMPFS_BYTES), str(disk), sys.executable, "-c", child],
                            env={**os.environ, **env}, capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and "mount" in result.stderr and "Traceback" not in result.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)
    figures = {}
    for free, outcome in outcomes.items():
        assert outcome["first"]["rc"] == 0, outcome["first"]["stderr"]
        full = outcome["full"]
        if full["rc"] != 0:
            assert_clean_failure(subprocess.CompletedProcess([], full["rc"], full["stdout"], full["stderr"]))
            assert "full" in full["stderr"], full["stderr"]
        assert outcome["status"]["rc"] == 0 and "consistent:   yes" in outcome["status"]["stdout"], outcome["status"]
        hits = assert_searches_correctly(outcome["search"], reference, query, at_least=20)  # all from before
        assert outcome["final"]["rc"] == 0, outcome["final"]["stderr"]
        state = {p: np.array(v, dtype=np.float32) for p, v in outcome["state"].items()}
        assert max_cosine_gap(state, reference) < TOLERANCE
        figures[f"{int(free) // 1024} KiB free"] = {"exit": full["rc"], "message": full["stderr"].strip()[:200],
                                                    "images_searchable_after": hits}
    FIGURES["disk full (8 MiB tmpfs)"] = figures


def test_vector_file_that_cannot_be_written_loses_nothing(world):
    """The vector file is written after the catalog commits; when that write fails (here: a
    36 KiB file size limit, over SQLite's 32 KiB -shm file, under the 40 KiB vector file that
    a run must write when the last one was lost) the run says so and the index stays whole."""
    base, reference, query, env = world
    for i in range(300):
        make_photo(base / "extra" / f"{i:03d}.jpg", seed=5000 + i, size=(64, 48))
    index = base / "size-limited"
    assert cli("index", "-q", "--index", index, base / "extra", env=env).returncode == 0
    expected = index_state(index)
    for saved in index.glob("vectors-*.faiss"):  # so that the next run must write one
        saved.unlink()
    limited = cli("index", "-q", "--index", index, base / "extra", env=env,
                  prefix=("prlimit", f"--fsize={36 << 10}", "--"))
    assert_clean_failure(limited, "up to date, but its vector file could not be written (File too large)")
    search = search_everything(index, env)
    assert search.returncode == 0 and len(json.loads(search.stdout)) == 300, search.stderr
    assert max_cosine_gap(index_state(index), expected) < 1e-6  # the very same vectors
    FIGURES["vector file write fails (file size limit)"] = {"message": limited.stderr.strip()}


def cli_child(commands: str) -> None:
    """Runs CLI commands (a JSON list of argument lists) inside a namespace; prints the results."""
    print(json.dumps([_run(*args) for args in json.loads(commands)]))


def in_namespace(setup: str, commands: list[list], env: dict, base: Path) -> list[dict]:
    """`commands` run by a child in a new user and mount namespace, after the shell `setup`."""
    child = (f"import sys; sys.path[:0] = [{str(ROOT / 'tests')!r}]; import test_reliability_faults as t; "
             f"t.cli_child(sys.argv[1])")
    result = subprocess.run(["unshare", "-Urm", "sh", "-c", f'{setup} && exec "$@"', "sh", sys.executable, "-c",
                             child, json.dumps([[str(a) for a in args] for args in commands])],
                            env={**os.environ, **env}, cwd=base, capture_output=True, text=True, timeout=300)
    if result.returncode != 0 and "mount" in result.stderr and "Traceback" not in result.stderr:
        pytest.skip(f"cannot bind-mount here: {result.stderr.strip()}")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_searches_correctly(outcome: dict, reference: dict, query: np.ndarray, at_least: int) -> int:
    assert outcome["rc"] == 0 and "Traceback" not in outcome["stderr"], outcome["stderr"]
    hits = assert_true_scores(outcome["stdout"], reference, query)
    assert hits >= at_least
    return hits


def kill_mid_run(index: Path, folders: list[Path], env: dict, rows: int) -> None:
    """SIGKILL an indexer once `rows` files are committed: its -wal and -shm stay behind."""
    from test_reliability_kill import committed_rows

    process = subprocess.Popen([sys.executable, "-m", "pixseek.cli", "index", "-q", "--index", str(index),
                                *map(str, folders)], env={**os.environ, **env, "PIXSEEK_BATCH": "8"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while committed_rows(index) < rows and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    process.kill()
    process.wait()


@pytest.mark.parametrize("after_a_kill", [False, True], ids=["closed cleanly", "after a SIGKILL"])
def test_read_only_index_folder_still_searches(world, after_a_kill):
    """A read-only mount: searching and status work (read-only, or immutable when SQLite cannot
    make its -shm file there); indexing is refused with a clear message."""
    base, reference, query, env = world
    index = base / f"read-only-{after_a_kill}"
    if after_a_kill:
        kill_mid_run(index, [base / "before", base / "more"], env, rows=40)
        assert (index / "catalog.sqlite3-wal").exists()
    else:
        shutil.copytree(base / "clean", index)
    search = ["search", "--index", index, "--json", "-k", 1000, QUERY]  # in the namespace, by the child
    outcomes = in_namespace(f"mount --bind {index} {index} && mount -o remount,bind,ro {index}",
                            [search, ["status", "--index", index], ["index", "-q", "--index", index, base / "more"]],
                            env, base)
    found = assert_searches_correctly(outcomes[0], reference, query, at_least=1 if after_a_kill else len(reference))
    assert outcomes[1]["rc"] == 0 and "consistent:   yes" in outcomes[1]["stdout"], outcomes[1]
    refused = outcomes[2]
    assert_clean_failure(subprocess.CompletedProcess([], refused["rc"], refused["stdout"], refused["stderr"]),
                         "cannot write to the index")
    FIGURES[f"read-only index folder ({'after a SIGKILL' if after_a_kill else 'closed cleanly'})"] = {
        "search_results": found, "index_message": refused["stderr"].strip()}


def test_read_only_photos_and_index_as_another_user(world):
    """As an ordinary user (a user namespace: root's override of permissions is gone), photos
    in a read-only folder index fine, and an index folder without write permission searches."""
    base, reference, query, env = world
    shared = Path(tempfile.mkdtemp(prefix="pixseek-ro-"))
    try:
        shutil.copytree(base / "before", shared / "photos")
        shutil.copytree(base / "home", shared / "home")
        subprocess.run(["chmod", "-R", "a+rX,a-w", str(shared / "photos")], check=True)
        subprocess.run(["chmod", "-R", "a+rwX", str(shared / "home")], check=True)
        os.chmod(shared, 0o777)
        user_env = {**env, "PIXSEEK_HOME": str(shared / "home")}
        as_user = ("unshare", "-U") if os.geteuid() == 0 else ()
        indexed = cli("index", "-q", "--index", shared / "index", shared / "photos", env=user_env, prefix=as_user)
        assert indexed.returncode == 0 and "20 indexed" in indexed.stdout, indexed.stderr
        subprocess.run(["chmod", "-R", "a-w", str(shared / "index")], check=True)
        search = cli("search", "--index", shared / "index", "--json", "-k", 100, QUERY, env=user_env, prefix=as_user)
        assert search.returncode == 0, search.stderr
        assert sorted(os.path.basename(h["path"]) for h in json.loads(search.stdout)) == sorted(
            os.path.basename(p) for p in reference if "/before/" in p)
        refused = cli("index", "-q", "--index", shared / "index", shared / "photos", env=user_env, prefix=as_user)
        assert_clean_failure(refused, "cannot write to the index")
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(shared)])
        shutil.rmtree(shared)


def test_photos_deleted_and_replaced_while_indexing_converge_on_the_next_run(world, tmp_path, monkeypatch):
    """A third of the way in, files ahead of the indexer (some already being decoded) are
    deleted, replaced by rename, or rewritten in place. The run completes; the next one gives
    exactly the state a clean run over the final files gives."""
    base, _, _, env = world
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PIXSEEK_BATCH", "8")
    photos = tmp_path / "photos"
    shutil.copytree(base / "more", photos)
    names = sorted(p.name for p in photos.iterdir())
    changed = {"deleted": names[60:140:4], "renamed over": names[61:140:4], "rewritten": names[62:140:4]}

    def mutate(progress):
        if progress.done != 50:
            return
        for name in changed["deleted"]:
            (photos / name).unlink()
        for i, name in enumerate(changed["renamed over"]):
            make_photo(tmp_path / "new.jpg", seed=9000 + i)
            os.replace(tmp_path / "new.jpg", photos / name)
        for i, name in enumerate(changed["rewritten"]):
            with open(photos / name, "r+b") as handle:  # in place: a reader may see it torn
                handle.truncate(0)
                handle.write(make_photo_bytes(9500 + i))

    with Library.open(tmp_path / "index", create=True) as library:
        first = library.index([photos], progress=mutate)
        second = library.index([photos])
        assert library.status().consistent
        assert library.skipped() == []  # files deleted mid-run were skipped once, then forgotten
    gap = max_cosine_gap(index_state(tmp_path / "index"), indexed(tmp_path / "clean", [photos])[0])
    assert gap < TOLERANCE
    FIGURES["photos deleted, renamed over and rewritten mid-run"] = {
        "files": len(names), **{k: len(v) for k, v in changed.items()},
        "first_run": first.describe(), "first_run_skips": sorted({r.split(":")[0] for _, r in first.skipped}),
        "second_run": second.describe(), "max_1_minus_cosine_vs_clean": gap}


def make_photo_bytes(seed: int) -> bytes:
    from io import BytesIO

    from odd_files import make_photo_image

    buffer = BytesIO()
    make_photo_image(seed).save(buffer, "JPEG")
    return buffer.getvalue()


@pytest.fixture(scope="module", autouse=True)
def _write_figures():
    yield
    record("faults", FIGURES)
