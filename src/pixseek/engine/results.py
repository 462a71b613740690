"""Plain data that the engine hands to the faces: progress, reports, results, status, and the
one wording of the conditions they show (a missing folder)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pixseek.metadata import PhotoMetadata, describe_time
from pixseek.places import Place

if TYPE_CHECKING:  # results only hold the reader's lines; the faces need not load it
    from pixseek.model.ocr import TextLine


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    indexed: int
    reused: int
    skipped: int
    elapsed: float
    rate: float  # files saved per second, as of the last saved batch (0 before the first)
    current: str = ""
    nodes: int = 0  # cluster nodes alive (0: not a cluster run)
    stage: str = ""  # what the run is doing, when not indexing ("reading text": the text pass)

    @property
    def eta(self) -> float | None:
        if self.rate <= 0 or self.done == 0:
            return None
        return (self.total - self.done) / self.rate

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0


ProgressCallback = Callable[[Progress], None]  # called after each saved batch of a long run


@dataclass(frozen=True)
class ChangeSummary:
    """What an index run would do: files new, changed and gone since the last run."""

    new: int
    changed: int
    deleted: int
    unchanged: int
    undescribed: int = 0  # unchanged photos whose metadata has not been read yet (an older index)

    @property
    def has_changes(self) -> bool:
        return bool(self.new or self.changed or self.deleted or self.undescribed)

    def describe(self) -> str:
        text = f"{self.new} new, {self.changed} changed, {self.deleted} deleted"
        return text + (f", {self.undescribed} without dates and places yet" if self.undescribed else "")


@dataclass
class IndexReport:
    indexed: int = 0
    reused: int = 0  # moved, renamed, duplicate or touched files that kept a stored vector
    unchanged: int = 0
    removed: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    skipped_before: int = 0  # files skipped in an earlier run and still unchanged
    described: int = 0  # unchanged photos whose metadata was read for the first time
    hidden: int = 0  # hidden image files and folders left out (the index's hidden-files policy)
    not_followed: int = 0  # links out of the indexed folders, system pseudo-filesystems
    text_read: int = 0  # photos read for text by the text pass
    text_found: int = 0  # of them, those with any text
    text_note: str | None = None  # why no text was read (the OCR package is missing)
    videos_indexed: int = 0  # videos whose moments were read (engine/video_pass.py)
    videos_reused: int = 0  # moved, renamed or copied videos that kept stored moments
    video_seconds: float = 0.0  # seconds of video read
    faces_read: int = 0  # photos looked at for faces by the face pass
    faces_found: int = 0  # faces found in them
    video_faces_found: int = 0  # faces found in video moments (by the video pass: engine/video_faces.py)
    faces_grouped: int = 0  # faces grouped into people (or left out of them)
    faces_note: str | None = None  # why no faces were found (the face model cannot be loaded)
    elapsed: float = 0.0
    cancelled: bool = False

    @property
    def rate(self) -> float:
        return self.indexed / self.elapsed if self.elapsed > 0 else 0.0

    def describe(self) -> str:
        parts = [f"{self.indexed} indexed", f"{self.reused} reused", f"{self.unchanged} unchanged",
                 f"{self.removed} removed", f"{len(self.skipped) + self.skipped_before} skipped"]
        if self.described:
            parts.append(f"{self.described} given dates and places")
        if self.hidden:
            parts.append(f"{self.hidden} hidden left out")
        if self.not_followed:
            parts.append(f"{self.not_followed} links out of the folders not followed")
        if self.text_read:
            parts.append(f"{self.text_read} read for text ({self.text_found} with text)")
        if self.videos_indexed or self.videos_reused:
            parts.append(f"{self.videos_indexed} videos indexed ({self.video_seconds:.0f} s), {self.videos_reused} reused")
        if self.faces_read:
            parts.append(f"{self.faces_read} looked at for faces ({self.faces_found} found)")
        if self.video_faces_found:
            parts.append(f"{self.video_faces_found} faces found in videos")
        done = ("cancelled: " if self.cancelled else "") + ", ".join(parts) + f" in {self.elapsed:.1f} s"
        notes = [note for note in (self.text_note, self.faces_note) if note]
        return done + "".join(f"; {note}" for note in notes)


@dataclass
class IngestReport:
    """What merging cluster shards into the catalog did; `refused` names shards left out and why."""

    shards: int = 0
    added: int = 0  # photos added or updated with a vector from a shard
    reused: int = 0  # photos whose content already had a stored vector
    unchanged: int = 0  # rows already in the catalog exactly so (a shard ingested before)
    unresolved: int = 0  # rows that named stored content the catalog no longer has: index again
    skipped: list[tuple[str, str]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{self.shards} shards", f"{self.added} added", f"{self.reused} reused", f"{self.unchanged} unchanged",
                 f"{len(self.skipped)} skipped"]
        if self.unresolved:
            parts.append(f"{self.unresolved} left for the next index run")
        if self.refused:
            parts.append(f"{len(self.refused)} shards refused")
        return ", ".join(parts)


@dataclass(frozen=True)
class SearchResult:
    path: str
    score: float
    id: int
    metadata: PhotoMetadata | None = None  # None until an index run has read the photo's metadata
    place: Place | None = None  # where it was taken, when it has a GPS position near a known place
    text: tuple[TextLine, ...] = ()  # the lines of its text in which the searched words were found
    people: tuple[str, ...] = ()  # the named people whose faces are in it (docs/people.md)
    seconds: float | None = None  # a video: the time of its best moment (None: a photo)
    moments: tuple[tuple[float, float], ...] = ()  # a video: its other matching moments, (seconds, score) by time

    @property
    def is_video(self) -> bool:
        return self.seconds is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: path, score, and the metadata known (for --json and the HTTP API)."""
        found: dict[str, Any] = {"path": self.path, "score": round(self.score, 6)}
        m = self.metadata
        if m is not None:
            sign = "+" if m.utc_offset_min >= 0 else "-"
            offset = f"{sign}{abs(m.utc_offset_min) // 60:02d}:{abs(m.utc_offset_min) % 60:02d}"
            found.update(taken=m.local_time.isoformat() + offset, time_source=m.time_source, camera=m.camera,
                         lens=m.lens, width=m.width, height=m.height, latitude=m.latitude, longitude=m.longitude)
        if self.place is not None:
            found["place"] = {"city": self.place.city, "region": self.place.region, "country": self.place.country,
                              "country_code": self.place.country_code, "name": self.place.describe()}
        if self.people:
            found["people"] = list(self.people)
        if self.text:
            found["text"] = [line_dict(line) for line in self.text]
        if self.seconds is not None:
            found.update(type="video", seconds=round(self.seconds, 3),
                         moments=[{"seconds": round(s, 3), "score": round(c, 6)} for s, c in self.moments])
        return found


