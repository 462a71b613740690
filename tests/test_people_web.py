"""The web app's People page through Streamlit's AppTest: real Library, real images, the
stand-in face pack; naming in place, a person's faces, splitting one out, merging."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from face_standins import install_stand_in, photo_with_faces
from pixseek.library import Library
from pixseek.web import app

DEMO = Path(__file__).resolve().parents[1] / "demo" / "photos"


@pytest.fixture
def index(pixseek_home, tmp_path, monkeypatch) -> Path:
    install_stand_in(tmp_path / "packs")
    root = tmp_path / "photos"
    photo_with_faces(root / "anna.jpg", [((160, 160), 1)], background=DEMO / "coffee-cup.jpg")
    photo_with_faces(root / "anna_ben.jpg", [((160, 160), 1), ((480, 288), 2)])
    photo_with_faces(root / "ben.jpg", [((240, 320), 2)])
    index = tmp_path / "index"
    with Library.open(index, create=True) as library:
        library.index([root])
    monkeypatch.setenv("PIXSEEK_INDEX", str(index))
    return index


def people(index: Path) -> list[tuple[str, int]]:
    with Library.open(index) as library:
        return sorted((p.name or "", p.photos) for p in library.people())


def test_the_people_page_names_splits_and_merges(index):
    at = AppTest.from_file(str(app.PEOPLE_PAGE), default_timeout=60).run()
    assert not at.exception and len(at.image) == 2  # each person's best face
    assert any("2 photos" in caption.value for caption in at.caption)
    first = at.text_input[0]
    person = int(first.key.split("_")[1])
    first.input("Anna")
    at.button(key=f"FormSubmitter:person_{person}-Save name").click().run()
    assert people(index) == [("", 2), ("Anna", 2)]
    at.button(key=f"open_{person}").click().run()
    assert len(at.image) == 4  # two people's covers and the opened person's two faces
    split = next(b for b in at.button if b.key.startswith("split_"))
    split.click().run()
    assert people(index) == [("", 1), ("", 2), ("Anna", 1)]
    with Library.open(index) as library:
        (split_out,) = [p.id for p in library.people() if p.name is None and p.photos == 1]
    at.selectbox[1].set_value(f"person {split_out} (#{split_out})")
    at.selectbox[0].set_value(next(o for o in at.selectbox[0].options if o.startswith("Anna")))
    at.button(key="FormSubmitter:merge-Merge").click().run()
    assert not at.exception and not at.error
    assert people(index) == [("", 2), ("Anna", 2)]


def test_the_people_page_without_faces_says_how_to_find_them(pixseek_home, tmp_path, monkeypatch):
    root = tmp_path / "photos"
    photo_with_faces(root / "nobody.jpg", [])
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([root])
    monkeypatch.setenv("PIXSEEK_INDEX", str(tmp_path / "index"))
    at = AppTest.from_file(str(app.PEOPLE_PAGE), default_timeout=60).run()
    assert "Finding faces is off" in at.info[0].value


def test_the_search_page_finds_photos_by_the_people_in_them(index):
    from pixseek.web import launch
    from pixseek.web.messages import escape

    with Library.open(index) as library:
        for person in library.people():
            names = {Path(f.path).name for f in library.person_faces(person.id)}
            library.name_person(person.id, "Anna" if "anna.jpg" in names else "Ben")
    at = AppTest.from_file(str(launch.APP), default_timeout=60)
    at.query_params["person"] = "anna, ben"
    at.run()
    assert not at.exception and not at.error
    shown = [c.value.split(" · ")[-1] for c in at.caption if c.value.startswith("**")]
    assert shown == [escape("anna_ben.jpg")]
    at.text_input(key="person").input("Zoe").run()
    assert "no person called 'Zoe'" in at.error[0].value
