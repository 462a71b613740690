"""Indexing on a real Ray cluster: Ray's own multi-node harness (`ray.cluster_utils.Cluster`: a
head with no CPUs and two 1-CPU worker nodes, small object stores, temp dirs under the test's
folder), ~200 generated photos and the tiny test model. The faults a cluster survives (an encoder
actor's process SIGKILLed, the driver SIGKILLed) share one cluster; a node removed without grace
and other shapes get their own. Afterwards each cluster is checked, by PID, to leave no Ray
process behind."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("pyarrow")

from conftest import TEST_MODEL, make_photo, short_temp_dir  # noqa: E402
from ray_kit import is_loopback, ray_processes, wait_until_gone  # noqa: E402

from pixseek.library import Library  # noqa: E402

# `make test` gives each test file to one xdist worker (--dist loadfile), and only this file starts
# Ray: each check by PID that no Ray process is left behind sees no other worker's cluster.
pytestmark = pytest.mark.cluster

PHOTOS = 200
RAY_EXIT_S = 90  # a loaded machine (two test workers on two cores) has seen Ray's servers take over 30 s to exit
BAD = ("broken/truncated.jpg", "broken/not-a-photo.png")


# -- fixtures ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_bundle_dir):
    home = tmp_path_factory.mktemp("home")
    shutil.copytree(tiny_bundle_dir, home / "models" / TEST_MODEL)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        patch.setenv("PIXSEEK_MODEL", TEST_MODEL)
        patch.delenv("PIXSEEK_INDEX", raising=False)
        patch.delenv("RAY_ADDRESS", raising=False)
        yield home


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> Path:
    """200 photos of mixed sizes in three folders, and two files no node can use."""
    root = tmp_path_factory.mktemp("photos")
    for i in range(PHOTOS):
        size = (320, 240) if i % 3 else (640, 480)
        make_photo(root / f"set{i % 3}" / f"photo {i:03d}.jpg", seed=i, size=size)
    whole = (root / "set0" / "photo 000.jpg").read_bytes()
    (root / BAD[0]).parent.mkdir()
    (root / BAD[0]).write_bytes(whole[:len(whole) // 3])
    (root / BAD[1]).write_bytes(b"this is not a PNG")
    return root


@pytest.fixture(scope="module")
def reference(home, photos, tmp_path_factory) -> dict[str, np.ndarray]:
    """Relative path -> vector, from an ordinary single-machine run."""
    with Library.open(tmp_path_factory.mktemp("reference"), create=True) as library:
        report = library.index([photos])
        assert report.indexed == PHOTOS and len(report.skipped) == len(BAD)
        return vectors_by_path(library, photos)


def vectors_by_path(library: Library, root: Path) -> dict[str, np.ndarray]:
    rows = library._index.catalog._db.execute("SELECT f.path, v.vector FROM files f JOIN vectors v ON v.id = f.id").fetchall()
    paths = [os.path.relpath(os.fsdecode(p), root) for p, _ in rows]
    assert len(paths) == len(set(paths))
    return {p: np.frombuffer(v, dtype=np.float32) for p, (_, v) in zip(paths, rows)}


@contextmanager
def short_ray_temp(folder: Path):
    """Ray's temp dir in `folder`, named through a short link (Ray's Unix sockets live in it: see
    short_temp_dir)."""
    link = short_temp_dir("pxr-") / "t"
    link.symlink_to(folder)
    try:
        yield str(link)
    finally:
        shutil.rmtree(link.parent)


@pytest.fixture
def ray_temp(tmp_path):
    (tmp_path / "ray").mkdir()
    with short_ray_temp(tmp_path / "ray") as link:
        yield link


@contextmanager
def no_ray_left():
    """Afterwards, no Ray process that appeared meanwhile may be alive (checked by PID)."""
    before = set(ray_processes())
    try:
        yield
    finally:
        if ray.is_initialized():
            ray.shutdown()
        left = wait_until_gone(set(ray_processes()) - before, timeout=RAY_EXIT_S)
        assert not left, f"Ray processes left behind: {left}"


@contextmanager
def two_node_cluster(ray_temp: str):
    """A head (no CPUs) and two 1-CPU nodes with 80 MB object stores; afterwards no Ray process of
    it may be left."""
    from ray.cluster_utils import Cluster

    with no_ray_left():
        node = {"object_store_memory": 80 * 2**20, "temp_dir": ray_temp}
        harness = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, **node})
        try:
            for _ in range(2):
                harness.add_node(num_cpus=1, **node)
            harness.wait_for_nodes()
            yield harness
        finally:
            harness.shutdown()


@pytest.fixture(scope="class")
def cluster(tmp_path_factory, home):
    """One cluster for the tests of a class whose faults leave its nodes standing (an actor or a
    driver killed): starting and stopping one costs half a minute on two cores."""
    with short_ray_temp(tmp_path_factory.mktemp("ray")) as ray_temp, two_node_cluster(ray_temp) as harness:
        yield harness


def check_index(index: Path, photos: Path, reference: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Every photo exactly once, the same paths as the single-machine run, each vector within
    cos 0.9999 of it, the unusable files skipped with their reasons, and a consistent catalog."""
    with Library.open(index) as library:
        found = vectors_by_path(library, photos)
        skipped = {os.path.relpath(p, photos): reason for p, reason in library.skipped()}
        status = library.status()
    assert sorted(found) == sorted(reference)
    cosines = np.array([float(found[p] @ reference[p]) for p in reference])
    assert cosines.min() >= 0.9999, cosines.min()
    assert sorted(skipped) == sorted(BAD) and skipped[BAD[1]] == "not an image"
    assert status.consistent and status.images == PHOTOS, status.problems
    return found


