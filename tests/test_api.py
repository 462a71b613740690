"""The HTTP API driven by a real HTTP client (httpx) against a real `pixseek serve` process."""

from __future__ import annotations

import io
import os
import shutil

import pytest
from PIL import Image

from api_server import ApiServer, server_env
from conftest import TEST_MODEL, make_photo
from pixseek.library import Library
from pixseek.engine.query import Query, Term

PHOTOS = 12


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_bundle_dir):
    home = tmp_path_factory.mktemp("api") / "home"
    shutil.copytree(tiny_bundle_dir, home / "models" / TEST_MODEL)
    return home


@pytest.fixture(scope="module")
def photos(home):
    root = home.parent / "photos"
    for i in range(PHOTOS):
        make_photo(root / ("trip" if i % 3 == 0 else "home") / f"photo {i}.jpg", seed=i)
    (root / "home" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


@pytest.fixture(scope="module")
def library(home, photos):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        patch.setenv("PIXSEEK_MODEL", TEST_MODEL)
        patch.delenv("PIXSEEK_INDEX", raising=False)
        with Library.open(create=True) as opened:
            opened.index([photos])
            yield opened


@pytest.fixture(scope="module")
def server(home, library):
    with ApiServer(server_env(home)) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with server.client() as opened:
        yield opened


def ids_by_name(client) -> dict[str, int]:
    answer = client.get("/api/search", params={"q": "a photo", "k": 100}).json()
    return {hit["name"]: hit["id"] for hit in answer["results"]}


def assert_error(response, status: int, words: str = "") -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and isinstance(body["error"], str) and "\n" not in body["error"]
    assert words.lower() in body["error"].lower(), body["error"]
    return body["error"]


# -- search ------------------------------------------------------------------------------------

def test_text_search_returns_what_the_engine_returns(client, library):
    answer = client.get("/api/search", params={"q": "a red car", "k": 5})
    assert answer.status_code == 200
    body = answer.json()
    expected = library.search("a red car", k=5)
    assert [(h["path"], h["id"]) for h in body["results"]] == [(r.path, r.id) for r in expected]
    assert [h["score"] for h in body["results"]] == pytest.approx([r.score for r in expected], abs=1e-6)
    assert body["query"] == "'a red car'"
    first = body["results"][0]
    assert first["name"] == os.path.basename(first["path"])
    assert first["thumbnail"] == f"/api/files/{first['id']}/thumbnail"


def test_weighted_mixed_and_negative_terms_reach_the_engine(client, library):
    ids = ids_by_name(client)
    like = ids["photo 3.jpg"]
    body = {"terms": [{"text": "beach", "weight": 2}, {"like": like, "weight": 1}], "not": ["people"], "k": 6}
    answer = client.post("/api/search", json=body)
    assert answer.status_code == 200, answer.text
    photo3 = library.file(like).path
    expected = library.search(Query((Term(2, text="beach"), Term(1, image=photo3), Term(-1, text="people"))), k=6)
    assert [h["id"] for h in answer.json()["results"]] == [r.id for r in expected]
    assert [h["score"] for h in answer.json()["results"]] == pytest.approx([r.score for r in expected], abs=1e-6)
    assert answer.json()["query"].endswith(" - 'people'")


def test_like_an_indexed_photo_finds_it_first(client):
    ids = ids_by_name(client)
    answer = client.get("/api/search", params={"like": ids["photo 5.jpg"], "k": 3}).json()
    assert answer["results"][0]["id"] == ids["photo 5.jpg"]
    assert answer["results"][0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_uploaded_photo_finds_itself_and_mixes_with_words(client, photos):
    data = (photos / "home" / "photo 4.jpg").read_bytes()
    answer = client.post("/api/search/image", files={"image": ("query.jpg", data, "image/jpeg")}, data={"k": "3"})
    assert answer.status_code == 200, answer.text
    top = answer.json()["results"][0]
    assert top["name"] == "photo 4.jpg" and top["score"] == pytest.approx(1.0, abs=1e-3)
    mixed = client.post("/api/search/image", files={"image": ("query.jpg", data, "image/jpeg")},
                        data={"q": "a dog", "not": ["snow"], "k": "3"}).json()
    assert mixed["query"] == "'a dog' + image upload query.jpg - 'snow'"
    assert mixed["results"][0]["score"] < 0.999  # the words moved the query away from the photo itself


def test_min_score_and_folder_filter(client, photos):
    every = client.get("/api/search", params={"q": "a tree", "k": 50}).json()["results"]
    cut = every[len(every) // 2]["score"]
    kept = client.get("/api/search", params={"q": "a tree", "k": 50, "min_score": cut}).json()["results"]
    assert kept and all(h["score"] >= cut for h in kept) and len(kept) < len(every)
    trip = client.get("/api/search", params={"q": "a tree", "k": 50, "folder": str(photos / "trip")}).json()["results"]
    assert len(trip) == 4 and all(h["path"].startswith(str(photos / "trip") + "/") for h in trip)


def test_metadata_filters_sort_and_each_hits_metadata(client, photos):
    every = client.get("/api/search", params={"q": "a tree", "k": 50}).json()["results"]
    assert every and all(h["time_source"] == "file" and h["taken"] and h["width"] == 320 for h in every)
    assert client.get("/api/search", params={"q": "a tree", "k": 50, "after": "2000"}).json()["results"] == every
    assert client.get("/api/search", params={"q": "a tree", "before": "2000"}).json()["results"] == []
    assert client.get("/api/search", params={"q": "a tree", "camera": "Pixel"}).json()["results"] == []
    dated = client.post("/api/search", json={"q": "a tree", "k": 50, "sort": "date", "folder": str(photos / "trip")})
    taken = [h["taken"] for h in dated.json()["results"]]
    assert len(taken) == 4 and taken == sorted(taken)
    data = (photos / "home" / "photo 4.jpg").read_bytes()
    none = client.post("/api/search/image", files={"image": ("q.jpg", data, "image/jpeg")},
                       data={"k": "3", "year": "1999"})
    assert none.status_code == 200 and none.json()["results"] == []


def test_text_is_never_read_as_a_path(client, photos):
    """A query naming an indexed photo (or a system file) is searched as words, not opened."""
    photo = str(photos / "home" / "photo 4.jpg")
    answer = client.get("/api/search", params={"q": photo, "k": 1}).json()
    assert answer["query"] == repr(photo) and answer["results"][0]["score"] < 0.99
    for params in ({"q": "/etc/passwd"}, {"q": "dog", "not": "../../../etc/passwd"}, {"q": "~root/.ssh/id_rsa"}):
        answer = client.get("/api/search", params=params)
        assert answer.status_code == 200 and "image" not in answer.json()["query"]
    posted = client.post("/api/search", json={"terms": [{"text": photo, "weight": 2}]}).json()
    assert posted["query"] == f"2 x {photo!r}"


# -- files, status, skipped ----------------------------------------------------------------------

def test_file_details_thumbnail_and_original(client, photos):
    ids = ids_by_name(client)
    id_ = ids["photo 7.jpg"]
    info = client.get(f"/api/files/{id_}").json()
    path = photos / "home" / "photo 7.jpg"
    assert info["path"] == str(path) and (info["width"], info["height"]) == (320, 240)
    assert info["size"] == path.stat().st_size
    thumb = client.get(f"/api/files/{id_}/thumbnail", params={"size": 64})
    assert thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 64
    original = client.get(f"/api/files/{id_}/original")
    assert original.content == path.read_bytes() and original.headers["content-type"] == "image/jpeg"


def test_status_and_skipped(client, photos):
    status = client.get("/api/status").json()
    assert status["images"] == PHOTOS and status["folders"] == [str(photos)] and status["consistent"]
    assert status["model_id"] and status["skipped"] == 1
    skipped = client.get("/api/skipped").json()
    assert skipped["total"] == 1 and skipped["items"][0]["path"] == str(photos / "home" / "broken.jpg")
    assert skipped["items"][0]["reason"]
    assert client.get("/api/skipped", params={"offset": 1}).json()["items"] == []


def test_docs_and_openapi_are_served_without_a_cdn(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "cdn" not in docs.text.lower()
    assert client.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
    schema = client.get("/openapi.json").json()
    for path in ("/api/search", "/api/search/image", "/api/files/{id_}/thumbnail", "/api/files/{id_}/original",
                 "/api/status", "/api/skipped", "/api/index", "/api/index/cancel", "/api/index/events"):
        assert path in schema["paths"], path


# -- bad input -----------------------------------------------------------------------------------

@pytest.mark.parametrize("params, status, words", [
    ({}, 400, "empty query"),
    ({"q": ""}, 400, "empty query"),
    ({"q": "   "}, 400, "empty query"),
    ({"not": "people"}, 400, "empty query"),
    ({"q": "dog", "k": 0}, 422, "k:"),
    ({"q": "dog", "k": 1001}, 422, "k:"),
    ({"q": "dog", "k": "ten"}, 422, "k:"),
    ({"q": "dog", "min_score": 2}, 422, "min_score"),
    ({"q": "x" * 1001}, 422, "q:"),
    ({"like": 999999}, 404, "no photo with id"),
    ({"like": "../../etc/passwd"}, 422, "like"),
    ({"q": "dog", "folder": "../../etc"}, 400, "absolute"),
    ({"q": "dog", "folder": "/etc"}, 400, "not inside an indexed folder"),
    ({"q": "dog", "after": "June"}, 400, "is not a date"),
    ({"q": "dog", "near": "somewhere"}, 400, "not lat,lon"),
    ({"q": "dog", "sort": "random"}, 422, "sort"),
])
def test_bad_searches_get_one_line_json_errors(client, params, status, words):
    assert_error(client.get("/api/search", params=params), status, words)


def test_traversal_out_of_an_indexed_folder_is_refused(client, photos):
    sneaky = f"{photos}/trip/../../../etc"
    assert_error(client.get("/api/search", params={"q": "dog", "folder": sneaky}), 400, "not inside")
    assert_error(client.post("/api/index", json={"folders": [f"{photos}/../.."]}), 403, "may not index")
    assert_error(client.post("/api/index", json={"folders": ["/etc"]}), 403, "may not index")
    assert_error(client.post("/api/index", json={"folders": ["photos"]}), 422, "absolute")
    assert_error(client.get("/api/files/..%2F..%2Fetc%2Fpasswd"), 404)
    assert_error(client.get("/api/files/1/..%2F..%2F..%2Fetc%2Fpasswd"), 404)
    assert_error(client.get("/api/files/1/thumbnail", params={"size": "../../x"}), 422, "size")
    assert_error(client.get("/api/skipped", params={"offset": -1}), 422, "offset")
    assert_error(client.get("/api/skipped", params={"limit": "../etc"}), 422, "limit")
    upload = client.post("/api/search/image", files={"image": ("../../../etc/passwd", b"root:x:0:0", "text/plain")})
    assert_error(upload, 415, "not an image")


def test_bad_post_bodies(client):
    assert_error(client.post("/api/search", content=b"{not json", headers={"content-type": "application/json"}), 422)
    assert_error(client.post("/api/search", json={"q": "dog", "surprise": 1}), 422, "surprise")
    assert_error(client.post("/api/search", json={"terms": [{"text": "dog", "like": 1}]}), 400, "either text or like")
    assert_error(client.post("/api/search", json={"terms": [{"text": "dog", "weight": 0}]}), 400, "weight")
    nan = b'{"terms": [{"text": "dog", "weight": NaN}]}'
    assert_error(client.post("/api/search", content=nan, headers={"content-type": "application/json"}), 422, "weight")
    assert_error(client.post("/api/search/image", data={"q": "dog"}), 422, "image")
    assert_error(client.get("/api/nothing-here"), 404)
    assert_error(client.delete("/api/search"), 405)


def test_unknown_ids(client):
    assert_error(client.get("/api/files/999999"), 404, "no photo with id 999999")
    assert_error(client.get("/api/files/999999/thumbnail"), 404, "no photo")
    assert_error(client.get("/api/files/999999/original"), 404, "no photo")
    assert_error(client.get("/api/files/0"), 422)
    assert_error(client.get("/api/files/-3/original"), 422)


def test_oversized_and_non_image_uploads(client):
    request_too_big = b"\xff\xd8\xff" + b"\0" * (51 * 2**20)  # refused before the body is read
    assert_error(client.post("/api/search/image", files={"image": ("big.jpg", request_too_big, "image/jpeg")}), 413,
                 "the request is too large")
    photo_too_big = b"\xff\xd8\xff" + b"\0" * (50 * 2**20)  # the request fits, the photo does not
    assert_error(client.post("/api/search/image", files={"image": ("big.jpg", photo_too_big, "image/jpeg")}), 413,
                 "big.jpg is too large; upload a photo of at most 50 MB")
    assert_error(client.post("/api/search/image", files={"image": ("notes.jpg", b"hello" * 100, "image/jpeg")}), 415,
                 "not an image")
    assert_error(client.post("/api/search/image", files={"image": ("empty.png", b"", "image/png")}), 415)


def test_moved_original_is_reported_not_served(client, photos, library):
    path = photos / "home" / "photo 10.jpg"
    id_ = library.search(Query((Term(1, image=str(path)),)), k=1)[0].id
    moved = path.with_name("elsewhere.jpg")
    path.rename(moved)
    try:
        assert_error(client.get(f"/api/files/{id_}/original"), 404, "moved or deleted")
        assert_error(client.get(f"/api/files/{id_}/thumbnail", params={"size": 77}), 404, "no longer be read")
    finally:
        moved.rename(path)
