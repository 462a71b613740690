"""`pixseek mcp`'s search tool by the people in a photo (`person`): a real server process driven
by the MCP SDK's stdio client, over an index whose faces the stand-in face pack found."""

from __future__ import annotations

from pathlib import Path

import pytest

from face_standins import install_stand_in, photo_with_faces
from pixseek import Library
from test_mcp import call, calls, data, error

pytestmark = [pytest.mark.processes, pytest.mark.timeout(180)]


def test_person_finds_the_photos_they_are_in(pixseek_home, tmp_path):
    install_stand_in(tmp_path / "packs")
    root = tmp_path / "photos"
    photo_with_faces(root / "anna.jpg", [((160, 160), 1)])
    photo_with_faces(root / "anna_ben.jpg", [((160, 160), 1), ((480, 288), 2)])
    photo_with_faces(root / "ben.jpg", [((240, 320), 2)])
    index = tmp_path / "index"
    with Library.open(index, create=True) as library:
        library.index([root])
        (anna,) = {p.id for p in library.people() if p.photos == 2 and
                   any(f.path.endswith("/anna.jpg") for f in library.person_faces(p.id))}
        library.name_person(anna, "Anna")
    alone, with_text, unknown = call(index, calls(
        ("search", {"person": ["anna"]}), ("search", {"person": ["Anna"], "text": "a beach", "k": 1}),
        ("search", {"person": ["Zoe"]})))
    assert {r["name"] for r in data(alone)["results"]} == {"anna.jpg", "anna_ben.jpg"}
    assert [Path(r["path"]).parent for r in data(with_text)["results"]] == [root]
    assert "no person called 'Zoe'" in error(unknown)
