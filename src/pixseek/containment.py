"""Whether a path lies inside a set of folders, decided on where it leads, not on how it is
written: the one check every face's paths pass (folders to index or search in, files to serve).

A folder written inside an allowed one can be a link out of it (`/allowed/x -> /outside`), so
paths and folders are both resolved (os.path.realpath) before they are compared. Serving a file
opens it first and then checks what was opened, so a link swapped in after the check is caught.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from typing import BinaryIO

from pixseek.errors import ImageError, OutsideFolders, PixseekError

MAX_PATH_BYTES = 4096  # PATH_MAX on Linux: longer paths cannot name anything


def absolute(path: str | os.PathLike[str], what: str = "folder") -> str:
    """`path` as an absolute path (~ expanded), refused in one line when it names nothing: empty
    (which os.path would take for the current folder), with a NUL, or too long to exist."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    if not text.strip():
        raise PixseekError(f"an empty {what} path names nothing: give the {what}'s path")
    if "\x00" in text:
        raise PixseekError(f"a {what} path cannot contain a NUL character")
    if len(os.fsencode(text)) > MAX_PATH_BYTES:
        raise PixseekError(f"the {what} path is too long ({len(os.fsencode(text))} bytes)")
    return os.path.abspath(os.path.expanduser(text))


def resolved(path: str | os.PathLike[str]) -> str:
    """Where `path` leads: absolute, every link followed."""
    return os.path.realpath(absolute(path, "file"))


def is_inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or below it, both already resolved (plain string comparison)."""
    return path == folder or path.startswith(os.path.join(folder, ""))


def indexed_form(path: str | os.PathLike[str], folders: Iterable[str]) -> str | None:
    """`path` as the index names it if it leads inside one of `folders` (both resolved), else
    None. Written inside one of them, it is kept as written (files found through a link inside
    a folder are stored under the link's name); written elsewhere (a link to a folder of the
    index), it is named from the folder whose resolved place holds it."""
    folders = list(folders)
    written, real = absolute(path), resolved(path)
    holders = [folder for folder in folders if is_inside(real, os.path.realpath(folder))]
    if not holders:
        return None
    if any(is_inside(written, folder) for folder in folders):
        return written
    rest = os.path.relpath(real, os.path.realpath(holders[0]))
    return holders[0] if rest == "." else os.path.join(holders[0], rest)


def contains(folders: Iterable[str], path: str | os.PathLike[str]) -> bool:
    """Whether `path` leads to a place inside one of `folders` (each resolved too)."""
    return indexed_form(path, folders) is not None


def open_inside(path: str, folders: Iterable[str]) -> BinaryIO:
    """The regular file `path` leads to, opened for reading, if it lies inside `folders`; else
    OutsideFolders. What was opened is checked after opening (its real path and identity), so
    a link swapped between the check and the open cannot lead the read outside."""
    folders = list(folders)
    real = resolved(path)
    if not contains(folders, real):
        raise OutsideFolders(f"{path} leads outside the indexed folders")
    try:
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ImageError("unreadable", exc.strerror or str(exc)) from None
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):  # a FIFO would block a read, a device never end
            raise ImageError("not a regular file", "a folder, device, pipe or socket")
        where = _opened_path(fd, real)
        try:
            now = os.stat(where, follow_symlinks=False)
        except OSError:
            now = None
        if now is None or (now.st_dev, now.st_ino) != (opened.st_dev, opened.st_ino) or not contains(folders, where):
            raise OutsideFolders(f"{path} leads outside the indexed folders")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _opened_path(fd: int, real: str) -> str:
    """The real path of an open file as the kernel knows it (Linux's /proc); elsewhere, where its
    name leads now (the identity check then catches a swap)."""
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return os.path.realpath(real)
