"""`pixseek model list --available`: each model's speed measured here, the time to index the
library at that speed, and the recommendation, which follows its rule on the figures measured."""

from __future__ import annotations

import json

import pytest

from conftest import make_photo
from pixseek.cli import main
from pixseek.model import speed
from pixseek.model.bundle import Bundle
from pixseek.model.choice import HOUR
from pixseek.model.known_models import KNOWN_MODELS


REAL_SHAPES = ("vit-b-32", "siglip-b-16-384")  # the lightest and the heaviest tower, measured at their real shapes


@pytest.fixture(autouse=True)
def short_measurements(monkeypatch):
    """Real runs, fewer of them; the other towers at a tenth of their size (the rule and the table
    do not depend on which figures were measured)."""
    from pixseek.model import choice

    monkeypatch.setattr(speed, "MEASURE_SECONDS", 0.1)
    small = {name: shape if name in REAL_SHAPES or shape is None else speed.TowerShape(max(shape.tokens // 8, 2), 96, 2)
             for name, shape in speed.TOWERS.items()}
    monkeypatch.setattr(choice, "TOWERS", small)


def available(capsys, *args: str) -> str:
    assert main(["model", "list", "--available", *args]) == 0
    return capsys.readouterr().out


def test_speeds_are_measured_and_the_recommendation_follows_its_rule(pixseek_home, capsys):
    report = json.loads(available(capsys, "--json", "--measure", "--library-size", "20000"))
    models = report["models"]
    assert len(models) == len(KNOWN_MODELS) >= 10 and report["library_photos"] == 20000
    for model in models:
        shape = speed.TOWERS[model["tower"]]
        assert (model["images_per_s_here"] is None) == (shape is None)  # nothing installed: stand-in layers only
        if shape is not None:
            assert model["images_per_s_here"] > 0 and model["measured_on"] == "one layer of its shape"
            assert model["index_seconds_here"] == pytest.approx(20000 / model["images_per_s_here"], rel=0.01)
    ranked = [m for m in models if m["recall"] and m["images_per_s_here"]]
    fits = [m for m in ranked if m["index_seconds_here"] <= HOUR]
    expected = max(fits, key=lambda m: m["recall"][1]) if fits else min(ranked, key=lambda m: m["index_seconds_here"])
    assert report["recommended"] == expected["name"] and report["why"]
    # a heavier tower is slower here: 576 tokens (SigLIP at 384 px) against 50 (ViT-B/32)
    rates = {m["tower"]: m["images_per_s_here"] for m in models}
    assert rates["siglip-b-16-384"] < rates["vit-b-32"]


def test_the_table_names_every_model_the_library_size_and_the_choice(pixseek_home, tmp_path, capsys):
    from pixseek.library import Library

    for i in range(3):
        make_photo(tmp_path / "photos" / f"{i}.jpg", seed=i)
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([tmp_path / "photos"])
    out = available(capsys, "--index", str(tmp_path / "index"))
    assert all(entry.name in out for entry in KNOWN_MODELS)
    assert "INDEX: 3 photos" in out and "the photos in the index" in out
    assert "recommended: " in out.splitlines()[-1]


def test_an_installed_model_is_measured_on_its_own_tower(tiny_bundle_dir):
    measured = speed.installed_speed(Bundle.load(tiny_bundle_dir))
    assert measured.images_per_s > 0 and measured.measured_on == "installed tower"


@pytest.mark.parametrize("size", ["0", "-3", "many"])
def test_a_bad_library_size_is_one_line(size, capsys):
    with pytest.raises(SystemExit):
        main(["model", "list", "--available", "--library-size", size])
    assert "is not a number of photos" in capsys.readouterr().err
