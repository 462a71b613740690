"""Opening an index: the one way every face does it (the CLI, the web and desktop apps, the HTTP
API, the MCP server, watch mode, evaluation, the Python API).

It finds the folder (default: the user's index), finishes a rebuild that was killed while being
swapped in, makes the index when asked to (`create`) and repairs a damaged catalog, and decides
what happens when the index was made with another model than the one asked for: refused
(IndexIncompatible, which names the model, so a face can offer to rebuild for it), or opened
with its own model, the asked-for one kept as `wanted_model`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal

from pixseek import containment, paths, reindex
from pixseek.engine.index import OpenIndex, model_identity
from pixseek.engine.storage import LOCK_NAME, writing
from pixseek.errors import IndexCorrupt, IndexIncompatible, IndexNotFound, PixseekError
from pixseek.model import find_bundle
from pixseek.store.catalog import CATALOG_NAME, Catalog
from pixseek.store.live_index import drop_derived_files
from pixseek.store.repair import repair_catalog
from pixseek.store.vector_index import saved_files

OtherModel = Literal["refuse", "use its own"]  # what to do with an index made with another model


def index_path(index_dir: Path | str | None) -> Path:
    """The index folder `index_dir` names (None: the default one); a path that names nothing
    (empty, with a NUL, too long) is refused rather than taken for the default."""
    if index_dir is None:
        return paths.default_index_dir().expanduser().absolute()
    return Path(containment.absolute(index_dir, "index"))


def index_exists(index_dir: Path | str | None = None) -> bool:
    return (Path(index_dir or paths.default_index_dir()) / CATALOG_NAME).is_file()


def open_index(index_dir: Path | str | None, model: str | None, create: bool, precision: str | None,
               device: str | None, other_model: OtherModel = "refuse") -> OpenIndex:
    """Open an index; with `create`, make it (with `model`, default the default model) if absent,
    and repair it if its catalog is damaged."""
    folder = index_path(index_dir)
    notes = []
    made = False
    if reindex.finish_interrupted_swap(folder):
        notes.append("finished putting in place an index rebuilt for another model (the last run stopped midway)")
    try:
        catalog = Catalog.open(folder, create=False)
    except IndexNotFound:
        if not create:
            if saved_files(folder):
                raise IndexNotFound(f"the index at {folder} has lost its catalog ({CATALOG_NAME}); a vector "
                                    "file alone cannot tell which photo is which: indexing a folder makes "
                                    "a new one") from None
            raise
        catalog, notes = _new_catalog(folder, model)
        made = True
    except IndexCorrupt as damage:
        if not create:
            raise
        with writing(folder):
            notes = [repair_catalog(folder, damage.reason, *model_identity(model))]
        catalog = Catalog.open(folder, create=False)
    wanted = None
    if model is not None:
        bundle = find_bundle(model)
        if bundle.model_id != catalog.model_id and other_model == "use its own":
            model, wanted = None, model
        elif bundle.model_id != catalog.model_id:
            built_with = catalog.model_id
            catalog.close()
            raise IndexIncompatible(
                f"the index at {folder} was built with model {built_with!r}, not {bundle.model_id!r} "
                f"({bundle.name}); rebuild it for {bundle.name} (the old one keeps working until the new one "
                "is complete), or use another index for it", model=model)
    index = OpenIndex(folder, catalog, model, precision, device, wanted_model=wanted)
    index.made = made
    for note in notes:
        index.note(note)
    return index


def _new_catalog(index_dir: Path, model: str | None) -> tuple[Catalog, list[str]]:
    """A new catalog (also where a run was killed while making one). Vector files already
    in the folder belong to a catalog that is gone, so they must not be mixed with it."""
    model_id, dim = model_identity(model)
    catalog = Catalog.open(index_dir, create=True, model_id=model_id, dim=dim)
    dropped = drop_derived_files(index_dir)
    return catalog, [f"the catalog was missing: made a new one and dropped {dropped} vector file(s) "
                     "that belonged to the old one"] if dropped else []


def close_index(index: OpenIndex) -> None:
    """Close everything; an index this opening made and nothing was ever added to is removed
    (a missing folder, a dry run): later commands then say there is no index yet, not "no results"."""
    index.close_parts()
    unused = index.made and _holds_nothing(index.catalog)
    index.catalog.close()
    if unused:
        index.made = False
        _remove_catalog(index.index_dir)


def _holds_nothing(catalog: Catalog) -> bool:
    try:
        return not catalog.roots() and catalog.count() == 0
    except sqlite3.Error:  # a catalog that cannot say is kept
        return False


def _remove_catalog(index_dir: Path) -> None:
    try:
        with writing(index_dir):
            for name in (CATALOG_NAME, f"{CATALOG_NAME}-wal", f"{CATALOG_NAME}-shm"):
                (index_dir / name).unlink(missing_ok=True)
    except (PixseekError, OSError):
        return  # another process has it (and may be filling it): it stays
    (index_dir / LOCK_NAME).unlink(missing_ok=True)


