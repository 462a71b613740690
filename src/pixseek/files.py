"""Find the images under a set of folders, surviving whatever a real disk holds.

Walks recursively, never the same folder twice (no loops), and reports unreadable folders and
broken links instead of failing. Extensions are matched case-insensitively.

Where the walk goes is the user's folders and nothing else:
- A symbolic link (to a file or a folder) is followed only when it leads to a place inside the
  indexed folders; a link to `/` or to another disk is counted as not followed.
- System pseudo-filesystems (/proc, /sys, /dev...) are never entered, and refused as folders to
  index: their entries (`/proc/*/cwd`) point all over the machine.
- A pipe (FIFO), socket or device named like a photo is never opened (a pipe would block the
  run, a device never end): it is skipped as "not a regular file", with its kind.
- A folder named like a photo (`2019.jpg/`) is a folder: walked like any other.
- Hidden files and folders (a name starting with "."; .thumbnails, AppleDouble `._x.jpg`) are
  skipped and counted, unless `include_hidden`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from pixseek.containment import absolute
from pixseek.errors import FolderNotFound

BASE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"})
HEIF_EXTENSIONS = frozenset({".heic", ".heif", ".avif"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".3gp"})  # the video pass's (video/)
# Kernel and virtual filesystems: no photos live there, and walking them reaches everywhere.
PSEUDO_FILESYSTEMS = frozenset({
    "proc", "sysfs", "devtmpfs", "devpts", "cgroup", "cgroup2", "debugfs", "tracefs", "securityfs", "pstore",
    "bpf", "configfs", "fusectl", "mqueue", "hugetlbfs", "binfmt_misc", "autofs", "efivarfs", "selinuxfs",
    "rpc_pipefs", "nsfs", "nfsd"})


def image_extensions() -> frozenset[str]:
    """The extensions we index; HEIC/HEIF/AVIF only when pillow-heif can decode them. RAW files
    always: without rawpy they are listed as skipped with the fix, so nobody wonders where they went."""
    # why: images loads Pillow and NumPy, which the CLI's parser (it imports this module) must not
    from pixseek.images import heif_supported
    from pixseek.raw import RAW_EXTENSIONS

    return BASE_EXTENSIONS | RAW_EXTENSIONS | (HEIF_EXTENSIONS if heif_supported() else frozenset())


@dataclass(frozen=True)
class FileEntry:
    path: str
    size: int
    mtime_ns: int


@dataclass
class ScanTally:
    """What a scan passed over on purpose, for the run's summary."""

    hidden: int = 0  # hidden image files and hidden folders
    not_followed: int = 0  # links leading out of the indexed folders, pseudo-filesystems


ScanErrorHandler = Callable[[str, str], None]


def is_image_name(name: str, extensions: frozenset[str]) -> bool:
    return os.path.splitext(name)[1].lower() in extensions


def _mounts() -> list[tuple[str, str]]:
    """(mount point, filesystem type), longest mount point first."""
    import psutil

    try:
        partitions = psutil.disk_partitions(all=True)
    except OSError:
        return []
    return sorted(((p.mountpoint, p.fstype) for p in partitions), key=lambda m: len(m[0]), reverse=True)


def pseudo_filesystem(path: str, mounts: list[tuple[str, str]] | None = None) -> str | None:
    """The type of the pseudo-filesystem that `path` lies on, or None for an ordinary one."""
    real = os.path.realpath(path)
    for mountpoint, fstype in mounts if mounts is not None else _mounts():
        if real == mountpoint or real.startswith(os.path.join(mountpoint, "")):
            return fstype if fstype in PSEUDO_FILESYSTEMS else None
    return None


def check_folder(folder: str | os.PathLike[str]) -> str:
    """`folder` as an absolute path if it can be indexed; else FolderNotFound saying why."""
    path = absolute(folder)
    if not os.path.isdir(path):
        if os.path.lexists(path):
            raise FolderNotFound(f"{folder} is a file, not a folder: give the folder that holds it")
        raise FolderNotFound(f"folder not found: {folder}")
    try:
        with os.scandir(path):
            pass
    except OSError as error:
        raise FolderNotFound(f"cannot read the folder {folder}: {error.strerror}") from None
    kind = pseudo_filesystem(path)
    if kind:
        raise FolderNotFound(f"{folder} is a system folder ({kind} filesystem), not a folder of photos")
    return path


NOT_REGULAR = "not a regular file"


def special_kind(mode: int) -> str:
    """What a file that is neither a regular file nor a folder is, in a person's words."""
    if stat.S_ISFIFO(mode):
        return "a pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "neither a file nor a folder"


def _inside(path: str, roots: list[str]) -> bool:
    return any(path == root or path.startswith(os.path.join(root, "")) for root in roots)


def scan(roots: Iterable[str], on_error: ScanErrorHandler | None = None, recursive: bool = True,
         include_hidden: bool = False, tally: ScanTally | None = None,
         bounds: Iterable[str] | None = None, extensions: frozenset[str] | None = None) -> Iterator[FileEntry]:
    """Yield every image file (or file of `extensions`: the video pass's) under `roots` (absolute
    paths, each file once); with `recursive` False, only the files directly in them. Links are
    followed into `bounds` only (default: `roots`; the index's folders when `roots` are parts of them)."""
    extensions = image_extensions() if extensions is None else extensions
    report = on_error or (lambda path, reason: None)
    tally = tally if tally is not None else ScanTally()
    roots = [os.path.abspath(root) for root in roots]
    real_roots = [os.path.realpath(os.path.abspath(root)) for root in (roots if bounds is None else bounds)]
    mounts = _mounts()
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[str] = set()
    stack: list[tuple[str, int | None]] = [(root, None) for root in reversed(roots)]  # (folder, its parent's device)
    while stack:
        folder, parent_device = stack.pop()
        try:
            info = os.stat(folder)
        except OSError as exc:
            report(folder, f"unreadable folder ({exc.strerror})")
            continue
        key = (info.st_dev, info.st_ino)
        if key in seen_dirs:
            continue
        seen_dirs.add(key)
        if parent_device is not None and info.st_dev != parent_device and pseudo_filesystem(folder, mounts):
            tally.not_followed += 1
            continue
        try:
            with os.scandir(folder) as entries:
                children = list(entries)
        except OSError as exc:
            report(folder, f"unreadable folder ({exc.strerror})")
            continue
        subfolders = []
        for entry in children:
            try:
                if entry.is_symlink():
                    target = os.path.realpath(entry.path)
                    if not os.path.exists(target):
                        if is_image_name(entry.name, extensions):
                            report(entry.path, "broken link")
                        continue
                    if not _inside(target, real_roots):
                        tally.not_followed += 1
                        continue
                is_dir = entry.is_dir(follow_symlinks=True)
                if not is_dir and not is_image_name(entry.name, extensions):
                    continue
                if entry.name.startswith(".") and not include_hidden:
                    tally.hidden += 1
                    continue
                if is_dir:
                    subfolders.append(entry.path)
                    continue
                if entry.path in seen_files:
                    continue
                found = entry.stat(follow_symlinks=True)
            except OSError as exc:
                report(entry.path, f"unreadable ({exc.strerror})")
                continue
            seen_files.add(entry.path)
            if not stat.S_ISREG(found.st_mode):
                report(entry.path, f"{NOT_REGULAR}: {special_kind(found.st_mode)}")
                continue
            yield FileEntry(entry.path, found.st_size, found.st_mtime_ns)
        if recursive:
            stack.extend((sub, info.st_dev) for sub in sorted(subfolders, reverse=True))
