"""Uploaded example photos: refused when too large or not an image, kept in memory under a
key made from their content (so that the page's address can name the photo, and a bookmark or
a reload searches by it again while the server runs), and handed to the Library as a
temporary file (a query image is a path) that is deleted after the search."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pixseek.engine.query import usable_photo
from pixseek.errors import UploadTooLarge

MAX_UPLOAD_MB = 50
KEPT_UPLOADS = 8  # the newest uploads kept, for every browser session of this server together


@dataclass(frozen=True)
class Upload:
    name: str
    data: bytes


class UploadStore:
    """Checked uploads by key, the newest KEPT_UPLOADS kept."""

    def __init__(self) -> None:
        self._uploads: OrderedDict[str, Upload] = OrderedDict()
        self._lock = threading.Lock()

    def keep(self, name: str, data: bytes) -> str:
        """Check an upload (QueryError if it cannot be used) and keep it; returns its key."""
        key = hashlib.blake2b(checked(name, data), digest_size=8).hexdigest()
        with self._lock:
            self._uploads[key] = Upload(name, data)
            self._uploads.move_to_end(key)
            while len(self._uploads) > KEPT_UPLOADS:
                self._uploads.popitem(last=False)
        return key

    def get(self, key: str) -> Upload | None:
        with self._lock:
            return self._uploads.get(key)


def checked(name: str, data: bytes) -> bytes:
    """`data` if it is an image we can use, else a QueryError (UploadTooLarge, UnusableUpload) that says why."""
    if len(data) > MAX_UPLOAD_MB * 2**20:
        raise UploadTooLarge(f"{name} is too large ({len(data) / 2**20:.0f} MB); upload a photo of at most "
                         f"{MAX_UPLOAD_MB} MB")
    return usable_photo(name, data)


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
