"""`from pixseek import Library` as a user meets it: the README example runs as written, the
public methods are typed, and the faces ask the Library instead of reaching past it."""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, make_photo

FACES = ["cli", "web", "desktop", "api", "watch", "mcp", "preview.py", "serving"]


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


def test_faces_do_not_reach_past_the_library():
    """What a face needs is a Library method: no catalog, no store, no vector index."""
    package = ROOT / "src" / "pixseek"
    sources = [p for face in FACES for p in ((package / face).rglob("*.py") if (package / face).is_dir()
                                               else [package / face]) if p.exists()]
    assert len(sources) > 20
    for source in sources:
        text = source.read_text()
        assert not re.search(r"\.catalog\b|_vectors\(|pixseek\.store|\._live\b", text), source
