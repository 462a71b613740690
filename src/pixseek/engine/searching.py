"""Running a query: its terms made vectors (words encoded once and remembered; an indexed photo
reuses its stored vector), the vector index searched within the filters, and the results
described with what is known of each photo.

A filter the vector index cannot apply itself (a folder, a minimum score) is applied to the
candidates it returns, fetching four times more until `k` pass or none are left. Words the photo
says (engine/text_search.py) select the photos searched, tier by tier; without terms they are
ranked by match quality, and the minimum score applies to it.
"""

from __future__ import annotations

import os
from dataclasses import replace

import numpy as np

from pixseek.engine import folders, people_search, video_search
from pixseek.engine.index import OpenIndex
from pixseek.engine.query import DEFAULT_K, Query, Term, check_options, combine, parse_query
from pixseek.engine.results import SearchResult
from pixseek.engine.text_search import SearchWords, tiers
from pixseek.errors import ImageError, QueryError
from pixseek.filters import SearchFilters
from pixseek.images import open_upright
from pixseek.store.catalog import folder_range

TEXT_CACHE = 256  # query words whose vectors are remembered
RERANKED = 50  # photos found by words alone whose match quality is weighed, at least (4 x k if more)
SCORED_DIRECTLY = 2000  # photos found by words, at most, scored from their stored vectors rather than by the index
PEOPLE_SCORED_DIRECTLY = 500  # photos of the people asked for, at most, scored from their stored vectors
CHUNK = 1000  # ids whose paths are looked up at once


def _term_vector(index: OpenIndex, term: Term) -> np.ndarray:
    if term.text is not None:
        cached = index.text_vectors.get(term.text)
        if cached is None:
            cached = np.asarray(index.encoder.encode_texts([term.text])[0])
            if len(index.text_vectors) > TEXT_CACHE:
                index.text_vectors.clear()
            index.text_vectors[term.text] = cached
        return cached
    if term.moment is not None:
        return video_search.moment_vector(index, *term.moment)
    assert term.image is not None  # a term is words, a photo or a video's moment
    record = index.catalog.lookup(term.image)
    if record is not None and _stat_key(term.image) == (record.size, record.mtime_ns):
        stored: np.ndarray = index.catalog.vectors_for([record.id])[0]
        return stored
    try:
        image = open_upright(term.image, min_side=index.encoder.image_size)
    except ImageError as error:
        raise QueryError(f"cannot use {term.image} as a query image: {error}") from None
    encoded: np.ndarray = index.encoder.encode_images([image])[0]
    return encoded


def query_vector(index: OpenIndex, query: Query) -> np.ndarray:
    """The unit vector a query searches with."""
    vectors = np.stack([_term_vector(index, t) for t in query.terms])
    return combine(vectors, np.array([t.weight for t in query.terms]))


def search(index: OpenIndex, query: Query | str, k: int = DEFAULT_K, min_score: float | None = None,
           filters: SearchFilters | None = None, sort: str = "score") -> list[SearchResult]:
    """The `k` best matches among the photos that pass `filters`, best first, or in the order
    they were taken with sort="date"."""
    if isinstance(query, str):
        query = parse_query([query])
    check_options(k, min_score, sort)
    filters = filters or SearchFilters()
    if filters.folder is not None:
        filters = replace(filters, folder=folders.searchable_folder(index, filters.folder))
    if not index.vectors_loaded and any(t.text is not None for t in query.terms):
        index.encoder.preload("text")  # the first search loads the model while the vector index opens
    vector = query_vector(index, query) if query.terms else None
    photos = filters.media != "video"
    allowed = index.metadata().select(filters) if filters.needs_metadata and photos else None
    bounds = folder_range(filters.folder) if filters.folder else None
    videos = filters.media != "photo"
    # videos with people: the moments where every person named is seen (their faces in its frames)
    in_videos = people_search.moments_with(index, query.people) if query.people and videos else {}
    if query.people:  # only photos every person named is in
        with_people, shown = people_search.photos_with(index, query.people)
        if query.says is None and vector is None:  # people alone: the photos and moments that show them best
            ranked, scores = people_search.ranked(with_people, shown, allowed)
            found = _listed(index, ranked, scores, k, bounds, min_score) if photos else []
            if videos:
                found = video_search.merged(found, video_search.with_people(index, None, in_videos, k, filters, bounds,
                                                                            min_score), k)
            return _described(index, found, sort)
        allowed = with_people if allowed is None else np.intersect1d(allowed, with_people)
    if query.says is None:
        assert vector is not None  # a query without words to find or people has terms
        if not photos:
            found = []
        elif query.people and allowed is not None and len(allowed) <= PEOPLE_SCORED_DIRECTLY:
            found = _scored(index, vector, [int(i) for i in allowed], k, bounds, min_score)
        else:
            found = _nearest(index, vector, k, allowed, bounds, min_score)
        if videos:  # videos: one result each, at its best moment
            found = video_search.merged(found, video_search.with_people(index, vector, in_videos, k, filters, bounds,
                                                                        min_score) if query.people
                                        else video_search.search(index, vector, k, filters, bounds, min_score), k)
        return _described(index, found, sort)
    if not photos:
        return []  # words written in photos: videos have none read
    return _described(index, _saying(index, query.says, vector, k, allowed, bounds, min_score), sort)


