"""The JSON shapes of requests and answers (they are the OpenAPI schema at /docs)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pixseek.engine.query import DEFAULT_K, MAX_K, MAX_PEOPLE, MAX_TEXT_CHARS
from pixseek.engine.results import IndexReport, Progress

MAX_TERMS = 16


class SearchOptions(BaseModel):
    """What every search takes besides its terms; the filters the engine has."""

    model_config = ConfigDict(extra="forbid")
    k: int = Field(DEFAULT_K, ge=1, le=MAX_K, description="number of results")
    min_score: float | None = Field(None, ge=-1.0, le=1.0, description="only results with a similarity at least this")
    folder: str | None = Field(None, max_length=4096,
                               description="only results under this folder (absolute, inside an indexed folder)")
    after: str | None = Field(None, max_length=40, description="taken on or after: 2023, 2023-06, 2023-06-15")
    before: str | None = Field(None, max_length=40, description="taken before the start of: 2023-09 ends with August")
    year: str | None = Field(None, max_length=4, description="taken in this year")
    camera: str | None = Field(None, max_length=200, description="the camera's name contains this")
    place: str | None = Field(None, max_length=200, description="the town, region or country contains this")
    near: str | None = Field(None, max_length=60, description="LAT,LON: taken within `radius` of it")
    radius: str | None = Field(None, max_length=20, description="with near: 5km (default), 500m, 2mi")
    sort: Literal["score", "date"] = Field("score", description="best first, or oldest first among the top k")
    type: Literal["photo", "video"] | None = Field(None, description="only photos, or only videos (default: both)")


class Term(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(None, max_length=MAX_TEXT_CHARS, description="words to search for")
    like: int | None = Field(None, ge=1, description="the id of an indexed photo or video: photos and videos like it")
    seconds: float | None = Field(None, ge=0, le=1e9, description="with `like` a video's id: its moment at this time")
    weight: float = Field(1.0, ge=-100, le=100, description="negative steers away from the term")


class SearchRequest(SearchOptions):
    q: str | None = Field(None, max_length=MAX_TEXT_CHARS, description="words to search for")
    like: list[int] = Field([], max_length=MAX_TERMS, description="ids of indexed photos: photos like them")
    not_: list[str] = Field([], alias="not", max_length=MAX_TERMS, description="words to steer away from")
    terms: list[Term] = Field([], max_length=MAX_TERMS, description="weighted terms, mixed freely")
    says: str | None = Field(None, max_length=MAX_TEXT_CHARS,
                             description="words written in the photo: only photos whose text holds every one")
    person: list[str] = Field([], max_length=MAX_PEOPLE,
                              description="people in the photo (names or numbers): only photos with every one")


class Place(BaseModel):
    city: str
    region: str
    country: str
    country_code: str
    name: str


class TextLineInfo(BaseModel):
    text: str
    box: list[list[float]] = Field(description="corner points in the photo's pixels, clockwise from top left")
    confidence: float = Field(description="how sure the reader was, 0 to 1")


class PhotoText(BaseModel):
    id: int
    lines: list[TextLineInfo] = Field(description="the text read in the photo, top to bottom ([]: none, or not read yet)")


class MomentInfo(BaseModel):
    seconds: float
    score: float


class VideoInfo(BaseModel):
    id: int
    path: str
    name: str
    size: int
    modified: float
    duration: float
    width: int
    height: int
    moments: int = Field(description="moments stored (frames embedded)")
    complete: bool = Field(description="false while indexing has read only part of it")


class Hit(BaseModel):
    id: int
    path: str
    name: str
    score: float
    taken: str | None = Field(None, description="capture time, ISO 8601 with its UTC offset")
    time_source: str | None = Field(None, description="exif, exif-local (offset assumed) or file (no EXIF time)")
    camera: str | None = None
    lens: str | None = None
    width: int | None = None
    height: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    place: Place | None = None
    text: list[TextLineInfo] = Field([], description="with `says`: the lines of the photo's text that hold its words")
    people: list[str] = Field([], description="the named people whose faces are in the photo")
    thumbnail: str = Field(description="URL of a JPEG thumbnail (a video's: of its best moment)")
    original: str = Field(description="URL of the file itself (a video's serves byte ranges)")
    type: Literal["photo", "video"] = "photo"
    seconds: float | None = Field(None, description="a video: the time of its best moment, in seconds")
    moments: list[MomentInfo] = Field([], description="a video: its other moments that match almost as well, by time")


class SearchAnswer(BaseModel):
    query: str = Field(description="the query as the engine understood it")
    results: list[Hit]


class FileInfo(BaseModel):
    id: int
    path: str
    name: str
    size: int
    modified: float
    width: int
    height: int
    indexed_at: float


class SkippedFile(BaseModel):
    path: str
    reason: str


class SkippedAnswer(BaseModel):
    total: int
    items: list[SkippedFile]


class IndexRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    folders: list[str] = Field([], max_length=64,
                               description="folders to index (default: those already indexed)")
    rebuild: bool = Field(False, description="rebuild the whole index for the model this server was started with, "
                                             "where it was built with another: every photo is embedded again, and "
                                             "the old index keeps working until the new one is complete")
    text: bool | None = Field(None, description="whether this index reads the words in its photos, from this run on "
                                                "(kept for later runs; null keeps the index's setting)")


class ReportInfo(BaseModel):
    indexed: int
    reused: int
    unchanged: int
    removed: int
    skipped: int
    elapsed: float
    cancelled: bool
    summary: str
    text_read: int = Field(0, description="photos read for text by the run")
    text_found: int = Field(0, description="of them, those with text")
    videos_indexed: int = Field(0, description="videos whose moments were read")
    videos_reused: int = Field(0, description="moved, renamed or copied videos that kept their moments")
    video_seconds: float = Field(0.0, description="seconds of video read")

    @classmethod
    def of(cls, report: IndexReport) -> ReportInfo:
        return cls(indexed=report.indexed, reused=report.reused, unchanged=report.unchanged, removed=report.removed,
                   skipped=len(report.skipped) + report.skipped_before, elapsed=report.elapsed,
                   cancelled=report.cancelled, summary=report.describe(), text_read=report.text_read,
                   text_found=report.text_found, videos_indexed=report.videos_indexed,
                   videos_reused=report.videos_reused, video_seconds=round(report.video_seconds, 3))


class JobInfo(BaseModel):
    running: bool
    cancelling: bool
    progress: Progress | None = Field(description="of the run going, or the last one")
    eta: float | None = Field(description="seconds the run going is expected to take still")
    report: ReportInfo | None = Field(description="of the last finished run")
    error: str | None = Field(description="why the last run failed")
    runs: int = Field(description="finished runs since the server started")
