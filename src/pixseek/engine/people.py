"""People for the Library: reading them on the index's connection, and every correction made
as a write (engine/writes.py: under the writer lock, on a connection of its own; no vector file
to save). A person is named by a face the way a person would: by name, or by number."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import io

from pixseek.engine import photos, videos
from pixseek.engine.index import OpenIndex
from pixseek.engine.writes import write
from pixseek.people.store import FaceInfo, People, Person, PersonNotFound

Done = TypeVar("Done")
FACE_MARGIN = 0.25  # of the face's larger side, around its box in a face thumbnail


def _reading(index: OpenIndex) -> People:
    return People(index.catalog.connection)


def _face_id(face_id: int) -> int:
    """A face id a client gave, as a row id; one no row can have (huge, negative) names no face."""
    if not photos.valid_id(face_id):
        raise PersonNotFound(f"no face {face_id} in this index")
    return int(face_id)


def _change(index: OpenIndex, change: Callable[[People], Done]) -> Done:
    return write(index, lambda writer: change(People(writer.connection)), saves=lambda done: False)


def everyone(index: OpenIndex, named_only: bool = False) -> list[Person]:
    return _reading(index).all(named_only)


def person(index: OpenIndex, key: str | int) -> Person:
    people = _reading(index)
    return people.person(people.find(key))


def faces_of(index: OpenIndex, key: str | int, limit: int) -> list[FaceInfo]:
    people = _reading(index)
    return people.faces(person=people.find(key), limit=limit)


def faces_in(index: OpenIndex, photo_id: int) -> list[FaceInfo]:
    return _reading(index).faces(photo=int(photo_id)) if photos.valid_id(photo_id) else []


def face(index: OpenIndex, face_id: int) -> FaceInfo:
    return _reading(index).face(_face_id(face_id))


def face_thumbnail(index: OpenIndex, face_id: int, size: int) -> bytes:
    """A JPEG of the face, a little margin around its box, fitting `size` x `size` (read inside
    the indexed folders, as every photo a face serves; a video's face from its moment's frame)."""
    # why: the decoders load only where a face's picture is made
    from pixseek.images import decode

    found = face(index, face_id)
    if found.seconds is not None:  # a face in a video: the moment's frame (its box is in the video's pixels)
        image = videos.picture(index, found.photo_id, found.seconds)
    else:
        image = decode(photos.original(index, found.path), name=found.path)
    x1, y1, x2, y2 = found.box
    margin = FACE_MARGIN * max(x2 - x1, y2 - y1)
    crop = image.crop((max(0, int(x1 - margin)), max(0, int(y1 - margin)),
                       min(image.width, int(x2 + margin)), min(image.height, int(y2 + margin))))
    crop.thumbnail((size, size))
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=85)
    return out.getvalue()


def name(index: OpenIndex, key: str | int, new_name: str) -> Person:
    found = _reading(index).find(key)
    _change(index, lambda people: people.name(found, new_name))
    return person(index, found)


def merge(index: OpenIndex, into: str | int, other: str | int) -> Person:
    people = _reading(index)
    kept, gone = people.find(into), people.find(other)
    _change(index, lambda writer: writer.merge(kept, gone))
    return person(index, kept)


def split(index: OpenIndex, face: int, to: str | int | None) -> Person:
    target = _reading(index).find(to) if to is not None else None
    face = _face_id(face)
    return person(index, _change(index, lambda people: people.split(face, target)))


def not_a_face(index: OpenIndex, face: int) -> None:
    face = _face_id(face)
    _change(index, lambda people: people.not_a_face(face))


def forget(index: OpenIndex) -> int:
    return _change(index, lambda people: people.forget())
