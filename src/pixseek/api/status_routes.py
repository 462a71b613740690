"""The index: its model, counts, folders and health; the files it could not index, and why."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from pixseek.api.deps import service
from pixseek.api.schemas import SkippedAnswer, SkippedFile
from pixseek.api.service import Service
from pixseek.engine.results import Status

router = APIRouter(prefix="/api", tags=["index"])


@router.get("/status", response_model=Status, summary="The index: model, counts, folders, health")
def status(svc: Annotated[Service, Depends(service)]) -> Status:
    answer: Status = svc.library().status()
    return answer


@router.get("/skipped", response_model=SkippedAnswer, summary="Files that could not be indexed, and why")
def skipped(svc: Annotated[Service, Depends(service)], offset: Annotated[int, Query(ge=0)] = 0,
            limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> SkippedAnswer:
    every = svc.library().skipped()
    return SkippedAnswer(total=len(every),
                         items=[SkippedFile(path=p, reason=r) for p, r in every[offset:offset + limit]])
