"""Fuzz the query path with random strings: parsing, combining and searching either give
finite, ranked results or raise QueryError (a PixseekError), quickly. Never NaN scores, never
another exception."""

from __future__ import annotations

import math
import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from conftest import make_photo
from pixseek.errors import PixseekError, QueryError
from pixseek.library import Library
from pixseek.engine.query import combine, parse_query
from reliability_kit import record

EXAMPLES = int(os.environ.get("PIXSEEK_FUZZ_EXAMPLES", 300))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FIGURES = {"parsed": 0, "refused": 0, "searched": 0, "search_refused": 0, "slowest_search_s": 0.0}

weights = st.one_of(st.just(""), st.from_regex(r"\A[-+]?(\d{1,400}(\.\d*)?|\.\d+)\s*:\Z"))
term = st.builds(lambda w, body: w + body, weights, st.text(max_size=60) | st.text(alphabet="~/.:*\\ \x00", max_size=20))


@FUZZ
@given(texts=st.lists(term, max_size=4), negatives=st.lists(term, max_size=2))
def test_parsed_queries_have_finite_weights_or_are_refused(texts, negatives):
    try:
        query = parse_query(texts, negatives=negatives)
    except QueryError:
        FIGURES["refused"] += 1
        return
    FIGURES["parsed"] += 1
    assert all(math.isfinite(t.weight) for t in query.terms)
    assert any(t.weight > 0 for t in query.terms)


@FUZZ
@given(weights=st.lists(st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=1, max_size=5),
       seed=st.integers(0, 2**32 - 1))
def test_combined_query_vectors_are_unit_or_refused(weights, seed):
    vectors = np.random.default_rng(seed).standard_normal((len(weights), 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    try:
        vector = combine(vectors, np.array(weights))
    except QueryError:
        return
    assert np.all(np.isfinite(vector)) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4


@pytest.fixture
def small_library(pixseek_home, tmp_path):
    for i in range(6):
        make_photo(tmp_path / "photos" / f"{i}.jpg", seed=i)
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([tmp_path / "photos"])
        yield library


@settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))
@given(texts=st.lists(term, min_size=1, max_size=3), k=st.integers(-2, 1002))
def test_random_searches_rank_finite_scores_or_refuse(small_library, texts, k):
    assume(any(t.strip() for t in texts))
    start = time.perf_counter()
    try:
        results = small_library.search(parse_query(texts), k=k)
    except PixseekError:
        FIGURES["search_refused"] += 1
        return
    finally:
        FIGURES["slowest_search_s"] = max(FIGURES["slowest_search_s"], time.perf_counter() - start)
    FIGURES["searched"] += 1
    scores = [r.score for r in results]
    assert len(results) == min(k, 6)
    assert all(math.isfinite(s) and -1.001 <= s <= 1.001 for s in scores)
    assert scores == sorted(scores, reverse=True)


@pytest.fixture(scope="module", autouse=True)
def _write_figures():
    yield
    record("fuzz-queries", {"examples_per_test": EXAMPLES, **{k: round(v, 3) for k, v in FIGURES.items()}})
