"""Requests to engine queries. Text is always text here: unlike the CLI, words that happen to
name a file never make the server read it. Photos are named by their id in the index, or
uploaded."""

from __future__ import annotations

import os
from typing import Any

from pixseek.api.errors import ApiError
from pixseek.api.schemas import SearchOptions, SearchRequest
from pixseek.errors import QueryError
from pixseek.filters import SearchFilters
from pixseek.library import Library
from pixseek.engine.query import Query, Term, build_query, image_term, moment_term, text_term


def _like(library: Library, id_: int, weight: float, seconds: float | None = None) -> Term:
    if library.video(id_) is not None:
        if seconds is None:
            raise QueryError(f"{id_} is a video: name its moment with seconds (a term's `seconds`)")
        return moment_term(id_, seconds, weight)
    if seconds is not None:
        raise QueryError(f"seconds name a moment of a video; {id_} is not an indexed video")
    found = library.file(id_)
    if found is None:
        raise ApiError(404, f"no photo with id {id_} in the index")
    return image_term(found.path, weight)


def build(library: Library, request: SearchRequest, upload: str | None = None) -> Query:
    """The engine query for a request (`upload`: the uploaded photo, as a temporary file)."""
    terms = [text_term(request.q)] if request.q and request.q.strip() else []
    terms += [_like(library, id_, 1.0) for id_ in request.like]
    terms += [image_term(upload)] if upload else []
    for term in request.terms:
        if term.text is not None and term.like is None:
            terms.append(text_term(term.text, term.weight))
        elif term.like is not None and term.text is None:
            terms.append(_like(library, term.like, term.weight, term.seconds))
        else:
            raise QueryError("each term needs either text or like (an id), not both")
    terms += [text_term(words, -1.0) for words in request.not_]
    return build_query(terms, request.says if request.says and request.says.strip() else None, request.person)


def _folder(folder: str | None, library: Library) -> str | None:
    """An absolute folder that leads inside an indexed one, as the index names it; anything else
    (relative, `..` or a link out of it) is refused."""
    if folder is None:
        return None
    named = library.inside(folder)  # empty, NUL, too long: one line each
    if not os.path.isabs(folder):
        raise QueryError("folder must be an absolute path inside an indexed folder")
    if named is None:
        raise QueryError(f"folder {folder} is not inside an indexed folder")
    return named


def engine_options(options: SearchOptions, library: Library) -> dict[str, Any]:
    """The search's options as Library.search takes them: every filter the engine has goes
    through here, and only here."""
    filters = SearchFilters.parse(after=options.after, before=options.before, year=options.year,
                                  camera=options.camera, place=options.place, near=options.near,
                                  radius=options.radius, folder=_folder(options.folder, library), media=options.type)
    return {"k": options.k, "min_score": options.min_score, "filters": filters, "sort": options.sort}
