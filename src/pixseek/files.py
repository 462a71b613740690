"""Find the images under a set of folders, surviving whatever a real disk holds.

Walks recursively, follows folder symlinks but never the same folder twice (no loops), skips
hidden files and folders (.thumbnails, AppleDouble `._x.jpg`), and reports unreadable folders
and broken links instead of failing. Extensions are matched case-insensitively.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

BASE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".avif"})


def image_extensions() -> frozenset[str]:
    """The extensions we index; HEIC/HEIF/AVIF only when pillow-heif can decode them. RAW files
    always: without rawpy they are listed as skipped with the fix, so nobody wonders where they went."""
    from pixseek.images import heif_supported
    from pixseek.raw import RAW_EXTENSIONS

    return BASE_EXTENSIONS | RAW_EXTENSIONS | (HEIF_EXTENSIONS if heif_supported() else frozenset())


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    mtime_ns: int


ScanErrorHandler = Callable[[str, str], None]


def is_image_name(name: str, extensions: frozenset[str]) -> bool:
    return os.path.splitext(name)[1].lower() in extensions


def scan(roots: Iterable[str], on_error: ScanErrorHandler | None = None, recursive: bool = True) -> Iterator[FileEntry]:
    """Yield every image file under `roots` (absolute paths, each file once); with `recursive`
    False, only the files directly in them."""
    extensions = image_extensions()
    report = on_error or (lambda path, reason: None)
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    stack = [os.path.abspath(root) for root in roots]
    while stack:
        folder = stack.pop()
        try:
            info = os.stat(folder)
        except OSError as exc:
            report(folder, f"unreadable folder ({exc.strerror})")
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        try:
            with os.scandir(folder) as entries:
                children = list(entries)
        except OSError as exc:
            report(folder, f"unreadable folder ({exc.strerror})")
            continue
        subfolders = []
        for entry in children:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=True):
                    subfolders.append(entry.path)
                    continue
                if not is_image_name(entry.name, extensions) or entry.path in seen_files:
                    continue
                stat = entry.stat(follow_symlinks=True)
            except OSError as exc:
                reason = "broken link" if entry.is_symlink() else f"unreadable ({exc.strerror})"
                report(entry.path, reason)
                continue
            if not os.path.isfile(entry.path):
                continue
            seen_files.add(entry.path)
            yield FileEntry(entry.path, stat.st_size, stat.st_mtime_ns)
        if recursive:
            stack.extend(sorted(subfolders, reverse=True))
