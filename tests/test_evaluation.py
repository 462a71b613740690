"""The recall harness: right numbers on constructed cases, every caption format, the CLI end to end."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import SHARED_PHOTOS, make_photo
from pixseek.evaluation import EvaluationError, evaluate, image_to_text_recall, load_captions, text_to_image_recall
from reliability_kit import cli


def test_recall_on_a_constructed_case():
    # 3 photos, 2 captions each; rows are captions, columns photos.
    truth = np.array([0, 0, 1, 1, 2, 2])
    similarity = np.array([
        [0.9, 0.1, 0.2],  # own photo first
        [0.3, 0.5, 0.1],  # own photo second
        [0.1, 0.8, 0.0],  # first
        [0.7, 0.6, 0.9],  # third
        [0.0, 0.1, 0.2],  # first
        [0.5, 0.5, 0.5],  # a three-way tie counts against: third
    ])
    assert text_to_image_recall(similarity, truth, ks=(1, 2, 3)) == {1: 3 / 6, 2: 4 / 6, 3: 1.0}
    # Photo 0's best captions: 0 (own); photo 1's: 2 (own); photo 2's: 3 (photo 1's), then 5 (own).
    assert image_to_text_recall(similarity, truth, ks=(1, 2)) == {1: 2 / 3, 2: 1.0}


def test_caption_formats(tmp_path):
    coco = {"images": [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}, {"id": 3, "file_name": "none.jpg"}],
            "annotations": [{"image_id": 1, "caption": "a dog"}, {"image_id": 2, "caption": "a cat"},
                            {"image_id": 1, "caption": "a puppy"}]}
    karpathy = {"images": [{"filepath": "val2014", "filename": "a.jpg", "split": "test", "sentences": [{"raw": "a dog"}]},
                           {"filepath": "val2014", "filename": "b.jpg", "split": "train", "sentences": [{"raw": "a cat"}]}]}
    simple = {"a.jpg": ["a dog", "a puppy"], "b.jpg": ["a cat"]}
    for name, data in (("coco", coco), ("karpathy", karpathy), ("simple", simple)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    assert load_captions(tmp_path / "coco.json") == {"a.jpg": ["a dog", "a puppy"], "b.jpg": ["a cat"]}
    assert load_captions(tmp_path / "karpathy.json", split="test") == {"val2014/a.jpg": ["a dog"]}
    assert load_captions(tmp_path / "simple.json") == simple
    (tmp_path / "bad.json").write_text('{"images": 3}')
    for bad, message in (("bad.json", "none of the caption formats"), ("missing.json", "not found")):
        with pytest.raises(EvaluationError, match=message):
            load_captions(tmp_path / bad)
    with pytest.raises(EvaluationError, match="no captions in split 'val'"):
        load_captions(tmp_path / "karpathy.json", split="val")


def test_end_to_end_on_generated_photos(pixseek_home, tmp_path):
    captions = {}
    for i in range(12):
        make_photo(tmp_path / "photos" / f"{i}.jpg", seed=i)
        captions[f"{i}.jpg"] = [f"photo number {i}", f"picture {i} of a thing"]
    captions["gone.jpg"] = ["a photo that is not there"]
    (tmp_path / "captions.json").write_text(json.dumps(captions))
    report = evaluate(tmp_path / "captions.json", tmp_path / "photos", ks=(1, 5, 12, 24))
    assert (report.photos, report.captions, report.missing) == (12, 24, ["gone.jpg"])
    # Every caption's photo is among all 12 photos; every photo's captions among all 24 captions.
    assert report.text_to_image[12] == 1.0 and report.image_to_text[24] == 1.0
    assert report.chance == {1: 1 / 12, 5: 5 / 12, 12: 1.0, 24: 1.0}
    assert report.random_weights

    result = cli("eval", tmp_path / "captions.json", tmp_path / "photos", "-k", "1", "12", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["text_to_image"] == {"1": report.text_to_image[1], "12": 1.0}
    shown = cli("eval", tmp_path / "captions.json", tmp_path / "photos")
    assert "RANDOM WEIGHTS" in shown.stdout and "1 captioned photos not found" in shown.stdout
    assert cli("eval", tmp_path / "nothing.json", tmp_path / "photos").stderr.startswith("pixseek: error: caption file not found")


@pytest.mark.skipif(not (SHARED_PHOTOS / "coco-mini-captions.json").is_file(), reason="needs ../shared/data/photos")
def test_random_weights_score_at_chance_on_real_coco_photos(pixseek_home):
    report = evaluate(SHARED_PHOTOS / "coco-mini-captions.json", SHARED_PHOTOS / "coco-mini")
    print(f"\nrandom weights on {report.photos} COCO photos, {report.captions} captions: text->image "
          + ", ".join(f"R@{k} {100 * v:.1f}% (chance {100 * report.chance[k]:.1f}%)" for k, v in report.text_to_image.items()))
    assert (report.photos, report.captions) == (239, 1195)
    assert report.text_to_image[10] < 4 * report.chance[10]  # no real model scores this low: COCO R@10 is ~70%