# -- clusters of their own -------------------------------------------------------------------------

def test_gpu_nodes_get_decode_tasks_and_encoder_actors(tmp_path, ray_temp, home, photos, reference):
    """A cluster whose node declares a GPU runs the GPU-shaped job (CPU decode tasks feeding one
    encoder actor per GPU); without CUDA the actor's Encoder runs on the CPU, so vectors match."""
    from ray.cluster_utils import Cluster

    with no_ray_left():
        # decoded pixels travel between the two pools (600 KB a photo): room for them, not to spill
        harness = Cluster(initialize_head=True, head_node_args={"num_cpus": 2, "num_gpus": 1, "temp_dir": ray_temp,
                                                                "object_store_memory": 200 * 2**20})
        try:
            with Library.open(tmp_path / "index", create=True) as library:
                report = library.index_on_cluster([photos], harness.address)
        finally:
            harness.shutdown()
    assert report.indexed == PHOTOS
    check_index(tmp_path / "index", photos, reference)


def test_a_node_removed_without_grace_mid_job_loses_nothing(ray_temp, home, photos, reference, tmp_path):
    with two_node_cluster(ray_temp) as cluster:
        _remove_a_node_mid_job(cluster, photos, reference, tmp_path)


def _remove_a_node_mid_job(cluster, photos: Path, reference: dict[str, np.ndarray], tmp_path: Path) -> None:
    removed = []

    def remove_a_node(progress):
        if progress.done >= 50 and not removed:
            victim = next(iter(cluster.worker_nodes))
            cluster.remove_node(victim, allow_graceful=False)  # SIGKILLs its raylet and workers
            removed.append(progress.done)

    with Library.open(tmp_path / "index", create=True) as library:
        report = library.index_on_cluster([photos], cluster.address, progress=remove_a_node)
    assert removed and removed[0] < PHOTOS, "the node must go while work is left"
    assert report.indexed == PHOTOS
    check_index(tmp_path / "index", photos, reference)


def _pixseek(*args: str) -> list[str]:
    return [sys.executable, "-m", "pixseek.cli", *args]


