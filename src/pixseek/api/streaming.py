"""What the routes that send files share: how long a client may keep what they send, and the
file read in chunks (a photo whole, or a byte range of a video) so memory does not grow with it."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import BinaryIO

CACHE = {"Cache-Control": "private, max-age=3600"}
CHUNK = 1 << 16


def chunks(opened: BinaryIO, start: int = 0, stop: int | None = None) -> Iterator[bytes]:
    """Bytes `start` to `stop` (None: the end) of `opened`, which is closed afterwards."""
    with opened:
        opened.seek(start)
        left = math.inf if stop is None else stop - start
        while left > 0 and (chunk := opened.read(int(min(CHUNK, left)))):
            left -= len(chunk)
            yield chunk
