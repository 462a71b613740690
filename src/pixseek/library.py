"""The Library: the one facade over the engine that every face calls (the CLI, the web and
desktop apps, the HTTP API, the MCP server, watch mode) and the public Python API
(`from pixseek import Library`).

Plain data in and out (`pixseek.engine.results`), a progress callback and a cancel event for
long work. Each method hands its work to the engine part that owns it (see
`pixseek.engine`): opening, writes, folders, searching, duplicates, photos, status. Every
public call fails with a one-line PixseekError, never a storage traceback. Opening to write
(`create`) and indexing repair what they find damaged; what was repaired is in `notes`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np

from pixseek import containment
from pixseek.engine import (duplicates, face_pass, folders, people, photos, searching, status, text_pass,
                            video_duplicates, videos, writes)
from pixseek.engine.folders import Folders
from pixseek.engine.index import OpenIndex
from pixseek.engine.opening import OtherModel, close_index, index_exists, open_index
from pixseek.engine.query import DEFAULT_K, Query
from pixseek.engine.results import (DEFAULT_THRESHOLD, ChangeSummary, DuplicateGroup, FolderInfo, IndexedFile,
                                    IndexedVideo, IndexReport, IngestReport, ProgressCallback, SearchResult, Status)
from pixseek.engine.storage import storage_errors
from pixseek.filters import SearchFilters
from pixseek.model import Encoder, find_bundle
from pixseek.model.ocr import TextLine
from pixseek.people.store import FaceInfo, Person
from pixseek.signals import Words
from pixseek.thumbnails import ThumbnailCache

__all__ = ["Library", "OtherModel", "index_exists"]


@storage_errors(lambda library: library._index.catalog.path)
class Library:
    def __init__(self, index: OpenIndex):
        self._index = index

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(cls, index_dir: Path | str | None = None, model: str | None = None, create: bool = False,
             precision: str | None = None, device: str | None = None, other_model: OtherModel = "refuse") -> Library:
        """Open an index (default: the user's); with `create`, make it (with `model`, default the
        default model) if absent, and repair it if its catalog is damaged. An index made with
        another model than `model` is refused (IndexIncompatible names `model`), or with
        other_model="use its own" searched with its own model (`rebuild_for` then names `model`)."""
        return cls(open_index(index_dir, model, create, precision, device, other_model))

    def close(self) -> None:
        """Let go of the index; one this Library made and nothing was added to is removed."""
        close_index(self._index)

    def __enter__(self) -> Library:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def is_current(self) -> bool:
        """Whether the index's catalog is still the file this Library reads: another process may
        have rebuilt a damaged one, or removed an index it made and never filled. A long-lived
        face (the web app) then opens a new Library."""
        return self._index.is_current()

    @property
    def index_dir(self) -> Path:
        return self._index.index_dir

    @property
    def notes(self) -> list[str]:
        """What opening or indexing had to repair."""
        return self._index.notes

    @property
    def thumbnails(self) -> ThumbnailCache:
        return self._index.thumbnails

    @property
    def encoder(self) -> Encoder:
        """The model this index was built with (loaded on first use)."""
        return self._index.encoder

    @property
    def model_id(self) -> str:
        """The model this index was built with."""
        return self._index.catalog.model_id

    @property
    def model_warning(self) -> str | None:
        """What every face must say about this index's model, if anything (a random stand-in)."""
        return status.model_warning(self._index)

    @property
    def rebuild_for(self) -> str | None:
        """The model asked for when the index was made with another (opened with other_model="use
        its own"): what a face offers to rebuild it for. None when they agree."""
        wanted = self._index.wanted_model
        return wanted if wanted and find_bundle(wanted).model_id != self.model_id else None

    # -- writing ----------------------------------------------------------------------------

    def index(self, folders: Folders = None, progress: ProgressCallback | None = None,
              cancel: threading.Event | None = None, include_hidden: bool | None = None,
              read_text: bool | None = None, find_faces: bool | None = None) -> IndexReport:
        """Bring the index up to date with `folders` (default: every folder already indexed),
        then read the words in the photos that lack them (see docs/text-in-photos.md), then find
        their faces and group them into people (docs/people.md).

        `include_hidden` sets the index's policy for hidden files and folders (names starting
        with "."), `read_text` whether it reads text in photos; both are kept for later runs,
        None keeps what the index has (default: hidden files left out, text read). `find_faces`
        likewise (default: on where a face model is installed)."""
        if read_text is not None:
            text_pass.choose(self._index, read_text)
        if find_faces is not None:
            face_pass.choose(self._index, find_faces)
        return writes.index_folders(self._index, folders, progress, cancel, include_hidden)

    def update(self, changed: Iterable[str | os.PathLike[str]] | str | os.PathLike[str],
               progress: ProgressCallback | None = None, cancel: threading.Event | None = None) -> IndexReport:
        """Bring the index up to date for files and folders that changed inside the indexed
        folders (what a file watcher saw), looking only where they are: a changed file's folder
        (not below it), a new folder (all of it), a folder that is gone (its files leave).
        Paths outside the indexed folders, or under hidden names, are ignored."""
        return writes.update(self._index, changed, progress, cancel)

    def index_on_cluster(self, folders: Folders = None, cluster: str = "local", shards: Path | str | None = None,
                         progress: ProgressCallback | None = None, cancel: threading.Event | None = None,
                         dashboard: bool = False, include_hidden: bool | None = None) -> IndexReport:
        """Like `index`, with the decoding and embedding done on the Ray cluster at `cluster`
        ("local", "auto", "ray://HEAD:PORT", "HEAD:PORT"). Results come back as Parquet shards,
        ingested as they arrive; `shards` keeps them in that folder (else they are deleted once
        ingested). `dashboard` starts Ray's dashboard (on 127.0.0.1) for a "local" cluster."""
        return writes.index_on_cluster(self._index, folders, cluster, shards, progress, cancel, dashboard,
                                       include_hidden)

    def ingest(self, folder: Path | str) -> IngestReport:
        """Merge the Parquet shards in `folder` (from `index_on_cluster`) into the index, upserting
        by content hash; shards from another model or preprocessing, or damaged, are refused."""
        return writes.ingest(self._index, folder)

    def reindex(self, model: str, folders: Folders = None, progress: ProgressCallback | None = None,
                cancel: threading.Event | None = None) -> IndexReport:
        """Rebuild this index for `model` (every photo embedded again) beside the old one, which
        keeps answering searches until the new one is complete and takes its place. Cancelled, the
        rebuild keeps what it has done and the next call resumes it."""
        return writes.rebuild(self._index, model, folders, progress, cancel)

    def remove(self, folder: str | os.PathLike[str]) -> int:
        """Drop an indexed folder, or a folder inside one, from the index; returns files removed.
        A folder that only holds indexed ones is refused (HoldsIndexedFolders names them)."""
        return writes.remove(self._index, folder)

    def set_vector_index(self, kind: str) -> None:
        """Force a vector index kind ("flat", "ivf", "ivf4"), or "auto" to choose by size; applied now."""
        writes.set_vector_index(self._index, kind)

    def changes(self, folders: Folders = None) -> ChangeSummary:
        """What `index` would do now, without doing it."""
        return writes.changes(self._index, folders)

    # -- searching --------------------------------------------------------------------------

    def search(self, query: Query | str, k: int = DEFAULT_K, min_score: float | None = None,
               filters: SearchFilters | None = None, sort: str = "score") -> list[SearchResult]:
        """The `k` best matches among the photos that pass `filters`, best first, or in the order
        they were taken with sort="date". Each result carries the photo's metadata and place."""
        return searching.search(self._index, query, k, min_score, filters, sort)

    def query_vector(self, query: Query) -> np.ndarray:
        """The unit vector `query` searches with."""
        return searching.query_vector(self._index, query)

    def duplicates(self, threshold: float | None = None, folder: str | None = None) -> list[DuplicateGroup]:
        """Groups of exact copies and near-duplicates (see engine/duplicates.py), each best copy
        first, largest groups first; `threshold` is the CLIP cosine a near-duplicate needs. Then
        groups of videos (a video and its copies, trimmed or re-encoded: engine/video_duplicates.py)."""
        found = duplicates.find(self._index, threshold, folder)
        return found + video_duplicates.find(self._index, threshold or DEFAULT_THRESHOLD, folder)

    # -- folders and photos -----------------------------------------------------------------

    def folders(self) -> list[str]:
        """The folders this index covers (each searched recursively)."""
        return self._index.catalog.roots()

    def folder_details(self) -> list[FolderInfo]:
        """The indexed folders, with their photo counts and whether each is there now."""
        return folders.details(self._index)

    def inside(self, path: str) -> str | None:
        """`path` as the index names it if it leads (links followed) inside an indexed folder, else
        None: the check a path from a client passes before anything under it is read."""
        return containment.indexed_form(path, self._index.catalog.roots())

    def count(self, folder: str | os.PathLike[str] | None = None) -> int:
        """Photos in the index, or only those under `folder`."""
        return folders.count(self._index, folder)

    def skipped(self) -> list[tuple[str, str]]:
        """(path, reason) of every file that could not be indexed."""
        return self._index.catalog.skipped()

    def photo_path(self, photo_id: int) -> str | None:
        """The path of the indexed photo with this id (SearchResult.id), None if it has left the
        index: a face can name a photo by its id, in a URL say, without a path."""
        return photos.path_of(self._index, photo_id)

    def file(self, id_: int) -> IndexedFile | None:
        """The indexed photo with this id (ids are in search results), or None."""
        return photos.details(self._index, id_)

    def text(self, photo_id: int) -> list[TextLine]:
        """The lines of text read in the indexed photo with this id, top to bottom ([] when it has
        none or is not read yet; `file` says whether it is in the index)."""
        found = self._index.catalog.values(Words.name, [photo_id]).get(photo_id)
        return list(found.lines) if found is not None else []

    # -- people (docs/people.md) -----------------------------------------------------------

    def people(self, named_only: bool = False) -> list[Person]:
        """The people the faces are grouped into, those in the most photos first."""
        return people.everyone(self._index, named_only)

    def person(self, person: str | int) -> Person:
        """A person by name (any case) or number; PersonNotFound (a QueryError) if none."""
        return people.person(self._index, person)

    def person_faces(self, person: str | int, limit: int = 1000) -> list[FaceInfo]:
        """A person's faces, the best first."""
        return people.faces_of(self._index, person, limit)

    def faces(self, photo_id: int) -> list[FaceInfo]:
        """The faces found in the indexed photo with this id, the largest first ("not a face" ones marked)."""
        return people.faces_in(self._index, photo_id)

    def face(self, face_id: int) -> FaceInfo:
        """One face by its id (PersonNotFound, a QueryError, if there is none)."""
        return people.face(self._index, face_id)

    def face_thumbnail(self, face_id: int, size: int = 160) -> bytes:
        """A JPEG of one face (its box and a margin) fitting `size` x `size`."""
        return people.face_thumbnail(self._index, face_id, size)

    def name_person(self, person: str | int, name: str) -> Person:
        """Call a person `name` (kept through later runs, a reindex and another face model)."""
        return people.name(self._index, person, name)

    def merge_people(self, into: str | int, other: str | int) -> Person:
        """Move every face of `other` to `into` (which keeps its name, else takes `other`'s)."""
        return people.merge(self._index, into, other)

    def split_face(self, face: int, to: str | int | None = None) -> Person:
        """Take a face out of its person, into person `to` or a new one; that person."""
        return people.split(self._index, face, to)

    def not_a_face(self, face: int) -> None:
        """Mark a face as no face: it leaves its person and every list, for good."""
        people.not_a_face(self._index, face)

    def forget_faces(self) -> int:
        """Remove every face, embedding, person, name and correction, and stop finding faces in
        this index (`index(find_faces=True)` starts again); the number of faces removed."""
        return people.forget(self._index)

    def contains(self, path: str) -> bool:
        """True only for a file that is in the index (what a face may serve), named exactly as indexed."""
        return photos.is_indexed(self._index, path)

    def vector(self, path: str) -> np.ndarray | None:
        """The stored vector of a file, named exactly as indexed (None if it is not in the index)."""
        return photos.vector(self._index, path)

    def thumbnail(self, path: str, size: int = 256) -> bytes:
        """A JPEG thumbnail of an indexed photo (made once per content and size)."""
        return photos.thumbnail(self._index, path, size)

    def open_original(self, path: str) -> BinaryIO:
        """A file in the index, named exactly as indexed, opened for reading (what a face may
        offer for download): PhotoNotIndexed for any other path, OutsideFolders when it now
        leads out of the indexed folders (a link swapped in since), ImageError when unreadable."""
        return photos.open_original(self._index, path)

    def original(self, path: str) -> bytes:
        """The bytes of a file in the index, as open_original checks it."""
        return photos.original(self._index, path)

    # -- videos (docs/videos.md) ---------------------------------------------------------------

    def video(self, video_id: int) -> IndexedVideo | None:
        """The indexed video with this id (a video result's id), or None. Video ids never name a photo."""
        return videos.details(self._index, video_id)

    def video_id(self, path: str | os.PathLike[str]) -> int | None:
        """The id of the indexed video at `path` (for "more like this" from one of its moments), or None."""
        return videos.id_of(self._index, os.path.abspath(os.fspath(path)))

    def video_thumbnail(self, video_id: int, seconds: float, size: int = 256) -> bytes:
        """A JPEG of the video's frame at `seconds` (a result's moment), made once per content, time and size."""
        return videos.thumbnail(self._index, video_id, seconds, size)

    def open_video(self, video_id: int) -> BinaryIO:
        """The indexed video's file opened for reading (to serve it, in byte ranges): PhotoNotIndexed
        for an id no video has, OutsideFolders when it now leads out of the indexed folders."""
        return videos.open_file(self._index, video_id)

    def status(self, check: bool = True) -> Status:
        """The index at a glance; `check=False` skips the integrity check, whose time grows with
        the catalog (for a status redrawn while indexing)."""
        return status.status(self._index, check)
