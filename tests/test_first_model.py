"""The first `pixseek index` on a machine with no model installed asks nothing: it installs the
default model and says in one note on stderr that better ones exist, and how to list them."""

from __future__ import annotations

import shutil

import pytest

from pixseek import cli
from pixseek.model.known_models import DEFAULT_MODEL

NOTE = (f"pixseek: note: no model installed: indexing with the default, {DEFAULT_MODEL}; better models exist "
        "(`pixseek model list --available`)")


@pytest.fixture
def no_model(tmp_path, monkeypatch, tiny_bundle_dir) -> list[str]:
    """An empty pixseek home whose hub install puts the tiny model under the asked name (no network here)."""
    home = tmp_path / "home"
    monkeypatch.setenv("PIXSEEK_HOME", str(home))
    for name in ("PIXSEEK_MODEL", "PIXSEEK_MODELS", "PIXSEEK_INDEX"):
        monkeypatch.delenv(name, raising=False)
    installs = []

    def install_from_hub(name: str = DEFAULT_MODEL, *args, **kwargs):
        installs.append(name)
        shutil.copytree(tiny_bundle_dir, home / "models" / name)

    monkeypatch.setattr("pixseek.model.install.install_from_hub", install_from_hub)
    return installs


def test_first_index_installs_the_default_and_says_better_models_exist(no_model, photo_dir, capsys):
    assert cli.main(["index", str(photo_dir), "-q"]) == 0
    out, err = capsys.readouterr()
    assert no_model == [DEFAULT_MODEL]
    assert err.splitlines() == [NOTE]
    assert out.startswith("12 indexed")
    assert cli.main(["index", "-q"]) == 0  # the model is there now: no note, no install
    out, err = capsys.readouterr()
    assert no_model == [DEFAULT_MODEL] and err == ""


def test_a_model_asked_for_is_never_swapped_for_the_default(no_model, photo_dir, capsys, monkeypatch):
    assert cli.main(["index", str(photo_dir), "--model", "siglip-vit-b-16"]) == 1
    assert "not installed" in capsys.readouterr().err
    monkeypatch.setenv("PIXSEEK_MODEL", "siglip-vit-b-16")
    assert cli.main(["index", str(photo_dir)]) == 1
    assert no_model == []


def test_a_dry_run_installs_nothing(no_model, photo_dir, capsys):
    cli.main(["index", str(photo_dir), "--dry-run"])
    assert no_model == []


def test_a_missing_folder_is_said_before_any_download(no_model, tmp_path, capsys):
    assert cli.main(["index", str(tmp_path / "missing")]) == 1
    assert no_model == []
    assert capsys.readouterr().err.splitlines() == [f"pixseek: error: folder not found: {tmp_path / 'missing'}"]
