"""Files replaced whole or not at all, so that a reader (or a crash) never sees half a file."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced_whole(target: Path, prefix: str):
    """A binary file whose contents become `target` when the block ends without error: written
    to `<prefix>*.tmp` beside it, fsynced, then renamed over it (the temp file is removed on error)."""
    target = Path(target)
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
