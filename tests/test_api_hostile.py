"""A hostile client against a real `pixseek serve`: links out of the server's folders, ids past
SQLite's integers, empty paths, other loopback addresses, and every route driven with extreme
values (hypothesis), which must all end in a 4xx with a JSON error and a quiet server log."""

from __future__ import annotations

import json
import shutil
import time
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from api_server import ApiServer, server_env
from conftest import TEST_MODEL, make_photo

HUGE = [2**63, 2**63 + 1, 2**64, 10**30, -(2**63) - 1]


@pytest.fixture(scope="module")
def place(tmp_path_factory, tiny_bundle_dir):
    """/allowed (photos, and links out) and /outside (a secret photo)."""
    base = tmp_path_factory.mktemp("hostile")
    shutil.copytree(tiny_bundle_dir, base / "home" / "models" / TEST_MODEL)
    allowed, outside = base / "allowed", base / "outside"
    for i in range(4):
        make_photo(allowed / f"mine {i}.jpg", seed=i)
    make_photo(outside / "secret.jpg", seed=99)
    (allowed / "secretdir").symlink_to(outside)
    (allowed / "secret-link.jpg").symlink_to(outside / "secret.jpg")
    (allowed / "album").mkdir()
    make_photo(allowed / "album" / "a.jpg", seed=50)
    return base


@pytest.fixture(scope="module")
def server(place):
    with ApiServer(server_env(place / "home"), str(place / "allowed")) as running:
        yield running


@pytest.fixture(scope="module")
def client(server):
    with server.client() as opened:
        yield opened


def wait_for_run(client) -> dict:
    deadline = time.monotonic() + 120
    while (state := client.get("/api/index").json())["running"]:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    return state


def error_of(response, status: int | None = None) -> str:
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    if status is not None:
        assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == response.status_code and isinstance(body["error"], str) and "\n" not in body["error"]
    return body["error"]


@pytest.fixture(scope="module")
def indexed(client, place):
    """The server's folders indexed, after the hostile index requests were refused."""
    for folder in ("secretdir", "secretdir/", "secretdir/../secretdir"):
        assert "may not index" in error_of(client.post("/api/index", json={"folders": [str(place / "allowed" / folder)]}),
                                           403)
    assert client.post("/api/index", json={}).status_code == 202
    state = wait_for_run(client)
    assert state["report"]["indexed"] == 5, state
    return {hit["name"]: hit["id"] for hit in client.get("/api/search", params={"q": "x", "k": 100}).json()["results"]}


def test_a_linked_folder_is_refused_and_nothing_outside_is_served(client, place, indexed):
    assert sorted(indexed) == ["a.jpg", "mine 0.jpg", "mine 1.jpg", "mine 2.jpg", "mine 3.jpg"]
    secret = (place / "outside" / "secret.jpg").read_bytes()
    for id_ in indexed.values():
        assert client.get(f"/api/files/{id_}/original").content != secret
    # After the refusals the link to the secret file inside /allowed is still not followed.
    assert "secret-link.jpg" not in indexed and "secret.jpg" not in indexed
    assert error_of(client.get("/api/search", params={"q": "x", "folder": str(place / "allowed" / "secretdir")}), 400)


def test_a_file_swapped_for_a_link_out_is_not_served(client, place, indexed):
    photo = place / "allowed" / "album" / "a.jpg"
    kept = photo.with_name("kept.jpg")
    photo.rename(kept)
    photo.symlink_to(place / "outside" / "secret.jpg")
    try:
        error_of(client.get(f"/api/files/{indexed['a.jpg']}/original"), 403)
        error_of(client.get(f"/api/files/{indexed['a.jpg']}/thumbnail", params={"size": 99}), 403)
    finally:
        photo.unlink()
        kept.rename(photo)
    assert client.get(f"/api/files/{indexed['a.jpg']}/original").content == photo.read_bytes()


@pytest.mark.parametrize("huge", HUGE)
def test_ids_past_sqlite_integers_are_refused(client, indexed, huge):
    for path in (f"/api/files/{huge}", f"/api/files/{huge}/thumbnail", f"/api/files/{huge}/original"):
        error_of(client.get(path))
    error_of(client.get("/api/search", params={"like": huge}))
    error_of(client.post("/api/search", json={"like": [huge]}))
    error_of(client.post("/api/search", json={"terms": [{"like": huge}]}))


