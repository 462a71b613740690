"""The MCP tools: search, show, status, and (with --allow-index) index.

A face: each tool turns its arguments into Library calls and renders what comes back. Words are
always words (a query that happens to name a file is searched as text); photos are named by
their id in the index, or by a path inside the indexed folders, decided on resolved paths, so a
link inside a folder that leads out of it is refused before anything is read. Every expected
failure is a tool error of one line; stdout carries the protocol and nothing else (the SDK points
fd 1 at stderr while serving; logs go to stderr).
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from typing import Annotated, Any

from mcp.server.mcpserver import Image, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from pixseek import __version__
from pixseek.errors import PixseekError
from pixseek.filters import SearchFilters
from pixseek.serving.jobs import IndexJob, JobState
from pixseek.library import Library
from pixseek.engine.query import DEFAULT_K, MAX_K, Term, build_query, image_term, text_term

log = logging.getLogger(__name__)

INSTRUCTIONS = (
    "pixseek searches the user's own photos, offline, by meaning (CLIP): describe what is in a picture "
    "('a dog on a beach at sunset'), or give an example photo (an id from earlier results, or a path inside "
    "the indexed folders). Scores are cosine similarities: higher is closer. `show` returns a result's "
    "thumbnail and details; `status` says what is indexed.")

PYDANTIC_TYPE = re.compile(r"\s*\[type=.*$")
Text = Annotated[str | None, Field(description="words to search for (always text, never a file)")]


class Tools:
    """What one server shares between tool calls: the Library that searches read (opened on
    first use), and the background index run."""

    def __init__(self, open_library: Callable[[bool], Library], allow_index: bool):
        self._open = open_library
        self._library: Library | None = None
        self._opening = threading.Lock()
        self.allow_index = allow_index
        self.job = IndexJob()

    def library(self) -> Library:
        with self._opening:
            if self._library is None:
                self._library = self._open(False)
            return self._library

    def close(self) -> None:
        self.job.cancel()
        with self._opening:
            if self._library is not None:
                self._library.close()
                self._library = None

    # -- paths ------------------------------------------------------------------------------

    def _inside_index(self, path: str, what: str) -> str:
        """`path` as an absolute path if, resolved (links followed), it lies inside a resolved
        indexed folder; ToolError otherwise, before anything under it is read."""
        if not isinstance(path, str) or "\x00" in path or not path.strip():
            raise ToolError(f"{what} must be an absolute path inside an indexed folder")
        absolute = os.path.expanduser(path.strip())
        if not os.path.isabs(absolute):
            raise ToolError(f"{what} must be an absolute path inside an indexed folder (got {path})")
        absolute = os.path.normpath(absolute)
        if self.library().inside(absolute) is None:
            raise ToolError(f"{path} is not inside the indexed folders; only photos in them can be used")
        return absolute

    def _photo_term(self, path: str, weight: float) -> Term:
        absolute = self._inside_index(path, "an example photo")
        library = self.library()
        # As indexed, the stored vector is used; otherwise the resolved file (checked above) is read.
        return image_term(absolute if library.contains(absolute) else os.path.realpath(absolute), weight)

    def _id_term(self, id_: int, weight: float) -> Term:
        found = self.library().file(id_)
        if found is None:
            raise ToolError(f"no photo with id {id_} in the index")
        return image_term(found.path, weight)

    # -- tools ------------------------------------------------------------------------------

    def search(
        self,
        text: Text = None,
        like_ids: Annotated[list[int], Field(description="ids of indexed photos (from earlier results) to find "
                                                         "photos like")] = [],  # noqa: B006 (copied by pydantic)
        like_paths: Annotated[list[str], Field(description="absolute paths of photos inside the indexed folders "
                                                           "to find photos like")] = [],  # noqa: B006
        negatives: Annotated[list[str], Field(description="words to steer away from ('not ...'): "
                                                          "text='beach', negatives=['people']")] = [],  # noqa: B006
        says: Annotated[str | None, Field(description="words written in the photo (a sign, a receipt, a "
                                                      "slide): every one must be read in it; alone, or with "
                                                      "text to order the matches")] = None,
        person: Annotated[list[str], Field(description="people in the photo, by the names the user gave them "
                                                       "(or their numbers): every one must be in it; alone, or with "
                                                       "text")] = [],  # noqa: B006
        k: Annotated[int, Field(ge=1, le=MAX_K, description="number of results")] = DEFAULT_K,
        min_score: Annotated[float | None, Field(ge=-1, le=1, description="only results at least this "
                                                                          "similar")] = None,
        folder: Annotated[str | None, Field(description="only photos under this folder (inside an indexed "
                                                        "folder)")] = None,
        after: Annotated[str | None, Field(description="taken on or after: 2023, 2023-06, 2023-06-15 "
                                                       "(local time where taken)")] = None,
        before: Annotated[str | None, Field(description="taken before (the start of): 2023, 2023-09, "
                                                        "2023-09-01")] = None,
        year: Annotated[str | None, Field(description="taken in this year, like 2021")] = None,
        camera: Annotated[str | None, Field(description="the camera's name contains this ('Pixel 7', "
                                                        "'canon')")] = None,
        place: Annotated[str | None, Field(description="taken in a town, region or country whose name "
                                                       "contains this")] = None,
        near: Annotated[str | None, Field(description="taken near 'LAT,LON' (degrees), within radius")] = None,
        radius: Annotated[str | None, Field(description="with near: 5km (default), 500m, 2mi")] = None,
        sort: Annotated[str, Field(pattern="^(score|date)$", description="score (best first) or date "
                                                                         "(oldest first)")] = "score",
        type: Annotated[str | None, Field(pattern="^(photo|video)$", description="only photos, or only videos "
                                          "(a video is one result, with the seconds of its best moment)")] = None,
    ) -> dict[str, Any]:
        """Search the indexed photos by words, example photos, or both, or by the words written in
        them (says), or by the people in them (person); filters narrow the results. Returns the best matches with their id, path,
        similarity score, what is known of them (when taken, camera, place) and, with says, the
        lines of their text where the words were found."""
        try:
            terms = [text_term(text)] if text and text.strip() else []
            terms += [self._id_term(id_, 1.0) for id_ in like_ids]
            terms += [self._photo_term(path, 1.0) for path in like_paths]
            terms += [text_term(words, -1.0) for words in negatives]
            query = build_query(terms, says=says, people=person)
            if folder is not None:
                folder = self._inside_index(folder, "folder")
            filters = SearchFilters.parse(after=after, before=before, year=year, camera=camera, place=place,
                                          near=near, radius=radius, folder=folder, media=type)
            results = self.library().search(query, k=k, min_score=min_score, filters=filters, sort=sort)
        except PixseekError as error:
            raise ToolError(str(error)) from None
        return {"query": query.describe(), "filters": filters.describe(),
                "results": [{"id": r.id, "name": os.path.basename(r.path), **r.to_dict()} for r in results]}

    def show(
        self,
        id: Annotated[int, Field(description="a photo's id, from search results")],
        size: Annotated[int, Field(ge=32, le=1600, description="the thumbnail's longest side in pixels")] = 512,
    ) -> list[Image | dict[str, Any]]:
        """One photo: its thumbnail (JPEG) and its details (path, size in bytes, pixels, when it
        was modified and indexed)."""
        try:
            found = self.library().file(id)
            if found is None:
                raise ToolError(f"no photo with id {id} in the index")
            self._inside_index(found.path, "the photo")  # a file replaced by a link out since it was indexed
            jpeg = self.library().thumbnail(found.path, size)
        except PixseekError as error:
            raise ToolError(str(error)) from None
        details = {"id": found.id, "path": found.path, "name": os.path.basename(found.path), "bytes": found.size,
                   "width": found.width, "height": found.height, "modified": found.modified,
                   "indexed_at": found.indexed_at}
        return [Image(data=jpeg, format="jpeg"), details]

    def status(self) -> dict[str, Any]:
        """The index at a glance: model, photos, folders (and whether each is there now),
        skipped files, last update, health; and the index run, where this server may start one."""
        try:
            library = self.library()
            status = library.status(check=False)
            folders = [asdict(folder) for folder in library.folder_details()]
        except PixseekError as error:
            raise ToolError(str(error)) from None
        found = asdict(status)
        found["folders"] = folders
        del found["missing_folders"]  # in `folders`, as present: false
        found["indexing"] = _job(self.job.state()) if self.allow_index else "not allowed (start with --allow-index)"
        return found

    def index(
        self,
        folder: Annotated[str | None, Field(description="an indexed folder, or one inside it, to bring up to date "
                                                        "(default: every indexed folder)")] = None,
    ) -> dict[str, Any]:
        """Start an index run (new, changed and deleted photos) of a folder already indexed, or of
        all of them, in the background; `status` follows it. New folders cannot be added here."""
        try:
            folders = [self._inside_index(folder, "folder")] if folder is not None else None
            if not self.library().folders():
                raise ToolError("this index has no folders yet: index one with `pixseek index FOLDER` first")
        except PixseekError as error:
            raise ToolError(str(error)) from None
        if not self.job.start(lambda: self._open(True), folders):
            raise ToolError("an index run is already going; `status` follows it")
        return {"started": True, "folders": folders or self.library().folders()}


def _job(state: JobState) -> dict[str, Any]:
    progress = state.progress
    return {"running": state.running, "cancelling": state.cancelling, "runs": state.runs, "error": state.error,
            "progress": None if progress is None else {"done": progress.done, "total": progress.total,
                                                       "eta_s": progress.eta},
            "report": None if state.report is None else state.report.describe()}


def one_line(text: str) -> str:
    """A tool error as one line: the SDK's argument-validation message spans several (pydantic's
    field, message, and a link per error); `k: Input should be less than or equal to 1000`."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("For further")]
    if len(lines) > 1 and "validation error" in lines[0]:
        head = lines[0].split(": ")[0]
        wrong = [f"{field}: {PYDANTIC_TYPE.sub('', message)}" for field, message in zip(lines[1::2], lines[2::2])]
        return f"{head}: " + "; ".join(wrong)
    return " ".join(lines)