def line_dict(line: TextLine) -> dict[str, Any]:
    """One line of text read in a photo as plain JSON-ready data."""
    return {"text": line.text, "box": [list(point) for point in line.box], "confidence": round(line.confidence, 4)}


@dataclass(frozen=True)
class FolderInfo:
    """An indexed folder: its photos in the index, and whether it is there now (an unmounted
    drive is not; its photos stay in the index)."""

    path: str
    images: int
    present: bool

    @property
    def missing_note(self) -> str | None:
        """What every face says of this folder when it is not there now (None when it is)."""
        return None if self.present else missing_folder(self.path, self.images)


def missing_folder(folder: str, images: int) -> str:
    """The one wording of an indexed folder that is not there now."""
    return (f"the indexed folder {folder} is missing (an unmounted drive?): its {images} photos are kept in the "
            "index but left out of searches until it is back; or remove it from the index")


@dataclass(frozen=True)
class IndexedFile:
    """One photo in the index, as the faces may show it."""

    id: int
    path: str
    size: int  # bytes
    modified: float  # the file's mtime when it was indexed, seconds since the epoch
    width: int
    height: int
    indexed_at: float


@dataclass(frozen=True)
class IndexedVideo:
    """One video in the index, as the faces may show it."""

    id: int
    path: str
    size: int  # bytes
    modified: float  # the file's mtime when it was indexed, seconds since the epoch
    duration: float  # seconds
    width: int  # upright, as its moments are
    height: int
    moments: int  # moments stored
    complete: bool  # False while the video pass has read only part of it

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "path": self.path, "size": self.size, "modified": self.modified,
                "duration": round(self.duration, 3), "width": self.width, "height": self.height,
                "moments": self.moments, "complete": self.complete}


