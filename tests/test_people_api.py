"""People over HTTP (a real `pixseek serve` process, a real client): the person filter of a
search, listing, naming, merging, splitting, "not a face", and a clear 4xx for every bad input."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from PIL import Image

from api_server import ApiServer, server_env
from conftest import TEST_MODEL
from face_standins import install_stand_in, photo_with_faces
from pixseek.library import Library

DEMO = Path(__file__).resolve().parents[1] / "demo" / "photos"
SCENES = {"anna.jpg": [((160, 160), 1)], "anna_ben.jpg": [((160, 160), 1), ((480, 288), 2)],
          "ben.jpg": [((240, 320), 2)], "carl.jpg": [((320, 240), 3)]}


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_bundle_dir):
    home = tmp_path_factory.mktemp("people-api") / "home"
    shutil.copytree(tiny_bundle_dir, home / "models" / TEST_MODEL)
    root = home.parent / "photos"
    backgrounds = sorted(DEMO.glob("*.jpg"))
    for n, (name, faces) in enumerate(SCENES.items()):
        photo_with_faces(root / name, faces, background=backgrounds[n])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        patch.setenv("PIXSEEK_MODEL", TEST_MODEL)
        patch.delenv("PIXSEEK_INDEX", raising=False)
        install_stand_in(home.parent / "packs")
        with Library.open(create=True) as library:
            library.index([root])
            by_name = {Path(r.path).name: r.id for r in library.search("a photo", k=10)}
            (anna,) = {f.person for f in library.faces(by_name["anna.jpg"])}
            library.name_person(anna, "Anna")
    return home


@pytest.fixture(scope="module")
def client(home):
    with ApiServer(server_env(home)) as server, server.client() as opened:
        yield opened


def assert_error(response, status: int, words: str = "") -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and "\n" not in body["error"] and words.lower() in body["error"].lower(), body


def names(answer) -> set[str]:
    return {hit["name"] for hit in answer.json()["results"]}


@pytest.mark.processes
def test_search_by_person_and_people_corrections(client):
    assert names(client.get("/api/search", params={"person": "anna"})) == {"anna.jpg", "anna_ben.jpg"}
    people = client.get("/api/people").json()
    assert sorted(p["photos"] for p in people) == [1, 2, 2] and {p["name"] for p in people} == {"Anna", None}
    ben = next(p["id"] for p in people if p["name"] is None and p["photos"] == 2)
    carl = next(p["id"] for p in people if p["photos"] == 1)
    named = client.post(f"/api/people/{ben}/name", json={"name": "Ben"})
    assert named.status_code == 200 and named.json()["name"] == "Ben"
    together = client.post("/api/search", json={"q": "a photo", "person": ["Anna", "Ben"]})
    assert names(together) == {"anna_ben.jpg"} and together.json()["results"][0]["people"] == ["Anna", "Ben"]
    merged = client.post("/api/people/merge", json={"into": "Ben", "others": [str(carl)]})
    assert merged.json()["photos"] == 3
    faces = client.get("/api/people/Ben/faces").json()
    carl_face = next(f for f in faces if f["path"].endswith("carl.jpg"))
    split = client.post(f"/api/faces/{carl_face['id']}/split", json={})
    assert split.status_code == 200 and split.json()["photos"] == 1
    crop = client.get(f"/api/faces/{carl_face['id']}/thumbnail", params={"size": 64})
    assert crop.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(crop.content)).size == (64, 64)
    photo_faces = client.get(f"/api/files/{carl_face['photo_id']}/faces").json()
    assert [f["id"] for f in photo_faces] == [carl_face["id"]]
    marked = client.post(f"/api/faces/{carl_face['id']}/not-a-face")
    assert marked.status_code == 200 and marked.json()["not_face"] is True
    assert {p["name"] for p in client.get("/api/people").json()} == {"Anna", "Ben"}


@pytest.mark.processes
def test_bad_people_requests_are_clear_4xx(client):
    assert_error(client.get("/api/search", params={"person": "Zoe"}), 400, "no person called 'Zoe'")
    assert_error(client.get("/api/search", params={"person": " "}), 400, "must be named")
    assert_error(client.get("/api/search", params={"person": [f"p{i}" for i in range(11)]}), 422)
    assert_error(client.get("/api/people/Zoe/faces"), 404, "no person called")
    assert_error(client.post("/api/people/Anna/name", json={"name": ""}), 400, "must not be empty")
    assert_error(client.post("/api/people/Anna/name", json={"nom": "x"}), 422)
    assert_error(client.post("/api/people/Anna/name", json={"name": "x" * 101}), 422)
    assert_error(client.post("/api/people/merge", json={"into": "Anna", "others": []}), 422)
    assert_error(client.post("/api/people/merge", json={"into": "Anna", "others": ["Anna"]}), 400, "itself")
    assert_error(client.post("/api/people/merge", json={"into": "Anna", "others": ["999"]}), 404)
    assert_error(client.post("/api/faces/999999/split", json={}), 404, "no face")
    assert_error(client.post(f"/api/faces/{2**70}/split", json={}), 404, "no face")
    assert_error(client.get(f"/api/faces/{2**70}/thumbnail"), 404, "no face")
    assert_error(client.get(f"/api/people/{2**70}/faces"), 404, "no person")
    assert_error(client.get("/api/search", params={"person": f"#{2**70}"}), 400, "no person")
    assert_error(client.get(f"/api/files/{2**70}/faces"), 404, "no photo")
    assert_error(client.post("/api/faces/0/not-a-face"), 422)
    assert_error(client.post("/api/faces/abc/not-a-face"), 422)
    assert_error(client.get("/api/files/999999/faces"), 404, "no photo")
    assert_error(client.get("/api/faces/999999/thumbnail"), 404, "no face")
    assert_error(client.get("/api/faces/1/thumbnail", params={"size": 99999}), 422)
