"""Requests to engine queries. Text is always text here: unlike the CLI, words that happen to
name a file never make the server read it. Photos are named by their id in the index, or
uploaded."""

from __future__ import annotations

import os

from pixseek import containment
from pixseek.api.errors import ApiError
from pixseek.api.schemas import SearchOptions, SearchRequest
from pixseek.errors import QueryError
from pixseek.filters import SearchFilters
from pixseek.library import Library
from pixseek.engine.query import Query, Term

EMPTY = "empty query: give words to search for (q), photos like indexed ones (like), or upload a photo"


def _text(text: str, weight: float) -> Term:
    if not text.strip():
        raise QueryError("empty query term: give some words")
    return Term(weight, text=text.strip())


def _like(library: Library, id_: int, weight: float) -> Term:
    found = library.file(id_)
    if found is None:
        raise ApiError(404, f"no photo with id {id_} in the index")
    return Term(weight, image=found.path)


def build(library: Library, request: SearchRequest, upload: str | None = None) -> Query:
    """The engine query for a request (`upload`: the uploaded photo, as a temporary file)."""
    terms = [Term(1.0, text=request.q.strip())] if request.q and request.q.strip() else []
    terms += [_like(library, id_, 1.0) for id_ in request.like]
    terms += [Term(1.0, image=upload)] if upload else []
    for term in request.terms:
        if (term.text is None) == (term.like is None):
            raise QueryError("each term needs either text or like (an id), not both")
        if term.weight == 0:
            raise QueryError("a term's weight must not be 0")
        terms.append(_text(term.text, term.weight) if term.text is not None else _like(library, term.like, term.weight))
    terms += [_text(words, -1.0) for words in request.not_]
    if not any(term.weight > 0 for term in terms):
        raise QueryError(EMPTY)
    return Query(tuple(terms))


def _folder(folder: str | None, indexed: list[str]) -> str | None:
    """An absolute folder that leads inside an indexed one, as the index names it; anything else
    (relative, `..` or a link out of it) is refused."""
    if folder is None:
        return None
    containment.absolute(folder)  # empty, NUL, too long: one line each
    if not os.path.isabs(folder):
        raise QueryError("folder must be an absolute path inside an indexed folder")
    named = containment.indexed_form(folder, indexed)
    if named is None:
        raise QueryError(f"folder {folder} is not inside an indexed folder")
    return named


def engine_options(options: SearchOptions, library: Library) -> dict:
    """The search's options as Library.search takes them: every filter the engine has goes
    through here, and only here."""
    filters = SearchFilters.parse(after=options.after, before=options.before, year=options.year,
                                  camera=options.camera, place=options.place, near=options.near,
                                  radius=options.radius, folder=_folder(options.folder, library.folders()))
    return {"k": options.k, "min_score": options.min_score, "filters": filters, "sort": options.sort}