@dataclass(frozen=True)
class Status:
    index_dir: str
    model_id: str
    images: int
    folders: list[str]
    missing_folders: list[str]  # indexed folders not there now: their photos are kept, not searched
    include_hidden: bool  # hidden files and folders are indexed
    skipped: int
    last_update: float | None
    vector_index: str
    runs_on: str  # the device and precisions the model runs with (or why it cannot)
    consistent: bool
    problems: list[str]
    notes: list[str]
    reads_text: bool = True  # the text pass reads the words in photos (`pixseek index --no-text` turns it off)
    text_read: int = 0  # photos read for text by the current reader
    text_found: int = 0  # of them, those with any text
    videos: int = 0  # videos indexed (docs/videos.md)
    video_moments: int = 0  # their moments
    video_seconds: float = 0.0  # their length, together
    finds_faces: bool = False  # the face pass finds faces (`pixseek index --faces`; on where a face model is installed)
    faces: int = 0  # faces found (those marked "not a face" left out)
    photos_with_faces: int = 0
    videos_with_faces: int = 0
    people: int = 0  # people the faces are grouped into (named or not)


DEFAULT_THRESHOLD = 0.90  # the CLIP cosine a near-duplicate needs, unless a face asks for another


@dataclass(frozen=True)
class DuplicatePhoto:
    id: int
    path: str
    size: int  # bytes
    width: int
    height: int
    metadata: PhotoMetadata | None
    same_as_best: bool  # the very same bytes as the group's first photo
    similarity: float  # CLIP cosine with the group's first photo (1.0 for it and its exact copies)

    def describe(self) -> str:
        when = describe_time(self.metadata.local_time, self.metadata.time_source, self.metadata.utc_offset_min) \
            if self.metadata else "date unknown"
        how = "exact copy" if self.same_as_best else f"similarity {self.similarity:.3f}"
        return f"{self.path}  ({self.width}x{self.height}, {self.size:,} bytes, {when}, {how})"

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "bytes": self.size, "width": self.width, "height": self.height,
                "taken": self.metadata.local_time.isoformat() if self.metadata else None,
                "exact_copy_of_first": self.same_as_best, "similarity": round(self.similarity, 6)}


@dataclass(frozen=True)
class DuplicateGroup:
    photos: list[DuplicatePhoto]  # best first

    @property
    def exact(self) -> bool:
        """Every photo has the same bytes."""
        return all(p.same_as_best for p in self.photos)

    def describe(self) -> str:
        kind = "exact copies" if self.exact else "near-duplicates"
        best = self.photos[0].path
        name = os.path.basename(best)
        shared = any(os.path.basename(p.path) == name for p in self.photos[1:])  # then the folder tells them apart
        return f"{len(self.photos)} {kind}; keep {name}{f' in {os.path.dirname(best)}' if shared else ''}?"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "exact" if self.exact else "near", "photos": [p.to_dict() for p in self.photos]}


def plural(count: int, word: str, many: str | None = None) -> str:
    """'1 group', '2 groups' (`many` for irregular plurals)."""
    return f"{count:,} {word if count == 1 else many or word + 's'}"


def human_size(size: int) -> str:
    """Bytes as a person reads them: 512 B, 20 KB, 3.4 MB, 1.2 GB (powers of 1024)."""
    value = float(size)
    for unit in ("B", "KB"):
        if value < 1024:
            return f"{value:.0f} {unit}"
        value /= 1024
    return f"{value:.1f} MB" if value < 1024 else f"{value / 1024:.1f} GB"
