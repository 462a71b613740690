"""Thumbnails, made once per image content and size and kept in the cache folder.

Keyed by the catalog's content hash, so a moved or renamed photo keeps its thumbnail and an
edited one gets a new one. Files are written whole (pixseek.atomic).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pixseek import atomic, paths
from pixseek.images import thumbnail_jpeg


class ThumbnailCache:
    def __init__(self, folder: Path | None = None):
        self.folder = Path(folder) if folder else paths.cache_dir() / "thumbnails"

    def get(self, image_path: str, read: Callable[[], bytes], content_hash: bytes, size: int) -> bytes:
        """The thumbnail of `image_path`, from the cache or made from `read()` (its checked bytes)."""
        key = self.folder / content_hash.hex()[:2] / f"{content_hash.hex()}-{size}.jpg"
        try:
            return key.read_bytes()
        except OSError:
            pass
        data = thumbnail_jpeg(read(), size, image_path)
        try:
            atomic.write_bytes(key, data)
        except OSError:
            pass  # a read-only or full cache still serves the thumbnail it just made
        return data