async def _one_line_errors(ctx: Any, call_next: Callable[[Any], Awaitable[Any]]) -> Any:
    result = await call_next(ctx)
    if ctx.method == "tools/call" and isinstance(result, dict) and result.get("isError"):
        for block in result.get("content") or []:
            if isinstance(block, dict) and block.get("type") == "text":
                block["text"] = one_line(block["text"])
    return result


def build(tools: Tools) -> MCPServer:
    server = MCPServer("pixseek", version=__version__, instructions=INSTRUCTIONS, log_level="WARNING",
                       middleware=[_one_line_errors])
    reading = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    server.add_tool(tools.search, name="search", annotations=reading)
    server.add_tool(tools.show, name="show", annotations=reading, structured_output=False)
    server.add_tool(tools.status, name="status", annotations=reading)
    if tools.allow_index:
        server.add_tool(tools.index, name="index",
                        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=False,
                                                    idempotent_hint=True, open_world_hint=False))
    return server


def run(index: str | None, model: str | None, device: str | None, allow_index: bool) -> int:
    def open_library(for_indexing: bool) -> Library:
        return Library.open(index, model=model, device=device, create=for_indexing)

    tools = Tools(open_library, allow_index)
    log.info("serving %s over stdio%s", index or "the default index", " (index runs allowed)" if allow_index else "")
    try:
        build(tools).run("stdio")
    finally:
        tools.close()
    return 0
