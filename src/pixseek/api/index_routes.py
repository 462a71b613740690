"""Index runs: start one (the folders already indexed, or ones this server may add), cancel
it, follow it by polling or as server-sent events. One run at a time per server; a run by
another process (the CLI, a watcher) makes this one fail with its reason in `error`."""

from __future__ import annotations

import asyncio
import os
from functools import partial
from typing import Annotated
from collections.abc import AsyncIterable

from fastapi import APIRouter, Body, Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from pixseek import containment
from pixseek.api.deps import service
from pixseek.api.errors import ApiError
from pixseek.api.schemas import IndexRequest, JobInfo, ReportInfo
from pixseek.api.service import Service
from pixseek.files import check_folder
from pixseek.serving.jobs import JobState

router = APIRouter(prefix="/api/index", tags=["index"])
POLL_S = 0.25  # how often the event stream looks at the run


def job_info(state: JobState) -> JobInfo:
    return JobInfo(running=state.running, cancelling=state.cancelling, progress=state.progress,
                   eta=state.progress.eta if state.progress and state.running else None,
                   report=ReportInfo.of(state.report) if state.report else None, error=state.error, runs=state.runs)


def folders_to_index(svc: Service, requested: list[str]) -> list[str]:
    """The folders a run may index: those asked for, if each lies inside a folder already
    indexed or one the server was started with; by default all of those."""
    allowed = sorted(set(svc.indexed_folders()) | {os.path.abspath(f) for f in svc.settings.folders})
    if not requested:
        if not allowed:
            raise ApiError(400, "nothing to index yet: start the server with the folders it may index")
        return allowed
    checked = []
    for folder in requested:
        normal = containment.absolute(folder)
        if not os.path.isabs(folder):
            raise ApiError(422, "folders must be absolute paths")
        if not containment.contains(allowed, normal):
            raise ApiError(403, f"this server may not index {folder}: only folders inside those it was started "
                                "with or already indexed (wherever their links lead)")
        checked.append(check_folder(normal))
    return checked


@router.post("", status_code=202, response_model=JobInfo, summary="Start an index run")
def start(svc: Annotated[Service, Depends(service)],
          request: Annotated[IndexRequest | None, Body()] = None) -> JobInfo:
    if request and request.rebuild:
        if request.text is not None:
            raise ApiError(422, "text: set it on an index run, not on a rebuild (the rebuilt index keeps the setting)")
        if not svc.settings.model:
            raise ApiError(400, "this server was started without a model to rebuild the index for")
        started = svc.job.start(partial(svc.open_for_indexing, False), None, rebuild_for=svc.settings.model)
    else:
        started = svc.job.start(svc.open_for_indexing, folders_to_index(svc, request.folders if request else []),
                                read_text=request.text if request else None)
    if not started:
        raise ApiError(409, "an index run is already going: follow it, or cancel it first")
    return job_info(svc.job.state())


@router.get("", response_model=JobInfo, summary="The current (or last) index run")
def state(svc: Annotated[Service, Depends(service)]) -> JobInfo:
    return job_info(svc.job.state())


@router.post("/cancel", status_code=202, response_model=JobInfo,
             summary="Stop the run after the batch in flight (everything committed is kept)")
def cancel(svc: Annotated[Service, Depends(service)]) -> JobInfo:
    if not svc.job.state().running:
        raise ApiError(409, "no index run is going")
    svc.job.cancel()
    return job_info(svc.job.state())


@router.get("/events", response_class=EventSourceResponse,
            summary="The run as server-sent events: `progress` on each change, then `done`")
async def events(svc: Annotated[Service, Depends(service)]) -> AsyncIterable[ServerSentEvent]:
    last = None
    while True:
        current = svc.job.state()
        if current != last:
            last = current
            yield ServerSentEvent(data=job_info(current), event="progress" if current.running else "done")
        if not current.running:
            return
        await asyncio.sleep(POLL_S)
