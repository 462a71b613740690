"""Vector index kinds: the automatic choice, IVF adds/removes/recall/persistence, and the live
index over a real catalog (re-ranked scores, tombstones, rebuilds when outgrown)."""

from __future__ import annotations

import numpy as np
import pytest

from pixseek.store import half_vectors, live_index, vector_index
from pixseek.store.catalog import Catalog, NewFile
from pixseek.store.live_index import LiveVectorIndex
from pixseek.store.vector_index import Spec, VectorIndex, rerank

DIM = 32


def clustered(count: int, seed: int = 0, clusters: int = 50) -> np.ndarray:
    """Unit vectors around a few centroids, as photo embeddings are (uniform noise is too easy)."""
    centres = np.random.default_rng(0).normal(size=(clusters, DIM))  # the same for every seed
    rng = np.random.default_rng(seed + 1)
    points = centres[rng.integers(0, clusters, count)] * 0.6 + rng.normal(size=(count, DIM)) * 0.4
    return (points / np.linalg.norm(points, axis=1, keepdims=True)).astype(np.float32)


def batches_of(ids: np.ndarray, vectors: np.ndarray, size: int = 1000):
    return lambda: ((ids[i:i + size], vectors[i:i + size]) for i in range(0, len(ids), size))


def build(kind: str, vectors: np.ndarray, ids: np.ndarray | None = None) -> VectorIndex:
    ids = np.arange(100, 100 + len(vectors), dtype=np.int64) if ids is None else ids
    spec = Spec.choose(len(vectors), kind)
    return VectorIndex.build(DIM, spec, batches_of(ids, vectors), len(vectors))


def exact_lookup(ids: np.ndarray, vectors: np.ndarray, removed=()):
    by_id = {int(i): v for i, v in zip(ids, vectors) if int(i) not in set(removed)}
    return lambda wanted: ([i for i in wanted if i in by_id],
                           np.array([by_id[i] for i in wanted if i in by_id], dtype=np.float32).reshape(-1, DIM))


def top_ids(index: VectorIndex, query: np.ndarray, k: int, lookup) -> list[int]:
    _, ids = index.search(query, index.candidates(k))
    if index.approximate:
        _, ids = rerank(query, ids, lookup)
    return [int(i) for i in ids[:k]]


# -- the choice ---------------------------------------------------------------------------------

def test_auto_choice_is_exact_for_small_collections_and_ivf_beyond():
    assert Spec.choose(0).kind == "flat"
    assert Spec.choose(vector_index.FLAT_LIMIT).kind == "flat"
    large = Spec.choose(vector_index.FLAT_LIMIT + 1)
    assert large.kind == "ivf" and 1 <= large.nprobe <= large.nlist
    assert Spec.choose(1_000_000).nlist > Spec.choose(100_000).nlist > large.nlist