def _count(index: Path) -> int:
    """Photos committed to the index so far (0 while its catalog is being made)."""
    try:
        with sqlite3.connect(f"file:{index / 'catalog.sqlite3'}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


# -- faults a cluster survives -------------------------------------------------------------------

class TestOneCluster:
    """Faults that leave the nodes standing, on one cluster (see the `cluster` fixture)."""

    def test_cluster_run_equals_a_single_machine_run(self, cluster, photos, reference, tmp_path):
        seen = []
        with Library.open(tmp_path / "index", create=True) as library:
            report = library.index_on_cluster([photos], cluster.address, progress=seen.append)
            assert report.indexed == PHOTOS and report.reused == 0
            assert sorted(os.path.relpath(p, photos) for p, _ in report.skipped) == sorted(BAD)
            query = library.search(f"{photos}/set1/photo 001.jpg", k=1)[0]  # a photo finds itself first
        found = check_index(tmp_path / "index", photos, reference)
        assert query.path.endswith("photo 001.jpg") and query.score > 0.999
        last = seen[-1]
        assert (last.done, last.total, last.nodes) == (PHOTOS + len(BAD), PHOTOS + len(BAD), 3)
        assert [p.done for p in seen] == sorted(p.done for p in seen) and last.rate > 0
        same = sum(np.array_equal(found[p], reference[p]) for p in reference)
        print(f"{same} of {PHOTOS} vectors bit-identical to the single-machine run")

        with Library.open(tmp_path / "index") as library:  # nothing new: nothing goes to the cluster
            again = library.index_on_cluster([photos], cluster.address)
        assert again.indexed == 0 and again.unchanged == PHOTOS

    def test_an_encoder_actor_that_exits_once_loses_nothing(self, cluster, photos, reference, tmp_path):
        killed = []
        earlier = set(ray_processes())  # an earlier job's actors on this cluster may still be exiting

        def kill_an_actor(progress):
            if progress.done >= 50 and not killed:
                actors = [pid for pid, line in ray_processes().items() if "_EmbedPhotos" in line and pid not in earlier]
                assert actors, "no encoder actor process of this job found"
                os.kill(actors[0], signal.SIGKILL)
                killed.append(actors[0])

        with Library.open(tmp_path / "index", create=True) as library:
            report = library.index_on_cluster([photos], cluster.address, progress=kill_an_actor)
        assert killed
        assert report.indexed == PHOTOS
        check_index(tmp_path / "index", photos, reference)

    def test_the_driver_killed_and_run_again_finishes_the_job(self, cluster, photos, reference, tmp_path):
        index = tmp_path / "index"
        command = _pixseek("index", str(photos), "--cluster", cluster.address, "--index", str(index), "-q")
        env = dict(os.environ, PIXSEEK_SHARD_ROWS="16")
        driver = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and driver.poll() is None:
            if (index / "catalog.sqlite3").exists() and _count(index) >= 16:
                break
            time.sleep(0.02)
        assert driver.poll() is None, "the driver finished before it could be killed"
        driver.kill()  # SIGKILL
        driver.wait()
        committed = _count(index)
        assert 16 <= committed < PHOTOS

        rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert rerun.returncode == 0, rerun.stderr
        assert rerun.stderr.strip() == "", rerun.stderr  # no Ray log line on a run that succeeds
        summary = rerun.stdout.splitlines()[0]
        embedded = int(summary.split(" indexed")[0])
        assert embedded <= PHOTOS - committed + 16, summary  # only what was missing (and at most the lost shard)
        check_index(index, photos, reference)

    def test_kept_shards_a_truncated_one_and_ingesting_twice(self, cluster, photos, reference, tmp_path):
        shards = tmp_path / "shards"
        env = dict(os.environ, PIXSEEK_SHARD_ROWS="40")
        made = subprocess.run(_pixseek("index", str(photos), "--cluster", cluster.address, "--index",
                                       str(tmp_path / "made"), "--shards", str(shards), "-q"),
                              env=env, capture_output=True, text=True, timeout=300)
        assert made.returncode == 0, made.stderr
        files = sorted(shards.glob("*.parquet"))
        assert len(files) >= 3

        fresh = tmp_path / "fresh"
        for attempt in range(2):  # the same output ingested twice: every photo once, nothing changes
            ingest = subprocess.run(_pixseek("ingest", str(shards), "--index", str(fresh)), capture_output=True, text=True)
            assert ingest.returncode == 0, ingest.stderr
            if attempt == 0:
                with Library.open(fresh) as library:
                    first, generation = vectors_by_path(library, photos), library._index.catalog.generation
        assert "0 added" in ingest.stdout and f"{PHOTOS + len(BAD)} unchanged" in ingest.stdout, ingest.stdout
        with Library.open(fresh) as library:
            assert library._index.catalog.generation == generation
            second = vectors_by_path(library, photos)
        assert first.keys() == second.keys() and all(np.array_equal(first[p], second[p]) for p in first)
        check_index(fresh, photos, reference)

        damaged = tmp_path / "damaged"
        shutil.copytree(shards, damaged)
        victim = sorted(damaged.glob("*.parquet"))[1]
        victim.write_bytes(victim.read_bytes()[:victim.stat().st_size // 2])
        partial = tmp_path / "partial"
        ingest = subprocess.run(_pixseek("ingest", str(damaged), "--index", str(partial)), capture_output=True, text=True)
        assert ingest.returncode == 1
        errors = [line for line in ingest.stderr.splitlines() if line.strip()]
        assert len(errors) == 1 and errors[0].startswith(f"pixseek: error: shard {victim.name} is damaged"), ingest.stderr
        have = _count(partial)
        assert have < PHOTOS and "1 shards refused" in ingest.stdout

        with Library.open(partial) as library:  # the missing photos are planned again, and only they
            report = library.index_on_cluster([photos], cluster.address)
        assert report.indexed == PHOTOS - have
        check_index(partial, photos, reference)


# -- a private local cluster ------------------------------------------------------------------------

LOCAL_RUN = """
import json, os, sys
sys.path.insert(0, sys.argv[3])
from ray_kit import descendants, listening_addresses
from pixseek.library import Library
seen = {}
def look(progress):
    if not seen:
        pids = descendants(os.getpid())
        seen["pids"] = sorted(pids)
        seen["listening"] = {str(k): v for k, v in listening_addresses(pids).items()}
with Library.open(sys.argv[2], create=True) as library:
    report = library.index_on_cluster([sys.argv[1]], "local", progress=look)
seen["indexed"] = report.indexed
print(json.dumps(seen))
"""


def test_a_local_cluster_listens_on_loopback_only_and_leaves_nothing(home, photos, tmp_path):
    """Ray's core prints error-level lines on runs that succeed (see ray-project/ray#53727): none
    reaches the terminal, whose stderr stays empty."""
    run = subprocess.run([sys.executable, "-c", LOCAL_RUN, str(photos), str(tmp_path / "index"),
                          str(Path(__file__).parent)], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, HOME=str(tmp_path)))  # Ray keeps its token under ~/.ray
    assert run.returncode == 0, run.stderr
    assert run.stderr == "", run.stderr
    import json

    seen = json.loads(run.stdout.splitlines()[-1])
    assert seen["indexed"] == PHOTOS
    listening = [address for addresses in seen["listening"].values() for address in addresses]
    assert len(listening) >= 3, seen  # GCS, raylet, workers ...
    assert all(is_loopback(a) for a in listening), listening
    assert not wait_until_gone(seen["pids"]), "Ray processes of the local cluster left behind"


def test_an_unreachable_cluster_and_misplaced_options_are_one_line_errors(home, photos, tmp_path):
    for args, words in ((["--cluster", "127.0.0.1:9"], "cannot reach the Ray cluster at 127.0.0.1:9"),
                        (["--shards", str(tmp_path / "s")], "--shards and --dashboard go with --cluster")):
        run = subprocess.run(_pixseek("index", str(photos), "--index", str(tmp_path / "index"), "-q", *args),
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 1
        assert [line for line in run.stderr.splitlines() if line.strip()] == [f"pixseek: error: {words}" + (
            " (Connection refused); is its head running, and is this machine on its network?" if "reach" in words else "")]


def test_a_failure_inside_ray_is_one_line_naming_rays_log(home, photos, tmp_path):
    """A run that fails inside Ray is one line of pixseek's naming the log file that holds Ray's
    detail (runs that succeed print no Ray line: the driver-killed and local-cluster tests)."""
    env = dict(os.environ, HOME=str(tmp_path))  # Ray keeps its token under ~/.ray
    assert not wait_until_gone(ray_processes(), timeout=RAY_EXIT_S)  # "auto" would join any Ray still running
    failed = subprocess.run(_pixseek("index", str(photos), "--cluster", "auto", "--index", str(tmp_path / "other")),
                            capture_output=True, text=True, timeout=120, env=env)  # no Ray runs here: none found
    lines = [line for line in failed.stderr.splitlines() if line.strip()]
    assert failed.returncode == 1 and len(lines) == 1, failed.stderr
    assert lines[0].startswith("pixseek: error: cannot connect to the Ray cluster at auto"), lines
    log = Path(lines[0].rsplit("(Ray's detail: ", 1)[1].rstrip(")"))
    assert log.parent == home / "logs" and "Traceback" in log.read_text()