@pytest.mark.parametrize("folder", ["", " ", "\x00", "relative", "/" + "x" * 5000])
def test_empty_and_odd_folders_are_refused(client, indexed, folder):
    error_of(client.post("/api/index", json={"folders": [folder]}))
    error_of(client.get("/api/search", params={"q": "x", "folder": folder}))


def test_any_loopback_address_works_without_a_token(place):
    with ApiServer(server_env(place / "home"), host="127.0.0.2", connect="127.0.0.2") as other:
        with other.client() as opened:
            answer = opened.get("/api/index")  # answers with or without an index: no test need have made one
            assert answer.status_code == 200, answer.text
        assert not any("token" in line for line in other.stderr)
        with other.client(headers={"host": "evil.example"}) as rebinding:
            error_of(rebinding.get("/api/index"), 403)


# -- every route, extreme values ----------------------------------------------------------------

EXTREME_INTS = st.sampled_from([0, -1, 1, 2**31, 2**53 + 1, 2**63 - 1, *HUGE])
EXTREME_TEXT = st.one_of(st.text(max_size=40), st.sampled_from(["", "\x00", "nan", "inf", "-inf", "1e999", "1.5",
                                                                 "٣", "²", "../../etc/passwd", "/", "x" * 5000,
                                                                 "\udcff", "\n\r", "%00", "null"]))
SCALAR = st.one_of(EXTREME_INTS, st.floats(), EXTREME_TEXT, st.booleans(), st.none())
JSON_VALUE = st.recursive(SCALAR, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                          st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                          max_leaves=12)
SEARCH_KEYS = ["q", "like", "not", "k", "min_score", "folder", "after", "before", "year", "camera", "place", "near",
               "radius", "sort", "terms"]
BODY = st.one_of(JSON_VALUE, st.dictionaries(st.sampled_from(SEARCH_KEYS + ["folders", "rebuild"]),
                                             st.one_of(JSON_VALUE, st.lists(st.fixed_dictionaries(
                                                 {}, optional={"text": SCALAR, "like": SCALAR, "weight": SCALAR}),
                                                 max_size=3)), max_size=5))


def _text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _request(client, route: str, value, params: dict):
    id_ = quote(_text(value).encode("utf-8", "surrogatepass"), safe="") or "0"
    query = {k: _text(v).encode("utf-8", "surrogatepass") for k, v in params.items()}
    if route == "files":
        return client.get(f"/api/files/{id_}", params=query)
    if route == "thumbnail":
        return client.get(f"/api/files/{id_}/thumbnail", params=query)
    if route == "original":
        return client.get(f"/api/files/{id_}/original", params=query)
    if route == "search":
        return client.get("/api/search", params=query)
    if route == "skipped":
        return client.get("/api/skipped", params=query)
    if route == "post-search":
        return client.post("/api/search", content=json.dumps(value, allow_nan=True).encode(),
                           headers={"content-type": "application/json"})
    if route == "post-index":
        return client.post("/api/index", content=json.dumps(value, allow_nan=True).encode(),
                           headers={"content-type": "application/json"})
    if route == "image":
        return client.post("/api/search/image", data={k: _text(v) for k, v in params.items()},
                           files={"image": ("x.jpg", _text(value).encode("utf-8", "surrogatepass"), "image/jpeg")})
    return client.post("/api/search", content=_text(value).encode("utf-8", "surrogatepass"),
                       headers={"content-type": "application/json"})


@pytest.mark.slow  # 300 requests of every shape: left to make test
@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(["files", "thumbnail", "original", "search", "skipped", "post-search", "post-index",
                              "image", "raw-body"]),
       value=st.one_of(SCALAR, BODY),
       params=st.dictionaries(st.sampled_from(SEARCH_KEYS + ["size", "offset", "limit"]), SCALAR, max_size=4))
@example(route="post-search", value={"\n": None}, params={})  # a field named by a line break: one line back
def test_no_input_yields_a_server_error(client, indexed, route, value, params):
    try:
        response = _request(client, route, value, params)
    except (httpx.InvalidURL, UnicodeEncodeError):
        return  # the client itself refuses to send it
    if route == "post-index" and response.status_code == 202:
        wait_for_run(client)
    assert response.status_code < 500, (route, value, params, response.text)
    if response.status_code >= 400:
        error_of(response)


def test_the_server_log_stayed_quiet(server, indexed):
    assert not [line for line in server.stderr if not line.startswith("pixseek: ")], "".join(server.stderr)
