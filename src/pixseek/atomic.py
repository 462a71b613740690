"""Replacing a file whole: written beside it under a temporary name, then renamed over it.

A reader (or a crash) sees the old file or the new one, never half of one; on any failure,
the temporary file is removed and the old file stays as it was.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def replacing(target: Path, prefix: str | None = None, sync: bool = False) -> Iterator[BinaryIO]:
    """A binary file to write that replaces `target` when the block ends without an error.

    `prefix` names the temporary file (default `.<target name>.`), so that a writer can find
    what a killed one left; `sync` flushes it to the disk before the rename."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            if sync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_bytes(target: Path, data: bytes, sync: bool = False) -> None:
    """Replace `target` with `data` (its folder is made if missing)."""
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    with replacing(target, sync=sync) as handle:
        handle.write(data)
