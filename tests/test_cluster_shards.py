"""Shards and ingest without a cluster (pyarrow only): the node-side functions on real files
with the real Encoder, the shard format's checks, and ingest's upsert by content hash."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest

pytest.importorskip("pyarrow")

from conftest import make_photo

from pixseek.cluster.ingest import accepted_pipelines, ingest_folder
from pixseek.cluster.nodes import KNOWN, KnownContent, decode_batch, encode_batch, pipeline_name, shard_rows
from pixseek.cluster.shards import PixelPipeline, list_shards, read_shard, write_shard
from pixseek.cluster.shipping import file_sha256
from pixseek.errors import FolderNotFound, ShardRefused
from pixseek.indexer import content_hash
from pixseek.library import Library
from pixseek.model import Encoder, find_bundle


def node_batch(paths, known=()) -> dict:
    """What an encoder actor returns for `paths`, made by the same functions on this machine."""
    bundle = find_bundle()
    encoder = Encoder(bundle, threads=1)
    pipeline = PixelPipeline(file_sha256(encoder.image_model_path), pipeline_name(encoder.preprocess))
    rows = {"path": np.array([os.fsencode(p) for p in paths], dtype=object),
            "size": np.array([os.stat(p).st_size for p in paths]), "mtime_ns": np.array([os.stat(p).st_mtime_ns for p in paths])}
    decoded = decode_batch(rows, KnownContent(KnownContent.pack(known)), encoder.image_size, encoder.preprocess)
    return encode_batch(decoded, encoder, pipeline)


@pytest.fixture
def photos(tmp_path):
    root = tmp_path / "photos"
    paths = [make_photo(root / f"p{i:02d}.jpg", seed=i) for i in range(12)]
    (root / "bad.jpg").write_bytes(b"garbage")
    return root, [str(p) for p in paths] + [str(root / "bad.jpg")]


def write_batch(folder, batch, name="shard-a-000001.parquet", pipeline=None):
    folder.mkdir(exist_ok=True)
    ((key, rows),) = shard_rows([batch]).items()
    return write_shard(folder / name, rows, pipeline or key)


def test_node_vectors_equal_the_local_indexers_for_the_same_batch(pixseek_home, photos, tmp_path):
    root, paths = photos
    batch = node_batch(paths)
    assert list(batch["has_vector"]) == [True] * 12 + [False]
    assert batch["skip_reason"][-1] == "not an image"
    encoder = Encoder(find_bundle(), threads=1)
    from pixseek.images import open_upright

    local = encoder.encode_images([open_upright(p, encoder.image_size) for p in paths[:12]])
    np.testing.assert_array_equal(batch["vector"][:12], local)  # same batch, same threads: the same bits


def test_known_content_is_not_decoded_on_nodes(pixseek_home, photos):
    root, paths = photos
    known = [content_hash(open(paths[3], "rb").read())]
    batch = node_batch(paths[:5], known=known)
    assert list(batch["has_vector"]) == [True, True, True, False, True]
    assert KnownContent(KnownContent.pack(known)).find(known[0]) == KNOWN
    assert KnownContent(KnownContent.pack(known)).find(bytes(16)) is None


def test_ingest_upserts_by_content_hash(pixseek_home, photos, tmp_path):
    root, paths = photos
    batch = node_batch(paths)
    shards = tmp_path / "shards"
    write_batch(shards, batch)
    write_batch(shards, batch, name="shard-a-000002.parquet")  # a retried shard: the same rows again
    with Library.open(tmp_path / "index", create=True) as library:
        report = library.ingest(shards)
        assert (report.shards, report.added, report.unchanged, len(report.skipped)) == (2, 12, 13, 1)
        assert library._index.catalog.count() == 12 and library._index.catalog.check() == []
        again = library.ingest(shards)
        assert (again.added, again.unchanged, len(again.skipped)) == (0, 26, 0)
        found = library.search(paths[4], k=1)[0]
        assert found.path == paths[4] and found.score > 0.999

    # A copy of a photo, embedded elsewhere as known content, takes the stored vector.
    copy = root / "copy of p03.jpg"
    copy.write_bytes(open(paths[3], "rb").read())
    known = node_batch([str(copy)], known=[content_hash(copy.read_bytes())])
    assert not known["has_vector"][0]
    write_batch(tmp_path / "more", known)
    with Library.open(tmp_path / "index") as library:
        report = library.ingest(tmp_path / "more")
        assert (report.added, report.reused) == (0, 1)
        stored = library._index.catalog.vectors_for([library._index.catalog.lookup(str(copy)).id,
                                              library._index.catalog.lookup(paths[3]).id])
    np.testing.assert_array_equal(stored[0], stored[1])


def test_shards_from_another_model_or_preprocessing_or_damaged_are_refused(pixseek_home, photos, tmp_path):
    root, paths = photos
    batch = node_batch(paths[:4])
    ((pipeline, _),) = shard_rows([batch]).items()
    other_model = write_batch(tmp_path / "a", batch, pipeline=replace(pipeline, model_file_hash="0" * 64))
    other_pixels = write_batch(tmp_path / "b", batch, pipeline=replace(pipeline, preprocessing="decode0-x"))
    accepted = accepted_pipelines(find_bundle())
    with pytest.raises(ShardRefused, match="another model"):
        read_shard(other_model, accepted, find_bundle().config.embedding_dim)
    with pytest.raises(ShardRefused, match="another preprocessing"):
        read_shard(other_pixels, accepted, find_bundle().config.embedding_dim)
    cli = [sys.executable, "-m", "pixseek.cli", "ingest", "--index", str(tmp_path / "index")]
    for folder, words in ((tmp_path / "a", "another model"), (tmp_path / "b", "another preprocessing")):
        run = subprocess.run(cli + [str(folder)], capture_output=True, text=True)
        assert run.returncode == 1
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1, run.stderr
        line = lines[0]
        assert line.startswith("pixseek: error: shard ") and words in line
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x.parquet").write_bytes(b"PAR1 not really")
    run = subprocess.run(cli + [str(tmp_path / "c")], capture_output=True, text=True)
    assert run.returncode == 1 and "is damaged or not a shard" in run.stderr
    assert not (tmp_path / "index" / "catalog.sqlite3").exists()  # nothing from a refused shard, not even an index


def test_shard_files_are_whole_or_absent(pixseek_home, photos, tmp_path):
    root, paths = photos
    shard = write_batch(tmp_path / "s", node_batch(paths[:3]))
    assert list_shards(tmp_path / "s") == [shard]
    assert not list(shard.parent.glob(".shard-*"))  # the temporary file was renamed
    with Library.open(tmp_path / "index", create=True) as library:
        with pytest.raises(FolderNotFound, match="no shards"):
            ingest_folder(library._index.catalog, find_bundle(), root)
