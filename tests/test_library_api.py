"""`from pixseek import Library` as a user meets it: the README example runs as written, the
public methods are typed, and the faces ask the Library instead of reaching past it."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, make_photo
from pixseek.errors import PixseekError

FACES = ["cli", "web", "desktop", "api", "watch", "mcp", "preview.py", "serving"]
# What lies behind the facade: the store, the engine's parts, the stages, and the model's
# machinery. A face asks the Library (`pixseek.library`) and reads the engine's public types.
INTERNALS = ("pixseek.store", "pixseek.engine", "pixseek.indexer", "pixseek.signals", "pixseek.cluster",
             "pixseek.reindex", "pixseek.thumbnails", "pixseek.images", "pixseek.raw", "pixseek.model.encoder",
             "pixseek.model.sessions", "pixseek.model.preprocess", "pixseek.model.tokenizer")
PUBLIC_TYPES = ("pixseek.engine.query", "pixseek.engine.results")


def readme_example() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_readme_example_runs(pixseek_home, tmp_path):
    pictures = tmp_path / "user" / "Pictures"
    for i in range(7):
        make_photo(pictures / f"IMG_{i}.jpg", seed=i)
    env = {**os.environ, "HOME": str(tmp_path / "user")}
    done = subprocess.run([sys.executable, "-c", readme_example()], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.replace("\r", "\n").split("\n")
    assert "7/7" in lines
    assert any(line.startswith("7 indexed") for line in lines)
    results = [line.split("  ", 1) for line in lines if re.match(r"^-?\d\.\d{3}  ", line)]
    assert len(results) == 5
    assert all(Path(path).parent == pictures for _, path in results)
    scores = [float(score) for score, _ in results]
    assert scores == sorted(scores, reverse=True)
    assert lines[-2] == "7 photos"


def test_public_names_and_py_typed():
    import pixseek

    for name in pixseek.__all__:
        assert getattr(pixseek, name) is not None
    with pytest.raises(AttributeError):
        pixseek.Catalog  # noqa: B018 - the store is not public
    assert (ROOT / "src" / "pixseek" / "py.typed").is_file()


def test_public_library_methods_are_typed():
    from pixseek import Library

    for name, member in inspect.getmembers(Library):
        if name.startswith("_"):
            continue
        function = member.fget if isinstance(member, property) else getattr(member, "__func__", member)
        if not callable(function):
            continue
        signature = inspect.signature(function)
        untyped = [p for p in signature.parameters.values() if p.name not in ("self", "cls")
                   and p.annotation is inspect.Parameter.empty]
        assert not untyped, f"Library.{name}: {untyped} not annotated"
        assert signature.return_annotation is not inspect.Signature.empty, f"Library.{name}: no return type"


def face_sources() -> list[Path]:
    package = ROOT / "src" / "pixseek"
    return [p for face in FACES for p in ((package / face).rglob("*.py") if (package / face).is_dir()
                                          else [package / face]) if p.exists()]


def test_faces_do_not_reach_past_the_library():
    """What a face needs is a Library method: no catalog, no store, no vector index."""
    sources = face_sources()
    assert len(sources) > 20
    for source in sources:
        text = source.read_text()
        assert not re.search(r"\.catalog\b|_vectors\(|pixseek\.store|\._live\b|\._index\b", text), source


def imported_modules(source: Path) -> set[str]:
    """Every pixseek module `source` imports, at the top or inside a function (`from pixseek.x
    import y` names the module pixseek.x.y when y is one)."""
    found = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                name = f"{node.module}.{alias.name}"
                found.add(name if importlib.util.find_spec(node.module) and _is_module(name) else node.module)
    return {name for name in found if name == "pixseek" or name.startswith("pixseek.")}


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def behind_the_facade(module: str) -> bool:
    if any(module == public or module.startswith(public + ".") for public in PUBLIC_TYPES):
        return False
    return any(module == inner or module.startswith(inner + ".") for inner in INTERNALS)


def test_faces_import_only_the_facade_and_its_public_types():
    """A face imports the Library and the engine's public types (queries, results, errors),
    never the store or the engine's parts: a face that needs more asks the facade for it."""
    assert behind_the_facade("pixseek.engine.writes") and behind_the_facade("pixseek.store.catalog")
    assert not behind_the_facade("pixseek.engine.query") and not behind_the_facade("pixseek.library")
    reaching = {f"{source.relative_to(ROOT)}: {module}" for source in face_sources()
                for module in imported_modules(source) if behind_the_facade(module)}
    assert not reaching, sorted(reaching)


def test_an_index_made_with_another_model_is_refused_or_searched_with_its_own(pixseek_home, tmp_path, clip_vocab):
    """The one opening every face uses: refused by default (the error names the model, for a
    rebuild offer), or opened with the index's own model, the asked-for one in `rebuild_for`."""
    from pixseek import Library
    from pixseek.errors import IndexIncompatible
    from pixseek.model.export import export_random

    make_photo(tmp_path / "photos" / "a.jpg", seed=1)
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([tmp_path / "photos"])
        made_with = library.model_id
        assert library.rebuild_for is None
    export_random("tiny", pixseek_home / "models" / "other", seed=5)
    with pytest.raises(IndexIncompatible) as refused:
        Library.open(tmp_path / "index", model="other")
    assert refused.value.model == "other"
    with Library.open(tmp_path / "index", model="other", other_model="use its own") as library:
        assert library.model_id == made_with and library.rebuild_for == "other"
        assert [r.path for r in library.search("a cat", k=1)] == [str(tmp_path / "photos" / "a.jpg")]
    with pytest.raises(PixseekError, match="empty index path"):
        Library.open("")


def test_every_public_library_call_translates_storage_errors(pixseek_home, tmp_path, monkeypatch):
    """Storage errors are translated once, for the whole facade: a locked catalog is a one-line
    PixseekError from any method, never an sqlite3 traceback."""
    import sqlite3

    from pixseek import Library

    def locked(*args, **kwargs):
        raise sqlite3.OperationalError("database is locked")

    make_photo(tmp_path / "photos" / "a.jpg", seed=1)
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([tmp_path / "photos"])
        catalog = library._index.catalog
        for method in ("roots", "skipped", "count", "lookup", "paths_for"):
            monkeypatch.setattr(catalog, method, locked)
        calls = [library.folders, library.skipped, library.count, library.folder_details,
                 lambda: library.contains(str(tmp_path / "photos" / "a.jpg")), lambda: library.photo_path(1)]
        for call in calls:
            with pytest.raises(PixseekError, match="in use by another program"):
                call()
        monkeypatch.undo()
