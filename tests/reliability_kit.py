"""Helpers shared by the reliability and fuzz tests: figures for docs/reliability.md, the CLI
run as a real process, and an index's state for comparing runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import ROOT

OUTPUT = ROOT / "test-output"


def record(name: str, figures: dict) -> None:
    """Write a test's figures to test-output/reliability-<name>.json (copied into the docs)."""
    OUTPUT.mkdir(exist_ok=True)
    (OUTPUT / f"reliability-{name}.json").write_text(json.dumps(figures, indent=2, default=str) + "\n")


def cli(*args, env: dict | None = None, prefix: tuple = (), timeout: float = 120) -> subprocess.CompletedProcess:
    """`pixseek ARGS` in a fresh process, as a person would run it."""
    return subprocess.run([*prefix, sys.executable, "-m", "pixseek.cli", *map(str, args)],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)


def assert_clean_failure(result: subprocess.CompletedProcess, *needles: str) -> None:
    """A refused command: exit 1 and one `pixseek: error:` line that says why, no traceback."""
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stderr.startswith("pixseek: error: "), result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def index_state(index_dir: Path) -> dict[str, np.ndarray]:
    """{path: vector} of a consistent index (the status check must pass)."""
    from pixseek.library import Library

    with Library.open(index_dir) as library:
        status = library.status()
        assert status.consistent, status.problems
        records = list(library.catalog.files_under(library.catalog.roots()))
        vectors = library.catalog.vectors_for([r.id for r in records])
        return {r.path: v.copy() for r, v in zip(records, vectors)}


def max_cosine_gap(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    """The largest 1 - cos between the two states' vectors for each path (same paths required)."""
    assert a.keys() == b.keys(), sorted(set(a) ^ set(b))[:5]
    return max((1.0 - float(np.dot(a[p], b[p])) for p in a), default=0.0)
