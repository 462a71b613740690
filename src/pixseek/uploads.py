"""Uploaded example photos: refused when too large or not an image, else handed to the Library
as a temporary file (a query image is a path) that is deleted after the search."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from typing import Iterator

from pixseek.errors import ImageError, UnusableUpload, UploadTooLarge
from pixseek.images import decode

MAX_UPLOAD_MB = 50


def checked(name: str, data: bytes) -> bytes:
    """`data` if it is an image we can use, else a QueryError (UploadTooLarge, UnusableUpload) that says why."""
    if len(data) > MAX_UPLOAD_MB * 2**20:
        raise UploadTooLarge(f"{name} is too large ({len(data) / 2**20:.0f} MB); upload a photo of at most "
                         f"{MAX_UPLOAD_MB} MB")
    try:
        decode(data, name=name)
    except ImageError as error:
        raise UnusableUpload(f"cannot search by {name}: {error}") from None
    return data


@contextmanager
def as_file(name: str, data: bytes) -> Iterator[str]:
    """A checked upload as a temporary file (named like the upload, for its format), then gone."""
    data = checked(name, data)
    fd, path = tempfile.mkstemp(prefix="pixseek-query-", suffix=os.path.splitext(name)[1][:10])
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        yield path
    finally:
        os.unlink(path)