def _nearest(index: OpenIndex, vector: np.ndarray, k: int, allowed: np.ndarray | None,
             bounds: tuple[bytes, bytes] | None, min_score: float | None) -> list[SearchResult]:
    """The `k` photos nearest `vector` among `allowed` (None: all), inside `bounds`."""
    live = index.vectors()
    pool = live.index.ntotal if allowed is None else len(allowed)
    fetch = k if bounds is None and min_score is None else k * 4
    while True:
        scores, ids = live.search(vector, fetch, allowed)
        paths_by_id = index.catalog.paths_for(i for i in ids if i >= 0)
        results = []
        for score, id_ in zip(scores, ids):
            path = paths_by_id.get(int(id_))
            if path is None or (min_score is not None and score < min_score):
                continue
            if _shown(path, bounds):
                results.append(SearchResult(path, float(score), int(id_)))
        exhausted = fetch >= pool or (min_score is not None and len(scores) and scores[-1] < min_score)
        if len(results) >= k or exhausted:
            return results[:k]
        fetch *= 4


def _shown(path: str, bounds: tuple[bytes, bytes] | None) -> bool:
    """Whether a found photo is a result: inside the folder searched, and there now."""
    return (bounds is None or bounds[0] <= os.fsencode(path) < bounds[1]) and os.path.exists(path)


def _saying(index: OpenIndex, says: str, vector: np.ndarray | None, k: int, allowed: np.ndarray | None,
            bounds: tuple[bytes, bytes] | None, min_score: float | None) -> list[SearchResult]:
    """The `k` best photos that say `says`, tier by tier, each with the lines that say it."""
    words = SearchWords.of(says)
    rows = index.catalog.words
    wanted = max(4 * k, RERANKED)
    limit = wanted if vector is None and allowed is None and bounds is None else None
    results: list[SearchResult] = []
    for tier in tiers(rows, words, k, allowed, ranked=vector is None, limit=limit):
        if len(results) >= k or not tier:
            continue
        if vector is not None and len(tier) <= SCORED_DIRECTLY:
            results += _scored(index, vector, tier, k - len(results), bounds, min_score)
        elif vector is not None:
            results += _nearest(index, vector, k - len(results), np.array(tier, dtype=np.int64), bounds, min_score)
        else:
            results += _by_quality(index, words, tier, k - len(results), wanted, bounds, min_score)
    lines = rows.lines(r.id for r in results)
    return [replace(r, text=words.lines_found(lines.get(r.id, []))) for r in results]


def _scored(index: OpenIndex, vector: np.ndarray, ids: list[int], k: int, bounds: tuple[bytes, bytes] | None,
            min_score: float | None) -> list[SearchResult]:
    """The `k` of a few `ids` nearest `vector`, scored exactly from their stored vectors: a
    filtered search of the vector index would look at every vector to find them."""
    found, vectors = index.catalog.stored_vectors(ids)
    scores = vectors @ vector
    paths = index.catalog.paths_for(found)
    results: list[SearchResult] = []
    for at in np.argsort(-scores, kind="stable"):
        score, id_ = float(scores[at]), found[at]
        if len(results) >= k or (min_score is not None and score < min_score):
            break
        if id_ in paths and _shown(paths[id_], bounds):
            results.append(SearchResult(paths[id_], score, id_))
    return results


def _by_quality(index: OpenIndex, words: SearchWords, ids: list[int], k: int, wanted: int,
                bounds: tuple[bytes, bytes] | None, min_score: float | None) -> list[SearchResult]:
    """The `k` best matches by quality among the first `wanted` of `ids` that are results."""
    chosen: list[tuple[int, str]] = []
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        paths = index.catalog.paths_for(chunk)
        for i in chunk:  # no more than `wanted`: each costs a stat and its weighing (~0.2 ms)
            if len(chosen) < wanted and i in paths and _shown(paths[i], bounds):
                chosen.append((i, paths[i]))
        if len(chosen) >= wanted:
            break
    lines = index.catalog.words.lines(i for i, _ in chosen)
    found = [SearchResult(path, words.quality(lines.get(i, [])), i) for i, path in chosen]
    found = [r for r in found if min_score is None or r.score >= min_score]
    return sorted(found, key=lambda r: -r.score)[:k]


def _listed(index: OpenIndex, ids: np.ndarray, scores: np.ndarray, k: int, bounds: tuple[bytes, bytes] | None,
            min_score: float | None) -> list[SearchResult]:
    """The first `k` results of photos already ranked (best first), looked up a few at a time."""
    if min_score is not None:
        ids, scores = ids[scores >= min_score], scores[scores >= min_score]
    results: list[SearchResult] = []
    step = max(4 * k, 40)
    for start in range(0, len(ids), step):
        chunk = [int(i) for i in ids[start:start + step]]
        paths = index.catalog.paths_for(chunk)
        for i, score in zip(chunk, scores[start:start + step]):
            if len(results) < k and i in paths and _shown(paths[i], bounds):
                results.append(SearchResult(paths[i], round(float(score), 4), i))
        if len(results) >= k:
            break
        step = min(step * 4, CHUNK)
    return results


def _described(index: OpenIndex, results: list[SearchResult], sort: str) -> list[SearchResult]:
    """Each result with the photo's metadata, place and named people; in the order taken for sort="date"."""
    found = index.catalog.descriptions(r.id for r in results)
    results = [replace(r, metadata=found[r.id].metadata, place=found[r.id].place) if r.id in found else r
               for r in results]
    named = people_search.named_in(index, [r.id for r in results])
    results = [replace(r, people=named[r.id]) if r.id in named else r for r in results]
    if sort == "date":  # photos whose metadata is not read yet go last
        results.sort(key=lambda r: r.metadata.taken_at if r.metadata else float("inf"))
    return results


def _stat_key(path: str) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:  # gone since the query was parsed: decoding it says so
        return None
    return stat.st_size, stat.st_mtime_ns
