"""Installing a face pack from the hub (tests/fake_hub.py answers as the Hugging Face hub does):
the catalogue's repo in Immich's layout, downloaded, checked and installed, with its licence."""

from __future__ import annotations

from PIL import Image

from face_standins import make_pack_source, photo_with_faces
from fake_hub import serving
from pixseek.cli.entry import main


def test_a_catalogue_pack_installs_from_the_hub_with_its_licence(pixseek_home, tmp_path, monkeypatch, capsys):
    source = make_pack_source(tmp_path / "source")
    files = {name: (source / name).read_bytes() for name in ("detection/model.onnx", "recognition/model.onnx")}
    with serving({"immich-app/buffalo_s": files}, monkeypatch, tmp_path / "hub-cache") as hub:
        assert main(["people", "install", "buffalo_s", "--accept-licence"]) == 0
        out, err = capsys.readouterr()
        assert "non-commercial research use only" in err and "installed face model buffalo_s" in out
        assert {path.split("/resolve/")[-1] for _, path, _ in hub.requests} >= {"main/detection/model.onnx",
                                                                                "main/recognition/model.onnx"}
        from pixseek.model.faces import FaceModel, PackConfig, find_pack
        from pixseek.model.faces_packs import known

        folder = find_pack()
        config, published = PackConfig.read(folder), known("buffalo_s")
        assert config.model_id == "immich-app/buffalo_s"
        assert (config.match_threshold, config.min_score, config.detection_side) == \
            (published.match_threshold, published.min_score, published.detection_side)
        monkeypatch.setenv("PIXSEEK_FACE_SIDE", "640")  # the stand-in's drawn faces are sized for 640 px
        photo = photo_with_faces(tmp_path / "one.jpg", [((320, 240), 1)])
        assert len(FaceModel(folder).find(Image.open(photo).convert("RGB"))) == 1
        assert main(["people", "install", "antelopev2", "--accept-licence"]) == 1
        assert "cannot download immich-app/antelopev2" in capsys.readouterr().err


def test_an_unknown_pack_is_one_line(pixseek_home, capsys):
    assert main(["people", "install", "no-such-pack"]) == 1
    assert "unknown face model 'no-such-pack'" in capsys.readouterr().err
