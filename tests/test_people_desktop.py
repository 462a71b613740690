"""The desktop app's "People:" field, on a virtual X display: the folder indexed with the stand-in
face pack (faces found, grouped), a person named, then a search by people alone and with words."""

from __future__ import annotations

import os

import pytest

from face_standins import install_stand_in, photo_with_faces
from pixseek.engine.query import names_typed
from pixseek.library import Library
from test_desktop_app import ResultsPage, browser_command, opened_urls, start_app, xvfb  # noqa: F401 (fixtures)

pytestmark = pytest.mark.gui


def test_people_names_are_split_by_commas():
    assert names_typed(" Anna, Ben ,, ") == ["Anna", "Ben"] and names_typed("") == []


def test_a_search_by_people_finds_the_photos_they_are_all_in(start_app, tmp_path, opened_urls):  # noqa: F811
    install_stand_in(tmp_path / "packs")
    folder = tmp_path / "family"
    photo_with_faces(folder / "anna.jpg", [((160, 160), 1)])
    photo_with_faces(folder / "both.jpg", [((160, 160), 1), ((480, 288), 2)])
    photo_with_faces(folder / "ben.jpg", [((240, 320), 2)])
    driver = start_app()
    app = driver.app
    driver.choose_folder(folder)
    driver.wait_idle("indexing")
    with Library.open(app.index_dir) as library:
        for person in library.people():
            names = {os.path.basename(f.path) for f in library.person_faces(person.id)}
            library.name_person(person.id, "Anna" if "anna.jpg" in names else "Ben")
    driver.type_into(app.people_entry, "anna, BEN")
    app.search_button.invoke()
    driver.wait(lambda: len(opened_urls()) == 1, "the results page")
    assert [os.path.basename(p) for p in ResultsPage(opened_urls()[0]).paths()] == ["both.jpg"]
    driver.wait_idle("the search")
    driver.type_into(app.people_entry, "Zoe")
    app.search_button.invoke()
    assert "no person called 'Zoe'" in driver.wait_dialog(1).message
