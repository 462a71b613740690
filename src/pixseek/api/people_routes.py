"""People: list them, their faces, a photo's faces; name, merge, split a face out, "not a face".
A person is named in the path by its number (in `GET /api/people`) or its name."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from pixseek.api.deps import service
from pixseek.api.errors import ApiError
from pixseek.api.service import Service
from pixseek.engine.query import MAX_PEOPLE
from pixseek.people.store import MAX_NAME, PersonNotFound

router = APIRouter(prefix="/api", tags=["people"])
PersonKey = Annotated[str, Path(min_length=1, max_length=MAX_NAME, description="a person's number or name")]
FaceId = Annotated[int, Path(ge=1, description="a face's id (in a person's or a photo's faces)")]


class PersonInfo(BaseModel):
    id: int
    name: str | None
    faces: int
    photos: int
    cover: int | None = Field(description="the id of the face that shows the person best")


class FaceInfo(BaseModel):
    id: int
    photo_id: int
    path: str
    box: list[float] = Field(description="x1, y1, x2, y2 in the photo's pixels (upright)")
    score: float = Field(description="the detector's, 0 to 1")
    quality: float = Field(description="score, size and how frontal, 0 to 1")
    person: int | None
    not_face: bool
    seconds: float | None = Field(None, description="a face in a video: the moment's second (photo_id is the video's)")


class NameRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=MAX_NAME)


class MergeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    into: str = Field(max_length=MAX_NAME, description="the person kept (number or name)")
    others: list[str] = Field(min_length=1, max_length=MAX_PEOPLE, description="people whose faces move to `into`")


class SplitRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    to: str | None = Field(None, max_length=MAX_NAME, description="the person it goes to (default: a new one)")


def _found(error: PersonNotFound) -> ApiError:
    return ApiError(404, str(error))


@router.get("/people", response_model=list[PersonInfo], summary="The people in the photos, most photographed first")
def people(svc: Annotated[Service, Depends(service)], named: Annotated[bool, Query()] = False) -> list[PersonInfo]:
    return [PersonInfo.model_validate(p.to_dict()) for p in svc.library().people(named_only=named)]


@router.get("/people/{person}/faces", response_model=list[FaceInfo], summary="A person's faces, the best first")
def person_faces(person: PersonKey, svc: Annotated[Service, Depends(service)],
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[FaceInfo]:
    try:
        return [FaceInfo.model_validate(f.to_dict()) for f in svc.library().person_faces(person, limit)]
    except PersonNotFound as error:
        raise _found(error) from None


@router.get("/files/{id_}/faces", response_model=list[FaceInfo], summary="The faces found in one photo")
def photo_faces(id_: Annotated[int, Path(ge=1)], svc: Annotated[Service, Depends(service)]) -> list[FaceInfo]:
    library = svc.library()
    if library.file(id_) is None:
        raise ApiError(404, f"no photo with id {id_} in the index")
    return [FaceInfo.model_validate(f.to_dict()) for f in library.faces(id_)]


@router.get("/faces/{face}/thumbnail", summary="A JPEG of one face", response_class=Response,
            responses={200: {"content": {"image/jpeg": {}}}})
def face_thumbnail(face: FaceId, svc: Annotated[Service, Depends(service)],
                   size: Annotated[int, Query(ge=16, le=1024)] = 160) -> Response:
    try:
        return Response(svc.library().face_thumbnail(face, size), media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})
    except PersonNotFound as error:
        raise _found(error) from None


@router.post("/people/{person}/name", response_model=PersonInfo, summary="Name a person (or rename one)")
def name(person: PersonKey, request: NameRequest, svc: Annotated[Service, Depends(service)]) -> PersonInfo:
    try:
        return PersonInfo.model_validate(svc.library().name_person(person, request.name).to_dict())
    except PersonNotFound as error:
        raise _found(error) from None


@router.post("/people/merge", response_model=PersonInfo, summary="Merge people who are one person")
def merge(request: MergeRequest, svc: Annotated[Service, Depends(service)]) -> PersonInfo:
    library = svc.library()
    try:
        kept = library.person(request.into)
        for other in request.others:
            kept = library.merge_people(kept.id, other)
    except PersonNotFound as error:
        raise _found(error) from None
    return PersonInfo.model_validate(kept.to_dict())


@router.post("/faces/{face}/split", response_model=PersonInfo, summary="Take a face out of its person")
def split(face: FaceId, request: SplitRequest, svc: Annotated[Service, Depends(service)]) -> PersonInfo:
    try:
        return PersonInfo.model_validate(svc.library().split_face(face, request.to).to_dict())
    except PersonNotFound as error:
        raise _found(error) from None


@router.post("/faces/{face}/not-a-face", response_model=FaceInfo, summary="Mark a face as no face")
def not_a_face(face: FaceId, svc: Annotated[Service, Depends(service)]) -> FaceInfo:
    library = svc.library()
    try:
        library.not_a_face(face)
    except PersonNotFound as error:
        raise _found(error) from None
    photo = library.face(face)
    return FaceInfo.model_validate(photo.to_dict())
