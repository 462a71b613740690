"""`make run`'s model step and the benchmark model script, run as a person (or make) runs them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import ROOT
from pixseek.model.bundle import CONFIG_NAME, find_bundle
from pixseek.model.known_models import DEFAULT_MODEL, DEFAULT_MODEL_ID


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


def closed_port_endpoint() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def run_script(name: str, *args: str, home) -> subprocess.CompletedProcess:
    env = dict(os.environ, PIXSEEK_HOME=str(home), HF_ENDPOINT=closed_port_endpoint(), HF_HUB_CACHE=str(home / "hf"))
    for key in ("PIXSEEK_MODEL", "PIXSEEK_MODELS", "HF_HUB_OFFLINE"):
        env.pop(key, None)
    return subprocess.run([sys.executable, str(ROOT / "scripts" / name), *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_ensure_model_without_hub_installs_a_loudly_random_default(tmp_path, monkeypatch):
    first = run_script("ensure_model.py", "--random-preset", "tiny", home=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "cannot be reached" in first.stderr and "SEARCH RESULTS ARE MEANINGLESS" in first.stderr
    assert "pixseek model install --from PATH" in first.stderr
    monkeypatch.setenv("PIXSEEK_HOME", str(tmp_path))
    monkeypatch.delenv("PIXSEEK_MODELS", raising=False)
    assert find_bundle(DEFAULT_MODEL).model_id == "random/tiny-seed0"
    again = run_script("ensure_model.py", home=tmp_path)  # installed: nothing to do, but still loud
    assert again.returncode == 0 and "is installed" in again.stdout and "MEANINGLESS" in again.stderr


def test_ensure_model_leaves_an_installed_model_alone(pixseek_home):
    folder = (pixseek_home / "models" / "tiny-test").rename(pixseek_home / "models" / DEFAULT_MODEL)
    config = json.loads((folder / CONFIG_NAME).read_text())
    (folder / CONFIG_NAME).write_text(json.dumps({**config, "model_id": DEFAULT_MODEL_ID}))
    result = run_script("ensure_model.py", home=pixseek_home)
    assert result.returncode == 0 and "is installed" in result.stdout and result.stderr == ""


def test_make_random_model_installs_a_named_checked_bundle(tmp_path, monkeypatch, capsys):
    import importlib.util

    monkeypatch.setenv("PIXSEEK_HOME", str(tmp_path))
    monkeypatch.delenv("PIXSEEK_MODELS", raising=False)
    spec = importlib.util.spec_from_file_location("make_random_model", ROOT / "scripts" / "make_random_model.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--preset", "tiny", "--seed", "2"]) == 0
    bundle = find_bundle(script.RANDOM_MODEL)
    assert bundle.model_id == "random/tiny-seed2" and "int8 vs fp32" in capsys.readouterr().err
    assert script.main(["--preset", "tiny", "--name", ".hidden"]) == 1
    assert "not a usable model name" in capsys.readouterr().err


def test_ensure_model_without_hub_or_pytorch_asks_for_the_export_extra(tmp_path):
    """`make run` installs the export extra only when this exit code says the stand-in needs it."""
    blocked = ("import runpy, sys\n"
               "class NoTorch:\n"
               "    def find_spec(self, name, path=None, target=None):\n"
               "        if name.split('.')[0] in ('torch', 'transformers'):\n"
               "            raise ImportError(name)\n"
               "sys.meta_path.insert(0, NoTorch())\n"
               "sys.argv = ['ensure_model.py']\n"
               f"runpy.run_path({str(ROOT / 'scripts' / 'ensure_model.py')!r}, run_name='__main__')\n")
    env = dict(os.environ, PIXSEEK_HOME=str(tmp_path), HF_ENDPOINT=closed_port_endpoint(), HF_HUB_CACHE=str(tmp_path / "hf"))
    for key in ("PIXSEEK_MODEL", "PIXSEEK_MODELS", "HF_HUB_OFFLINE"):
        env.pop(key, None)
    result = subprocess.run([sys.executable, "-c", blocked], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 3, result.stderr
    assert "cannot be reached" in result.stderr and "needs the export extra" in result.stderr
    assert not (tmp_path / "models" / DEFAULT_MODEL).exists()
