"""Faces and people with the stand-in face pack (tests/face_standins.py): the real loading,
decoding, alignment, storage, grouping, corrections and search, on real image files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from face_standins import install_stand_in, make_pack_source, photo_with_faces
from pixseek import Library
from pixseek.errors import PixseekError, QueryError
from pixseek.model.faces import FaceModel, TEMPLATE, aligned, decode, quality, similarity

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "demo" / "photos"

# (centre, person) of the faces in each photo
SCENES = {
    "anna1.jpg": [((160, 160), 1)],
    "anna2.png": [((400, 240), 1)],
    "ben1.jpg": [((240, 320), 2)],
    "anna_ben.jpg": [((160, 160), 1), ((480, 288), 2)],
    "carl.jpg": [((320, 240), 3)],
}


@pytest.fixture
def pack(pixseek_home, tmp_path) -> Path:
    return install_stand_in(tmp_path / "packs")


@pytest.fixture
def scenes(tmp_path) -> Path:
    root = tmp_path / "photos"
    backgrounds = sorted(DEMO.glob("*.jpg"))
    for n, (name, faces) in enumerate(SCENES.items()):
        photo_with_faces(root / name, faces, background=backgrounds[n % len(backgrounds)])
    photo_with_faces(root / "nobody.jpg", [], background=backgrounds[-1])
    return root


def people_by_photo(library: Library) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for person in library.people():
        for face in library.person_faces(person.id):
            found.setdefault(Path(face.path).name, set()).add(person.id)
    return found


def test_the_model_finds_drawn_faces_with_their_box_and_landmarks(pack, scenes):
    model = FaceModel(pack)
    faces = model.find(Image.open(scenes / "anna_ben.jpg").convert("RGB"))
    assert sorted(tuple(round(v) for v in f.box) for f in faces) == [(112, 112, 208, 208), (432, 240, 528, 336)]
    for face in faces:
        assert 0.9 < face.score <= 1 and 0 < face.quality <= 1
        assert abs(float(np.linalg.norm(face.embedding)) - 1) < 1e-5
        assert face.landmarks[0][0] < face.landmarks[1][0]  # left eye left of the right one
    assert model.find(Image.open(scenes / "nobody.jpg").convert("RGB")) == []


def test_a_recogniser_taking_uint8_nhwc_faces_gives_the_same_vectors(pixseek_home, tmp_path, scenes):
    from pixseek.model.faces_packs import install

    plain = FaceModel(install("plain", make_pack_source(tmp_path / "plain")))
    raw = FaceModel(install("raw", make_pack_source(tmp_path / "raw", raw=True)))
    photo = Image.open(scenes / "anna_ben.jpg").convert("RGB")
    for a, b in zip(plain.find(photo), raw.find(photo), strict=True):
        assert np.allclose(a.embedding, b.embedding, atol=1e-5)


def test_alignment_maps_the_landmarks_onto_the_template():
    rng = np.random.default_rng(0)
    angle, scale, shift = 0.3, 1.7, np.array([40.0, -12.0])
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = (np.array(TEMPLATE) - shift) @ np.linalg.inv(scale * rotation).T + rng.normal(0, 1e-3, (5, 2))
    matrix = similarity(points, np.array(TEMPLATE))
    assert np.allclose(points @ matrix[:, :2].T + matrix[:, 2], TEMPLATE, atol=0.01)
    image = Image.new("RGB", (300, 300), (0, 0, 255))
    assert aligned(image, tuple(map(tuple, points))).size == (112, 112)


def test_the_detectors_outputs_are_read_by_their_shape_in_any_order(pack, scenes):
    """InsightFace's det_10g gives the scores of the 3 strides, then the boxes, then the landmarks;
    other SCRFD exports interleave them (score_8, bbox_8, kps_8, ...): the same faces either way."""
    model = FaceModel(pack)
    side = model.side
    photo = Image.open(scenes / "anna_ben.jpg").convert("RGB").resize((side, side))
    blob = ((np.asarray(photo, dtype=np.float32) - 127.5) / 128.0).transpose(2, 0, 1)[None]
    outputs = model._detector.run(None, {model._det_input: blob})
    interleaved = [outputs[level + kind * 3] for level in range(3) for kind in range(3)]
    first, second = decode(outputs, (side, side), 0.5), decode(interleaved[::-1], (side, side), 0.5)
    assert len(first[0]) > 0
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a, b)
    with pytest.raises(PixseekError, match="not an SCRFD graph"):
        decode(outputs[:6], (side, side), 0.5)


def test_a_tilted_head_is_as_frontal_as_an_upright_one():
    upright = np.array(TEMPLATE) * 2 + 100  # a frontal face's landmarks, 224 px across
    turned = upright.copy()
    turned[2, 0] = upright[1, 0]  # the nose tip over one eye: seen from the side
    box = (80.0, 80.0, 320.0, 320.0)
    frontal = quality(box, tuple(map(tuple, upright)), 0.8)
    side_view = quality(box, tuple(map(tuple, turned)), 0.8)
    assert frontal > 0.75 and 0.3 < side_view < frontal
    for degrees in (15, 40, 90):
        angle = np.radians(degrees)
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        for points, expected in ((upright, frontal), (turned, side_view)):
            tilted = (points - 200) @ rotation.T + 200
            assert quality(box, tuple(map(tuple, tilted)), 0.8) == pytest.approx(expected, abs=0.002)


def test_install_refuses_what_is_not_a_face_pack(pixseek_home, tmp_path):
    from pixseek.model.faces_packs import install

    source = make_pack_source(tmp_path / "swapped")
    (source / "detection" / "model.onnx").rename(tmp_path / "det.onnx")
    shutil.copy(source / "recognition" / "model.onnx", source / "detection" / "model.onnx")
    with pytest.raises(PixseekError, match="not an SCRFD detector"):
        install("broken", source)
    with pytest.raises(PixseekError, match="holds no face model"):
        install("empty", tmp_path)
    with pytest.raises(PixseekError, match="unknown face model"):
        install("no-such-pack")


def test_faces_are_found_and_grouped_into_people(pack, scenes, tmp_path):
    with Library.open(tmp_path / "index", create=True) as library:
        report = library.index([scenes])
        assert report.faces_read == 6 and report.faces_found == 6
        grouped = people_by_photo(library)
        anna = grouped["anna1.jpg"]
        assert grouped["anna2.png"] == anna and len(anna) == 1
        assert grouped["ben1.jpg"] != anna and grouped["anna_ben.jpg"] == anna | grouped["ben1.jpg"]
        assert len(library.people()) == 3 and "nobody.jpg" not in grouped
        status = library.status()
        assert (status.finds_faces, status.faces, status.photos_with_faces, status.people) == (True, 6, 5, 3)


def test_incremental_copies_take_faces_and_changes_are_looked_at_again(pack, scenes, tmp_path):
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([scenes])
        again = library.index()
        assert again.faces_read == 0 and again.faces_grouped == 0
        shutil.copy(scenes / "carl.jpg", scenes / "carl copy.jpg")
        photo_with_faces(scenes / "ben1.jpg", [((240, 320), 3)])  # now carl's face
        report = library.index()
        assert report.faces_read == 1  # the changed photo; the copy took its faces
        grouped = people_by_photo(library)
        assert grouped["carl copy.jpg"] == grouped["carl.jpg"] == grouped["ben1.jpg"]
        assert grouped["anna_ben.jpg"] - grouped["anna1.jpg"]  # ben is still in that one


def test_a_face_model_change_finds_faces_again_and_nothing_else(pack, scenes, tmp_path, monkeypatch):
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([scenes])
        library.name_person(people_by_photo(library)["anna1.jpg"].pop(), "Anna")
        other = install_stand_in(tmp_path / "packs2", name="stand-in-b", seed=7)
        monkeypatch.setenv("PIXSEEK_FACE_MODEL", other.name)
        report = library.index()
        assert report.indexed == 0 and report.faces_read == 6
        assert {Path(f.path).name for f in library.person_faces("anna")} == {"anna1.jpg", "anna2.png", "anna_ben.jpg"}


def test_names_merges_and_splits_survive_a_reindex(pack, scenes, tmp_path):
    from conftest import TEST_MODEL

    with Library.open(tmp_path / "index", create=True) as library:
        library.index([scenes])
        grouped = people_by_photo(library)
        anna, ben, carl = (grouped[n].copy().pop() for n in ("anna1.jpg", "ben1.jpg", "carl.jpg"))
        library.name_person(anna, "Anna")
        library.name_person(ben, "Ben")
        merged = library.merge_people("Ben", carl)  # a wrong merge, on purpose: Ben and Carl are one now
        assert merged.name == "Ben" and merged.photos == 3
        carl_face = next(f for f in library.person_faces("Ben") if Path(f.path).name == "carl.jpg")
        split = library.split_face(carl_face.id)
        library.name_person(split.id, "Carl")
        with pytest.raises(QueryError, match="already called"):
            library.name_person("Carl", "anna")
        library.reindex(TEST_MODEL)
        names = {p.name: {Path(f.path).name for f in library.person_faces(p.id)} for p in library.people()}
        assert names == {"Anna": {"anna1.jpg", "anna2.png", "anna_ben.jpg"}, "Ben": {"ben1.jpg", "anna_ben.jpg"},
                         "Carl": {"carl.jpg"}}


def test_not_a_face_stays_out_after_later_runs(pack, scenes, tmp_path, monkeypatch):
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([scenes])
        face = library.faces(next(f.photo_id for f in library.person_faces(people_by_photo(library)["carl.jpg"].pop())))[0]
        library.not_a_face(face.id)
        assert "carl.jpg" not in people_by_photo(library)
        other = install_stand_in(tmp_path / "packs2", name="stand-in-b", seed=7)
        monkeypatch.setenv("PIXSEEK_FACE_MODEL", other.name)
        library.index()
        assert "carl.jpg" not in people_by_photo(library)
        assert [f.not_face for f in library.faces(face.photo_id)] == [True]


def test_forget_removes_every_face_and_stops_finding_them(pack, scenes, tmp_path):
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([scenes])
        assert library.forget_faces() == 6
        status = library.status()
        assert (status.finds_faces, status.faces, status.people) == (False, 0, 0)
        assert library.index().faces_read == 0
        library.index(find_faces=True)
        assert library.status().faces == 6
    from pixseek.store.catalog import Catalog

    catalog = Catalog.open(tmp_path / "index", create=False)
    embeddings = [row[0][:64] for row in catalog.connection.execute("SELECT embedding FROM faces")]
    catalog.close()
    assert len(embeddings) == 6
    with Library.open(tmp_path / "index") as library:
        library.forget_faces()
    left = b"".join(p.read_bytes() for p in (tmp_path / "index").glob("catalog.sqlite3*"))
    assert not any(embedding in left for embedding in embeddings)  # not even in free pages or the WAL
    catalog = Catalog.open(tmp_path / "index", create=False)
    try:
        db = catalog.connection
        assert [db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("faces", "faces_read", "people", "face_labels")] == [0, 0, 0, 0]
    finally:
        catalog.close()


def test_faces_are_off_without_a_face_model_and_when_turned_off(pixseek_home, scenes, tmp_path):
    with Library.open(tmp_path / "index", create=True) as library:
        report = library.index([scenes])
        assert report.faces_read == 0 and report.faces_note is None
        assert not library.status().finds_faces
    install_stand_in(tmp_path / "packs")
    with Library.open(tmp_path / "index2", create=True) as library:
        assert library.index([scenes], find_faces=False).faces_read == 0
        assert library.index(find_faces=True).faces_read == 6


def test_unknown_people_and_faces_are_clear_errors(pack, scenes, tmp_path):
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([scenes])
        with pytest.raises(QueryError, match="no person called 'Zed'"):
            library.person("Zed")
        with pytest.raises(QueryError, match="no face 999"):
            library.not_a_face(999)
        with pytest.raises(QueryError, match="must not be empty"):
            library.name_person(library.people()[0].id, "  ")
        first = library.people()[0].id
        with pytest.raises(QueryError, match="with itself"):
            library.merge_people(first, first)
