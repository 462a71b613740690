"""`make test`'s way of spreading tests over xdist workers keeps each file on one worker, so that a
module's fixtures are built once and Ray's tests see no other worker's cluster. pytest 9.2 made
xdist's `--dist loadgroup` ignore its groups without a word; this catches the next such change."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from conftest import ROOT

MODULE = """
import os, pytest
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    with open(os.environ["SETUPS"], "a") as log:
        log.write(f"{os.getpid()}\\n")
@pytest.mark.parametrize("i", range(12))
def test_many(built, i):
    pass
"""
OTHERS = """
import pytest
@pytest.mark.parametrize("i", range(24))
def test_other(i):
    pass
"""


def test_make_test_builds_a_modules_fixtures_once(tmp_path):
    recipe = re.search(r"^test:.*\n\t\$\(PYTEST\) (.*)\$\(PYTEST_ARGS\)$", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "make test's pytest line not found"
    (tmp_path / "test_one_module.py").write_text(MODULE)
    (tmp_path / "test_others.py").write_text(OTHERS)
    setups = tmp_path / "setups"
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *recipe.group(1).split(),
                          str(tmp_path)], capture_output=True, text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "SETUPS": str(setups)})
    assert run.returncode == 0, run.stdout[-2000:]
    assert "36 passed" in run.stdout, run.stdout[-2000:]
    assert len(setups.read_text().split()) == 1, "the module's fixture was built on more than one worker"
