"""The index's folders: which to scan, which indexed folder a path names (decided on where it
leads, by the one containment check), which are missing, and how a missing one is worded."""

from __future__ import annotations

import os
from collections.abc import Iterable

from pixseek import containment
from pixseek.engine.index import OpenIndex
from pixseek.engine.results import FolderInfo, missing_folder
from pixseek.errors import FolderNotFound, FolderNotIndexed, HoldsIndexedFolders
from pixseek.files import check_folder
from pixseek.store.catalog import Catalog

Folders = Iterable[str | os.PathLike[str]] | str | os.PathLike[str] | None


def to_scan(index: OpenIndex, folders: Folders, catalog: Catalog | None = None) -> list[str]:
    """The folders asked for, each checked; none asked for: every indexed folder still there
    (a missing one, an unmounted drive, keeps its photos and is named in a note)."""
    catalog = catalog or index.catalog
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    if folders:
        return [check_folder(folder) for folder in folders]
    roots = catalog.roots()
    if not roots:
        raise FolderNotFound("no folder given, and this index has no folders yet")
    present = [root for root in roots if os.path.isdir(root)]
    for root in roots:
        if root not in present:
            index.note(missing_folder(root, index.catalog.count_under(root)))
    if not present:
        raise FolderNotFound("every folder of this index is missing: " + ", ".join(roots))
    return [check_folder(root) for root in present]


def indexed_folder(index: OpenIndex, folder: str | os.PathLike[str], around: bool = True) -> str:
    """`folder` as the index names it: an indexed folder or one inside it, decided on where
    it leads (containment.indexed_form); with `around`, also a folder written around indexed
    ones (a search in it covers them). Otherwise a FolderNotIndexed saying what is held."""
    path = containment.absolute(folder)
    roots = index.catalog.roots()
    named = containment.indexed_form(path, roots)
    if named is not None:
        return named
    inside = [root for root in roots if containment.is_inside(root, path)]
    if inside and around:
        return path
    if inside:
        raise HoldsIndexedFolders(f"{os.fspath(folder)} is not an indexed folder; it holds {len(inside)} "
                                  f"({', '.join(inside)}): remove those instead", inside)
    held = ", ".join(roots) if roots else "none yet"
    raise FolderNotIndexed(f"{os.fspath(folder)} is not in the index, or leads out of it (its folders: {held})")


def searchable_folder(index: OpenIndex, folder: str) -> str:
    """The folder a search is kept to, as the index names it; refused while an indexed folder
    it covers is missing (its photos would silently be left out)."""
    within = indexed_folder(index, folder)
    missing = next((root for root in index.catalog.roots()
                    if containment.is_inside(within, root) and not os.path.isdir(root)), None)
    if missing:
        raise FolderNotFound(missing_folder(missing, index.catalog.count_under(missing)))
    return within


def details(index: OpenIndex) -> list[FolderInfo]:
    """The indexed folders, with their photo counts and whether each is there now."""
    catalog = index.catalog
    return [FolderInfo(root, catalog.count_under(root), os.path.isdir(root)) for root in catalog.roots()]


def count(index: OpenIndex, folder: str | os.PathLike[str] | None) -> int:
    """Photos in the index, or only those under `folder`."""
    if folder is None:
        return index.catalog.count()
    return index.catalog.count_under(containment.absolute(folder))
