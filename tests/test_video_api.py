"""Videos through a real `pixseek serve` and a real HTTP client: results with their moment, the
moment's thumbnail, the file in byte ranges (206, 416) as a browser's <video> asks, "more like
this" from a moment, --type, and the photos' containment rules: links out of the folder, a
file swapped for a link out, ids of photos or of nothing."""

from __future__ import annotations

import io
import shutil

import httpx
import pytest
from PIL import Image

from api_server import ApiServer, server_env
from conftest import TEST_MODEL, make_photo
from pixseek.library import Library
from video_kit import make_clip, scene_photos


@pytest.fixture(scope="module")
def place(tmp_path_factory, tiny_bundle_dir):
    """/allowed (clips, a photo, links out) and /outside (a secret clip)."""
    base = tmp_path_factory.mktemp("video-api")
    home = base / "home"
    shutil.copytree(tiny_bundle_dir, home / "models" / TEST_MODEL)
    allowed, outside = base / "allowed", base / "outside"
    photos = [Image.open(p) for p in scene_photos(6)]
    make_clip(allowed / "one.mp4", photos[:3])
    make_clip(allowed / "album" / "two.mov", photos[3:])
    make_photo(allowed / "photo.jpg", seed=1)
    make_clip(outside / "secret.mp4", photos[1:3])
    (allowed / "secretdir").symlink_to(outside)
    (allowed / "secret-link.mp4").symlink_to(outside / "secret.mp4")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        patch.setenv("PIXSEEK_MODEL", TEST_MODEL)
        patch.delenv("PIXSEEK_INDEX", raising=False)
        with Library.open(create=True) as library:
            library.index([allowed])
    return base


@pytest.fixture(scope="module")
def client(place):
    with ApiServer(server_env(place / "home")) as server, server.client() as opened:
        yield opened
    assert not any("Traceback" in line for line in server.stderr), server.stderr


def error_of(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status and "\n" not in body["error"]
    return body["error"]


def videos(client) -> dict[str, dict]:
    answer = client.get("/api/search", params={"q": "x", "k": 20, "type": "video"})
    assert answer.status_code == 200, answer.text
    return {hit["name"]: hit for hit in answer.json()["results"]}


def test_results_carry_the_moment_and_links_to_it(client, place):
    found = videos(client)
    assert sorted(found) == ["one.mp4", "two.mov"]  # nothing through the links out
    hit = found["one.mp4"]
    assert hit["type"] == "video" and hit["seconds"] >= 0 and hit["id"] >= 2**40
    assert hit["original"] == f"/api/videos/{hit['id']}/file"
    thumb = client.get(hit["thumbnail"], params={"size": 96})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 96
    info = client.get(f"/api/videos/{hit['id']}").json()
    assert info["name"] == "one.mp4" and info["complete"] and info["moments"] >= 3 and info["duration"] > 8
    photos = client.get("/api/search", params={"q": "x", "k": 20, "type": "photo"}).json()["results"]
    assert [h["name"] for h in photos] == ["photo.jpg"] and photos[0]["type"] == "photo"
    error_of(client.get("/api/search", params={"q": "x", "type": "audio"}), 422)


def test_the_file_is_served_whole_and_in_byte_ranges(client, place):
    video_id = videos(client)["one.mp4"]["id"]
    data = (place / "allowed" / "one.mp4").read_bytes()
    whole = client.get(f"/api/videos/{video_id}/file")
    assert whole.status_code == 200 and whole.content == data and whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["content-type"] == "video/mp4"
    for header, start, end in (("bytes=0-99", 0, 99), ("bytes=100-", 100, len(data) - 1),
                               ("bytes=-10", len(data) - 10, len(data) - 1),
                               (f"bytes=50-{len(data) * 2}", 50, len(data) - 1)):
        part = client.get(f"/api/videos/{video_id}/file", headers={"Range": header})
        assert part.status_code == 206, (header, part.text)
        assert part.content == data[start:end + 1]
        assert part.headers["content-range"] == f"bytes {start}-{end}/{len(data)}"
        assert int(part.headers["content-length"]) == end - start + 1
    beyond = client.get(f"/api/videos/{video_id}/file", headers={"Range": f"bytes={len(data)}-"})
    assert "beyond" in error_of(beyond, 416) and beyond.headers["content-range"] == f"bytes */{len(data)}"
    for ignored in ("bytes=0-9,20-29", "items=0-9", "bytes=9-3", "bytes=x-"):  # whole file, as RFC 9110 allows
        answer = client.get(f"/api/videos/{video_id}/file", headers={"Range": ignored})
        assert answer.status_code == 200 and answer.content == data, ignored


def test_more_like_this_from_a_moment(client):
    hit = videos(client)["two.mov"]
    term = {"like": hit["id"], "seconds": hit["seconds"]}
    answer = client.post("/api/search", json={"terms": [term], "k": 3})
    assert answer.status_code == 200, answer.text
    best = answer.json()["results"][0]
    assert best["id"] == hit["id"] and best["seconds"] == hit["seconds"] and best["score"] > 0.999
    assert "seconds" in error_of(client.post("/api/search", json={"like": [hit["id"]]}), 400)
    photo = client.get("/api/search", params={"q": "x", "type": "photo"}).json()["results"][0]["id"]
    assert "not an indexed video" in error_of(
        client.post("/api/search", json={"terms": [{"like": photo, "seconds": 1}]}), 400)


def test_ids_that_name_no_video_are_refused(client):
    photo = client.get("/api/search", params={"q": "x", "type": "photo"}).json()["results"][0]["id"]
    for id_ in (photo, 2**40 + 10**6, 2**63, 0):
        for path in (f"/api/videos/{id_}", f"/api/videos/{id_}/thumbnail", f"/api/videos/{id_}/file"):
            answer = client.get(path)
            assert 400 <= answer.status_code < 500 and "error" in answer.json(), (path, answer.text)
    video_id = videos(client)["one.mp4"]["id"]
    error_of(client.get(f"/api/files/{video_id}/original"), 404)  # a video id names no photo
    error_of(client.get(f"/api/videos/{video_id}/thumbnail", params={"t": "../../etc"}), 422)
    error_of(client.get(f"/api/videos/{video_id}/thumbnail", params={"t": -1}), 422)


def test_a_video_swapped_for_a_link_out_is_not_served(client, place):
    video_id = videos(client)["two.mov"]["id"]
    clip = place / "allowed" / "album" / "two.mov"
    kept = clip.with_name("kept.mov")
    clip.rename(kept)
    clip.symlink_to(place / "outside" / "secret.mp4")
    try:
        error_of(client.get(f"/api/videos/{video_id}/file"), 403)
        error_of(client.get(f"/api/videos/{video_id}/file", headers={"Range": "bytes=0-99"}), 403)
        error_of(client.get(f"/api/videos/{video_id}/thumbnail", params={"t": 4.5, "size": 77}), 403)
    finally:
        clip.unlink()
        kept.rename(clip)
    assert client.get(f"/api/videos/{video_id}/file").content == clip.read_bytes()
