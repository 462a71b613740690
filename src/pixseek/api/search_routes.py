"""Search: by words (GET or POST), by an uploaded photo (POST, multipart), mixed and weighted."""

from __future__ import annotations

import os
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile

from pixseek.api import query
from pixseek.api.deps import service
from pixseek.api.schemas import Hit, SearchAnswer, SearchRequest
from pixseek.api.service import Service
from pixseek.errors import UploadTooLarge
from pixseek.engine.query import DEFAULT_K, MAX_K, MAX_PEOPLE, MAX_TEXT_CHARS
from pixseek.engine.results import SearchResult
from pixseek.serving import uploads

router = APIRouter(prefix="/api", tags=["search"])


class FilterParams:
    """The metadata filters and the order, as query parameters (see SearchOptions)."""

    def __init__(self, after: Annotated[str | None, Query(max_length=40)] = None,
                 before: Annotated[str | None, Query(max_length=40)] = None,
                 year: Annotated[str | None, Query(max_length=4)] = None,
                 camera: Annotated[str | None, Query(max_length=200)] = None,
                 place: Annotated[str | None, Query(max_length=200)] = None,
                 near: Annotated[str | None, Query(max_length=60)] = None,
                 radius: Annotated[str | None, Query(max_length=20)] = None,
                 sort: Annotated[str, Query(pattern="^(score|date)$")] = "score",
                 type: Annotated[str | None, Query(pattern="^(photo|video)$")] = None):
        self.values: dict[str, str | None] = {"after": after, "before": before, "year": year, "camera": camera,
                                              "place": place, "near": near, "radius": radius, "sort": sort,
                                              "type": type}

    def given(self) -> dict[str, str]:
        return {name: value for name, value in self.values.items() if value is not None}


class FilterForm(FilterParams):
    """The same, as form fields (searching by an uploaded photo)."""

    def __init__(self, after: Annotated[str | None, Form(max_length=40)] = None,
                 before: Annotated[str | None, Form(max_length=40)] = None,
                 year: Annotated[str | None, Form(max_length=4)] = None,
                 camera: Annotated[str | None, Form(max_length=200)] = None,
                 place: Annotated[str | None, Form(max_length=200)] = None,
                 near: Annotated[str | None, Form(max_length=60)] = None,
                 radius: Annotated[str | None, Form(max_length=20)] = None,
                 sort: Annotated[str, Form(pattern="^(score|date)$")] = "score",
                 type: Annotated[str | None, Form(pattern="^(photo|video)$")] = None):
        super().__init__(after, before, year, camera, place, near, radius, sort, type)


def hit(result: SearchResult) -> Hit:
    if result.seconds is not None:
        return Hit.model_validate({
            **result.to_dict(), "id": result.id, "name": os.path.basename(result.path), "score": result.score,
            "thumbnail": f"/api/videos/{result.id}/thumbnail?t={result.seconds:.3f}",
            "original": f"/api/videos/{result.id}/file"})
    return Hit.model_validate({
        **result.to_dict(), "id": result.id, "name": os.path.basename(result.path), "score": result.score,
        "thumbnail": f"/api/files/{result.id}/thumbnail", "original": f"/api/files/{result.id}/original"})


def run(svc: Service, request: SearchRequest, upload: str | None = None, upload_name: str = "") -> SearchAnswer:
    library = svc.library()
    engine_query = query.build(library, request, upload)
    options = query.engine_options(request, library)
    with svc.searching():
        results = library.search(engine_query, **options)
    described = engine_query.describe()
    if upload:
        described = described.replace(upload, f"upload {upload_name}")
    return SearchAnswer(query=described, results=[hit(r) for r in results])


@router.get("/search", response_model=SearchAnswer, summary="Search by words and/or indexed photos")
def search_get(svc: Annotated[Service, Depends(service)], filters: Annotated[FilterParams, Depends()],
               q: Annotated[str | None, Query(max_length=MAX_TEXT_CHARS, description="words to search for")] = None,
               like: Annotated[list[int], Query(description="ids of indexed photos: photos like them")] = [],  # noqa: B006
               not_: Annotated[list[str], Query(alias="not", description="words to steer away from")] = [],  # noqa: B006
               says: Annotated[str | None, Query(max_length=MAX_TEXT_CHARS,
                                                 description="words written in the photo")] = None,
               person: Annotated[list[str], Query(max_length=MAX_PEOPLE,
                                                  description="people in the photo, every one")] = [],  # noqa: B006
               k: Annotated[int, Query(ge=1, le=MAX_K)] = DEFAULT_K,
               min_score: Annotated[float | None, Query(ge=-1, le=1)] = None,
               folder: Annotated[str | None, Query(max_length=4096)] = None) -> SearchAnswer:
    request = SearchRequest.model_validate({"q": q, "like": like, "not": not_, "says": says, "person": person, "k": k,
                                            "min_score": min_score, "folder": folder, **filters.given()})
    return run(svc, request)


@router.post("/search", response_model=SearchAnswer, summary="Search with weighted terms (JSON)")
def search_post(request: SearchRequest, svc: Annotated[Service, Depends(service)]) -> SearchAnswer:
    return run(svc, request)


@router.post("/search/image", response_model=SearchAnswer, summary="Search by an uploaded photo, with words if you like")
def search_image(svc: Annotated[Service, Depends(service)], filters: Annotated[FilterForm, Depends()],
                 image: Annotated[UploadFile, File(description=f"a photo, at most {uploads.MAX_UPLOAD_MB} MB")],
                 q: Annotated[str | None, Form(max_length=MAX_TEXT_CHARS)] = None,
                 not_: Annotated[list[str], Form(alias="not")] = [],  # noqa: B006 - FastAPI copies defaults
                 says: Annotated[str | None, Form(max_length=MAX_TEXT_CHARS)] = None,
                 person: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI copies defaults
                 k: Annotated[int, Form(ge=1, le=MAX_K)] = DEFAULT_K,
                 min_score: Annotated[float | None, Form(ge=-1, le=1)] = None,
                 folder: Annotated[str | None, Form(max_length=4096)] = None) -> SearchAnswer:
    limit = uploads.MAX_UPLOAD_MB * 2**20
    data = image.file.read(limit + 1)
    name = os.path.basename(image.filename or "") or "the upload"
    if len(data) > limit:
        raise UploadTooLarge(f"{name} is too large; upload a photo of at most {uploads.MAX_UPLOAD_MB} MB")
    request = SearchRequest.model_validate({"q": q, "not": not_, "says": says, "person": person, "k": k, "min_score": min_score,
                                            "folder": folder, **filters.given()})
    with uploads.as_file(name, data) as path:
        return run(svc, request, path, name)
