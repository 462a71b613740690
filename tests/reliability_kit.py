"""Helpers shared by the reliability and fuzz tests: figures for docs/reliability.md, the CLI
run as a real process, and an index's state for comparing runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

import numpy as np
import pytest

from conftest import ROOT, TEST_MODEL

OUTPUT = ROOT / "test-output"
QUERY = "a red car"


def record(name: str, figures: dict) -> None:
    """Write a test's figures to test-output/reliability-<name>.json (copied into the docs)."""
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / f"reliability-{name}.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")


def cli(*args, env: dict | None = None, prefix: tuple = (), timeout: float = 120) -> subprocess.CompletedProcess:
    """`pixseek ARGS` in a fresh process, as a person would run it."""
    return subprocess.run([*prefix, sys.executable, "-m", "pixseek.cli", *map(str, args)],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)


@contextmanager
def module_home(base: Path, bundle: Path) -> Iterator[dict]:
    """A pixseek home under `base` with the tiny model as default, for a module's fixtures;
    set in this process while the context lasts, and yielded as the environment for the CLI."""
    shutil.copytree(bundle, base / "home" / "models" / TEST_MODEL)
    env = {"PIXSEEK_HOME": str(base / "home"), "PIXSEEK_MODEL": TEST_MODEL}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        yield env


def search_everything(index: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return cli("search", "--index", index, "--json", "-k", 1000, QUERY, env=env)


def assert_true_scores(stdout: str, reference: dict[str, np.ndarray], query: np.ndarray) -> int:
    """Every hit of a `search --json` is a photo of the reference with its true score; returns
    how many hits there were."""
    hits = json.loads(stdout)
    for hit in hits:
        assert hit["score"] == pytest.approx(float(np.dot(query, reference[hit["path"]])), abs=1e-4), hit
    return len(hits)


def assert_clean_failure(result: subprocess.CompletedProcess, *needles: str) -> None:
    """A refused command: exit 1, a `pixseek: error:` line that says why (after any notes), no
    traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines and all(line.startswith("pixseek: ") for line in lines), result.stderr
    assert lines[-1].startswith("pixseek: error: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def indexed(index_dir: Path, folders: list[Path]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Index `folders` in this process; returns the index's state and QUERY's vector."""
    from pixseek.library import Library
    from pixseek.engine.query import parse_query

    with Library.open(index_dir, create=True) as library:
        library.index(folders)
        query = library.query_vector(parse_query([QUERY]))
    return index_state(index_dir), query


def index_state(index_dir: Path) -> dict[str, np.ndarray]:
    """{path: vector} of a consistent index (the status check must pass)."""
    from pixseek.library import Library

    with Library.open(index_dir) as library:
        status = library.status()
        assert status.consistent, status.problems
        records = list(library._index.catalog.files_under(library._index.catalog.roots()))
        vectors = library._index.catalog.vectors_for([r.id for r in records])
        return {r.path: v.copy() for r, v in zip(records, vectors)}


def max_cosine_gap(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """The largest 1 - cos between the two states' vectors for each path (same paths required)."""
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))[:5]
    return max((1.0 - float(np.dot(a[p], b[p])) for p in a), default=0.0)