def test_auto_choice_takes_4_bit_codes_for_tens_of_millions():
    assert Spec.choose(vector_index.IVF4_FROM).kind == "ivf"
    huge = Spec.choose(vector_index.IVF4_FROM + 1)
    assert huge.kind == "ivf4" and 16 <= huge.nprobe < huge.nlist
    assert Spec.choose(10_000_000).describe().startswith("ivf4 (approximate: 2048 lists, 42 probed, 4-bit PQ codes")
    assert huge.rerank_count(10) > Spec.choose(1_000_000).rerank_count(10)  # coarser codes, more candidates
    assert not huge.outgrown(vector_index.IVF4_FROM - 1)  # hysteresis: keep it just under the limit
    assert huge.outgrown(vector_index.IVF4_FROM // 2 - 1)
    assert Spec.choose(5000, "ivf4").kind == "ivf4" and Spec.choose(500, "ivf4").kind == "flat"


def test_forced_kinds_and_the_ivf_floor():
    assert Spec.choose(10 * vector_index.FLAT_LIMIT, "flat").kind == "flat"
    assert Spec.choose(5000, "ivf").kind == "ivf"
    assert Spec.choose(vector_index.IVF_MIN - 1, "ivf").kind == "flat"  # too few to train
    with pytest.raises(ValueError):
        Spec.choose(10, "hnsw")


def test_outgrown_has_hysteresis_around_the_limit():
    limit = vector_index.FLAT_LIMIT
    ivf = Spec.choose(limit + 1)
    assert Spec("flat").outgrown(limit + 1)
    assert not Spec("flat").outgrown(limit)
    assert not ivf.outgrown(limit - 1)  # just under the limit: keep the IVF
    assert ivf.outgrown(limit // 2 - 1)
    assert ivf.outgrown(limit + 1, "flat")  # the user forced exact search
    assert ivf.outgrown(16 * (limit + 1))  # lists far too long now
    assert not ivf.outgrown(limit + 1)


def test_ivf_lists_scale_with_the_collection():
    # lists of about sqrt(n) entries, and at least 39 training points each
    for count in (1_000, 5_000, 100_000, 1_000_000):
        spec = Spec.choose(count, "ivf")
        assert count / spec.nlist >= 39
        assert spec.nlist <= max(np.sqrt(count), 1)


# -- IVF ------------------------------------------------------------------------------------------

def test_ivf_recall_at_10_on_clustered_data():
    vectors = clustered(8000)
    ids = np.arange(100, 8100, dtype=np.int64)
    index = build("ivf", vectors, ids)
    assert index.approximate and index.ntotal == 8000
    lookup = exact_lookup(ids, vectors)
    queries = clustered(100, seed=1)
    hits = 0
    for query in queries:
        truth = ids[np.argsort(-(vectors @ query))[:10]]
        hits += len(set(truth) & set(top_ids(index, query, 10, lookup)))
    assert hits / (10 * len(queries)) >= 0.95


def test_ivf4_recall_at_10_and_persistence(tmp_path):
    vectors = clustered(12000)
    ids = np.arange(100, 12100, dtype=np.int64)
    index = build("ivf4", vectors, ids)
    assert index.kind == "ivf4" and index.approximate and index.ntotal == 12000
    lookup = exact_lookup(ids, vectors)
    queries = clustered(100, seed=1)
    hits = sum(len(set(ids[np.argsort(-(vectors @ q))[:10]]) & set(top_ids(index, q, 10, lookup))) for q in queries)
    assert hits / (10 * len(queries)) >= 0.95
    loaded = VectorIndex.load(index.save(tmp_path, generation=3), DIM)
    assert loaded.spec == index.spec
    index.remove(np.array([100, 101], dtype=np.int64))
    index.add(np.array([5], dtype=np.int64), vectors[:1])
    found = set(index.search(vectors[0], index.candidates(1))[1].tolist())
    assert index.ntotal == 11999 and 5 in found and 100 not in found


def test_an_ivf4_saved_with_4_bit_scalar_codes_still_loads_as_ivf4(tmp_path):
    """The first ivf4 used 4-bit scalar codes; indexes saved with them keep working."""
    import faiss

    vectors = clustered(3000)
    old = faiss.index_factory(DIM, "IVF32_HNSW32,SQ4", faiss.METRIC_INNER_PRODUCT)
    old.train(vectors)
    old.add_with_ids(vectors, np.arange(1, 3001, dtype=np.int64))
    faiss.write_index(old, str(tmp_path / "vectors-000000000001.faiss"))
    loaded = VectorIndex.load(tmp_path / "vectors-000000000001.faiss", DIM)
    assert loaded.kind == "ivf4" and 43 in loaded.search(vectors[42], loaded.candidates(1))[1].tolist()


def test_ivf_reranked_scores_are_exact_cosines():
    vectors = clustered(3000)
    ids = np.arange(3000, dtype=np.int64)
    index = build("ivf", vectors, ids)
    query = clustered(1, seed=7)[0]
    scores, found = rerank(query, index.search(query, 100)[1], exact_lookup(ids, vectors))
    np.testing.assert_allclose(scores, vectors[found] @ query, rtol=0, atol=1e-6)
    assert list(scores) == sorted(scores, reverse=True)


def test_a_wide_rerank_reads_vectors_a_chunk_at_a_time(monkeypatch):
    """Millions of candidates (a search widening past missing files) must not all be in memory."""
    vectors = clustered(3000)
    ids = np.arange(3000, dtype=np.int64)
    lookup, asked = exact_lookup(ids, vectors, removed=[5, 2999]), []
    monkeypatch.setattr(vector_index, "RERANK_CHUNK", 256)
    scores, found = rerank(vectors[0], ids, lambda wanted: asked.append(len(wanted)) or lookup(wanted))
    assert max(asked) == 256 and sum(asked) == 3000
    expected = np.delete(np.arange(3000), [5, 2999])
    assert sorted(found.tolist()) == expected.tolist()
    np.testing.assert_allclose(scores, np.sort(vectors[expected] @ vectors[0])[::-1], rtol=0, atol=1e-6)


def test_ivf_adds_and_removes():
    vectors = clustered(4000)
    index = build("ivf", vectors[:3000], np.arange(3000, dtype=np.int64))
    index.add(np.arange(3000, 4000, dtype=np.int64), vectors[3000:])
    assert index.ntotal == 4000
    query = vectors[3500]
    assert int(index.search(query, 1)[1][0]) == 3500  # an added vector finds itself
    index.remove(np.array([3500, 10], dtype=np.int64))
    assert index.ntotal == 3998
    _, ids = index.search(query, index.ntotal)
    assert 3500 not in set(ids.tolist()) and 10 not in set(ids.tolist())


def test_asking_for_everything_returns_everything():
    vectors = clustered(2000)
    index = build("ivf", vectors, np.arange(2000, dtype=np.int64))
    _, ids = index.search(vectors[0], 2000)
    assert sorted(ids.tolist()) == list(range(2000))


def test_ivf_persistence_round_trip(tmp_path):
    vectors = clustered(3000)
    ids = np.arange(50, 3050, dtype=np.int64)
    index = build("ivf", vectors, ids)
    path = index.save(tmp_path, generation=7)
    loaded = VectorIndex.load(path, DIM)
    assert loaded.spec == index.spec and loaded.ntotal == 3000
    query = clustered(1, seed=3)[0]
    for a, b in zip(index.search(query, 20), loaded.search(query, 20)):
        np.testing.assert_array_equal(a, b)


# -- the live index over a real catalog ---------------------------------------------------------

@pytest.fixture
def catalog(tmp_path):
    catalog = Catalog.open(tmp_path, create=True, model_id="test/model", dim=DIM)
    yield catalog
    catalog.close()


def fill(catalog: Catalog, vectors: np.ndarray, prefix: str = "/photos") -> list[int]:
    files = [NewFile(f"{prefix}/{i}.jpg", 1, 1, i.to_bytes(8, "little") + prefix.encode(), 1, 1, {"clip": v})
             for i, v in enumerate(vectors)]
    return catalog.commit_batch(added=files)


def test_live_index_switches_to_ivf_and_records_it(catalog, tmp_path, monkeypatch):
    monkeypatch.setattr(vector_index, "FLAT_LIMIT", 1500)
    fill(catalog, clustered(1000))
    live = LiveVectorIndex(tmp_path, catalog)
    live.save()
    assert live.index.kind == "flat"
    fill(catalog, clustered(1000, seed=2), prefix="/more")
    live.save()
    assert live.index.kind == "ivf" and live.index.ntotal == 2000
    assert catalog.meta(live_index.DESCRIPTION_KEY) == live.index.describe()
    reopened = LiveVectorIndex(tmp_path, catalog)
    assert reopened.index.spec == live.index.spec and not reopened.notes


def test_forced_kind_is_applied_on_save(catalog, tmp_path):
    fill(catalog, clustered(1500))
    catalog.set_setting(live_index.SETTING_KEY, "ivf")
    live = LiveVectorIndex(tmp_path, catalog)
    live.save()
    assert live.index.kind == "ivf"
    catalog.set_setting(live_index.SETTING_KEY, "flat")
    live.save()
    assert live.index.kind == "flat"


def test_live_ivf_scores_are_stored_cosines_and_removed_rows_never_return(catalog, tmp_path):
    vectors = clustered(3000)
    ids = fill(catalog, vectors)
    catalog.set_setting(live_index.SETTING_KEY, "ivf")
    live = LiveVectorIndex(tmp_path, catalog)
    live.save()
    query = vectors[42]
    scores, found = live.search(query, 10)
    assert int(found[0]) == ids[42] and scores[0] == pytest.approx(1.0, abs=1e-5)
    stored = catalog.vectors_for(found)
    np.testing.assert_allclose(scores, stored @ query, rtol=0, atol=1e-6)
    catalog.commit_batch(removed_ids=[ids[42]])
    _, found = live.search(query, 10)
    assert ids[42] not in set(int(i) for i in found)
    assert live.index.ntotal == 2999


def test_library_status_names_the_index_and_the_setting_is_validated(pixseek_home, photo_dir, tmp_path):
    from pixseek.errors import PixseekError
    from pixseek.library import Library

    with Library.open(tmp_path / "index", create=True) as library:
        library.index([photo_dir])
        library.set_vector_index("ivf")  # 12 photos: too few to train, so it stays exact
        assert library.status().vector_index == "flat (exact)"
        assert library._index.catalog.meta(live_index.SETTING_KEY) == "ivf"
        with pytest.raises(PixseekError):
            library.set_vector_index("hnsw")


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_search_among_allowed_ids_returns_only_those(kind):
    """The filter inside the search: ids outside `allowed` never come back, however close."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, 3001, dtype=np.int64)
    spec = Spec.choose(3000, kind)
    index = VectorIndex.build(16, spec, lambda: iter([(ids, vectors)]), 3000)
    for allowed in (np.array([5, 7]), np.array([8, 2999, 3000]), ids[::7]):
        for query in vectors[:50]:
            scores, found = index.search(query, 10, allowed)
            found = [int(i) for i in found if i >= 0]
            assert found and set(found) <= set(allowed.tolist())
        exact = vectors[allowed - 1] @ vectors[0]
        assert int(index.search(vectors[0], 1, allowed)[1][0]) == int(allowed[np.argmax(exact)])


# -- the float16 copy that ivf4 re-ranks from ---------------------------------------------------

def ivf4_live(catalog: Catalog, folder, vectors: np.ndarray) -> tuple[LiveVectorIndex, list[int]]:
    ids = fill(catalog, vectors)
    catalog.set_setting(live_index.SETTING_KEY, "ivf4")
    live = LiveVectorIndex(folder, catalog)
    live.save()
    return live, ids


def half_scores(catalog: Catalog, ids, query: np.ndarray) -> np.ndarray:
    return catalog.vectors_for(ids).astype(np.float16).astype(np.float32) @ query


def test_ivf4_reranks_from_a_float16_copy_and_reads_newer_rows_from_the_catalog(catalog, tmp_path):
    vectors = clustered(3000)
    live, ids = ivf4_live(catalog, tmp_path, vectors)
    copy = tmp_path / half_vectors.FILE_NAME
    assert live.half is not None and live.index.describe().endswith("re-ranked with float16 vectors)")
    assert copy.stat().st_size == half_vectors.HEADER_BYTES + (max(ids) + 1) * DIM * 2
    query = vectors[42]
    scores, found = live.search(query, 10)
    assert int(found[0]) == ids[42]
    np.testing.assert_allclose(scores, half_scores(catalog, found, query), rtol=0, atol=1e-6)
    np.testing.assert_allclose(scores, catalog.vectors_for(found) @ query, rtol=0, atol=2e-3)

    # Another run commits new photos; the copy has no rows for them until the writer saves.
    new = clustered(5, seed=9)
    new_ids = fill(catalog, new, prefix="/new")
    scores, found = live.search(new[0], 10)
    assert int(found[0]) == new_ids[0] and scores[0] == pytest.approx(float(new[0] @ new[0]), abs=1e-6)
    live.save()
    assert live.half.generation == catalog.generation and not live._stale
    scores, found = live.search(new[0], 10)
    assert int(found[0]) == new_ids[0]
    np.testing.assert_allclose(scores, half_scores(catalog, found, new[0]), rtol=0, atol=1e-6)


def test_an_opened_copy_is_read_into_the_page_cache_in_the_background(catalog, tmp_path):
    ivf4_live(catalog, tmp_path, clustered(3000))
    reader = LiveVectorIndex(tmp_path, catalog)
    assert reader.half.resident.wait(30)
    reader.close()
    assert reader.half is None


def test_rows_written_by_a_writer_killed_before_its_header_are_not_trusted(catalog, tmp_path):
    live, _ = ivf4_live(catalog, tmp_path, clustered(3000))
    new = clustered(3, seed=5)
    new_ids = fill(catalog, new, prefix="/new")
    with open(tmp_path / half_vectors.FILE_NAME, "r+b") as handle:  # rows of garbage, header untouched
        half_vectors._write_rows(handle, DIM, np.array(new_ids), -new)
    reader = LiveVectorIndex(tmp_path, catalog)
    assert reader.half is not None and set(new_ids) <= reader._stale and not reader.notes
    scores, found = reader.search(new[1], 10)
    assert int(found[0]) == new_ids[1] and scores[0] == pytest.approx(float(new[1] @ new[1]), abs=1e-6)


def test_a_foreign_damaged_or_newer_copy_is_ignored_and_rewritten(catalog, tmp_path):
    vectors = clustered(3000)
    live, ids = ivf4_live(catalog, tmp_path, vectors)
    copy = tmp_path / half_vectors.FILE_NAME
    good = copy.read_bytes()
    other = Catalog.open(tmp_path / "other", create=True, model_id="test/model", dim=DIM)
    ivf4_live(other, tmp_path / "other", clustered(3000, seed=4))
    other.close()
    newer = bytearray(good)
    newer[:half_vectors.HEADER.size] = half_vectors._header(DIM, catalog.generation + 1)
    damages = [(tmp_path / "other" / half_vectors.FILE_NAME).read_bytes(), good[:len(good) // 2],
               b"\x00" * 64 + good[64:], bytes(newer)]
    for round_, damage in enumerate(damages):
        copy.write_bytes(damage)
        reader = LiveVectorIndex(tmp_path, catalog)
        assert reader.half is None and "float16 copy" in reader.notes[-1]
        scores, found = reader.search(vectors[7], 10)
        assert int(found[0]) == ids[7]
        np.testing.assert_allclose(scores, catalog.vectors_for(found) @ vectors[7], rtol=0, atol=1e-6)
        fill(catalog, clustered(1, seed=round_), prefix=f"/more{round_}")
        reader.save()
        assert reader.half is not None and copy.read_bytes() != damage and not reader.notes
        scores, found = reader.search(vectors[7], 10)
        np.testing.assert_allclose(scores, half_scores(catalog, found, vectors[7]), rtol=0, atol=1e-6)
        reader.close()


def test_an_index_that_leaves_ivf4_drops_its_copy(catalog, tmp_path):
    live, _ = ivf4_live(catalog, tmp_path, clustered(3000))
    assert (tmp_path / half_vectors.FILE_NAME).is_file()
    catalog.set_setting(live_index.SETTING_KEY, "ivf")
    live.save()
    assert live.index.kind == "ivf" and live.half is None
    assert not (tmp_path / half_vectors.FILE_NAME).exists()
