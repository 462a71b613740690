"""Searching by person (CLI, Library) and the `pixseek people` commands, with the stand-in face
pack (tests/face_standins.py) on real image files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from face_standins import install_stand_in, photo_with_faces
from pixseek import Library
from pixseek.cli.entry import main
from pixseek.engine.query import build_query, parse_query, text_term
from pixseek.errors import EmptyQuery, QueryError
from pixseek.filters import SearchFilters

DEMO = Path(__file__).resolve().parents[1] / "demo" / "photos"
SCENES = {
    "2019/anna.jpg": [((160, 160), 1)],
    "2019/anna_ben.jpg": [((160, 160), 1), ((480, 288), 2)],
    "2020/ben.jpg": [((240, 320), 2)],
    "2020/anna_ben_carl.jpg": [((128, 128), 1), ((320, 320), 2), ((512, 160), 3)],
    "2020/nobody.jpg": [],
}


@pytest.fixture
def index(pixseek_home, tmp_path) -> Path:
    install_stand_in(tmp_path / "packs")
    root = tmp_path / "photos"
    backgrounds = sorted(DEMO.glob("*.jpg"))
    for n, (name, faces) in enumerate(SCENES.items()):
        photo_with_faces(root / name, faces, background=backgrounds[n])
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([root])
        by_photo = {}
        for person in library.people():
            for face in library.person_faces(person.id):
                by_photo.setdefault(Path(face.path).name, set()).add(person.id)
        (anna,), (ben,) = by_photo["anna.jpg"], by_photo["ben.jpg"]
        library.name_person(anna, "Anna")
        library.name_person(ben, "Ben")
    return tmp_path / "index"


def names(results) -> set[str]:
    return {Path(r.path).name for r in results}


def test_a_person_alone_and_people_together(index):
    with Library.open(index) as library:
        assert names(library.search(build_query([], people=["anna"]))) == {"anna.jpg", "anna_ben.jpg", "anna_ben_carl.jpg"}
        both = library.search(parse_query(people=["Anna", "BEN"]))
        assert names(both) == {"anna_ben.jpg", "anna_ben_carl.jpg"}
        assert {r.people for r in both} == {("Anna", "Ben")}  # the named people in each (Carl has no name)
        assert {Path(r.path).name: r.people for r in library.search("x", k=10)}["ben.jpg"] == ("Ben",)
        assert all(0 < r.score <= 1 for r in both)
        assert len(library.search(parse_query(people=["Anna"]), min_score=0.5)) == 3
        assert library.search(parse_query(people=["Anna"]), min_score=0.995) == []  # the stand-in's quality: 0.990
        carl = next(p for p in library.people() if p.name is None)
        assert names(library.search(parse_query(people=["Anna", "Ben", str(carl.id)]))) == {"anna_ben_carl.jpg"}


def test_a_person_with_words_a_photo_and_filters(index):
    with Library.open(index) as library:
        with_words = library.search(build_query([text_term("at the beach")], people=["Anna"]), k=10)
        assert names(with_words) == {"anna.jpg", "anna_ben.jpg", "anna_ben_carl.jpg"}
        vector = library.query_vector(build_query([text_term("at the beach")]))
        scores = {Path(r.path).name: r.score for r in with_words}
        for result in with_words:  # scored as a search without the filter scores them
            stored = library.vector(result.path)
            assert abs(float(stored @ vector) - scores[Path(result.path).name]) < 1e-4
        photo = next(r.path for r in with_words if r.path.endswith("/anna.jpg"))
        like = library.search(parse_query(images=[photo], people=["Ben"]))
        assert names(like) == {"ben.jpg", "anna_ben.jpg", "anna_ben_carl.jpg"}
        inside = library.search(parse_query(people=["Anna"]), filters=SearchFilters.parse(folder=str(Path(photo).parent)))
        assert names(inside) == {"anna.jpg", "anna_ben.jpg"}
        assert library.search(parse_query(["x"], people=["Ben"]), k=1)[0].path.endswith(("ben.jpg", "carl.jpg"))


def test_unknown_people_and_empty_names_are_errors(index):
    with Library.open(index) as library:
        with pytest.raises(QueryError, match="no person called 'Zoe'"):
            library.search(parse_query(people=["Anna", "Zoe"]))
    with pytest.raises(EmptyQuery):
        parse_query(people=["  "])
    with pytest.raises(QueryError, match="at most"):
        parse_query(people=[f"p{i}" for i in range(11)])


def test_the_cli_searches_by_person_and_corrects_people(index, capsys):
    at = ["--index", str(index)]
    assert main(["search", "--person", "Anna", "--person", "Ben", "-f", *at]) == 0
    assert {Path(p).name for p in capsys.readouterr().out.split()} == {"anna_ben.jpg", "anna_ben_carl.jpg"}
    assert main(["search", "--person", "Ben", *at]) == 0
    assert capsys.readouterr().out.count("\twith: Anna, Ben\n") == 2
    assert main(["search", "--person", "Ben", "--json", *at]) == 0
    assert sorted(tuple(r["people"]) for r in json.loads(capsys.readouterr().out)) == [
        ("Anna", "Ben"), ("Anna", "Ben"), ("Ben",)]
    assert main(["search", "sunny", "--person", "nobody-at-all", *at]) == 1
    assert "no person called 'nobody-at-all'" in capsys.readouterr().err
    assert main(["people", "--json", *at]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {p["name"] for p in listed} == {"Anna", "Ben", None} and sum(p["faces"] for p in listed) == 7
    carl = next(p["id"] for p in listed if p["name"] is None)
    assert main(["people", *at, "name", str(carl), "Carl"]) == 0  # the index given before the action
    assert main(["people", "merge", "Ben", "Carl", *at]) == 0
    capsys.readouterr()
    assert main(["people", "faces", "Ben", "--json", *at]) == 0
    faces = json.loads(capsys.readouterr().out)
    assert len(faces) == 4
    wrong = next(f["id"] for f in faces if f["box"] == [464.0, 112.0, 560.0, 208.0])  # Carl's face
    assert main(["people", "split", str(wrong), *at]) == 0
    assert main(["people", "not-a-face", str(wrong), *at]) == 0
    assert main(["status", *at]) == 0
    assert "faces:        6 found in 4 photos, 2 people" in capsys.readouterr().out
    assert main(["people", "--forget", *at]) == 0
    assert main(["status", *at]) == 0
    assert "0 found in 0 photos, 0 people (finding faces is off" in capsys.readouterr().out


def test_the_cli_refuses_a_non_commercial_pack_without_consent(pixseek_home, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", open("/dev/null"))
    assert main(["people", "install", "buffalo_l"]) == 1
    err = capsys.readouterr().err
    assert "non-commercial research use only" in err and "--accept-licence" in err
    assert main(["people", "models"]) == 0
    assert "antelopev2" in capsys.readouterr().out
