"""The API as a service: index runs followed by events and polling, cancelling, searches while
indexing (latency printed), the token beyond localhost, Host names, CORS, odd file names."""

from __future__ import annotations

import json
import os
import re
import shutil
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from api_server import ApiServer, server_env
from conftest import TEST_MODEL, make_copies, make_photo

SEARCHES = 300
CONCURRENCY = 16
BULK = 600


pytestmark = pytest.mark.processes  # runs whole pixseek processes: `make test`, not `make test-fast`


@pytest.fixture
def home(tmp_path, tiny_bundle_dir):
    home = tmp_path / "home"
    shutil.copytree(tiny_bundle_dir, home / "models" / TEST_MODEL)
    return home


def events(client: httpx.Client) -> list[tuple[str, dict]]:
    """Every server-sent event of /api/index/events, until the stream ends."""
    found, kind = [], None
    with client.stream("GET", "/api/index/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event:"):
                kind = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                found.append((kind, json.loads(line.split(":", 1)[1])))
    return found


def wait_for_progress(client: httpx.Client, timeout: float = 60, estimated: bool = False) -> dict:
    """The run's state once it reports progress (with `estimated`, a time left: from the first
    saved batch on), or once it has ended."""
    deadline = time.monotonic() + timeout
    while True:
        state = client.get("/api/index").json()
        if (state["progress"] and (state["eta"] is not None or not estimated)) or not state["running"]:
            return state
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.05)


def test_index_run_with_events_searches_during_it_and_cancel(home, tmp_path):
    photos = tmp_path / "photos"
    make_copies(photos / "bulk", BULK)
    with ApiServer(server_env(home), str(photos)) as server, server.client() as client:
        no_index = client.get("/api/search", params={"q": "dog"})
        assert no_index.status_code == 404 and "no index" in no_index.json()["error"]
        started = client.post("/api/index")
        assert started.status_code == 202 and started.json()["running"]
        assert client.post("/api/index").status_code == 409
        first = wait_for_progress(client, estimated=True)
        assert first["running"], "the run ended before searches could be made during it"
        assert 0 < first["progress"]["done"] <= first["progress"]["total"] == BULK and first["eta"] is not None
        begun = time.perf_counter()
        assert client.get("/api/search", params={"q": "warm up"}).status_code == 200  # loads the text model
        cold = time.perf_counter() - begun

        latencies, during = [], []

        def one_search(i: int) -> int:
            begun = time.perf_counter()
            answer = client.get("/api/search", params={"q": f"photo number {i % 20}", "k": 10})
            latencies.append(time.perf_counter() - begun)
            during.append(client.get("/api/index").json()["running"])
            return answer.status_code

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            codes = list(pool.map(one_search, range(SEARCHES)))
        stream = events(client)
        assert codes == [200] * SEARCHES
        assert sum(during) >= SEARCHES // 2, f"only {sum(during)} searches ran during the index run"
        ordered = sorted(latencies)
        print(f"\n{SEARCHES} searches, {CONCURRENCY} at a time, during an index run of {BULK} photos "
              f"({sum(during)} while it ran): median {statistics.median(ordered) * 1000:.0f} ms, "
              f"p95 {ordered[int(0.95 * len(ordered))] * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms "
              f"(the first search, which loads the model: {cold * 1000:.0f} ms)")

        kinds = [kind for kind, _ in stream]
        assert kinds[-1] == "done" and set(kinds[:-1]) <= {"progress"}
        report = stream[-1][1]["report"]
        assert report["indexed"] == BULK and not report["cancelled"] and stream[-1][1]["error"] is None
        assert client.get("/api/status").json()["images"] == BULK

        make_copies(photos / "more", BULK, start=BULK)
        assert client.post("/api/index", json={"folders": [str(photos / "more")]}).status_code == 202
        wait_for_progress(client)
        cancelled = client.post("/api/index/cancel")
        assert cancelled.status_code == 202 and cancelled.json()["cancelling"]
        final = events(client)[-1][1]
        assert final["report"]["cancelled"] and final["report"]["indexed"] < BULK
        status = client.get("/api/status").json()
        assert status["consistent"] and status["images"] == BULK + final["report"]["indexed"]
        assert client.post("/api/index/cancel").status_code == 409
        polled = client.get("/api/index").json()
        assert not polled["running"] and polled["runs"] == 2


def test_token_is_required_beyond_localhost(home, photos_indexed):
    env = server_env(home, PIXSEEK_INDEX=str(photos_indexed))
    with ApiServer(env, host="0.0.0.0") as server:
        said = "".join(server.stderr)
        token = re.search(r"shown once\):\n(\S+)", said).group(1)
        with server.client() as anonymous:
            for path in ("/api/search?q=dog", "/api/status", "/api/skipped", "/api/index", "/api/files/1",
                         "/api/files/1/thumbnail", "/api/files/1/original", "/api/index/events", "/docs",
                         "/openapi.json"):
                refused = anonymous.get(path)
                assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer", path
                assert "token" in refused.json()["error"]
            assert anonymous.post("/api/index").status_code == 401
            assert anonymous.get("/api/status", headers={"Authorization": "Bearer wrong"}).status_code == 401
            assert anonymous.get("/api/status", params={"token": token[:-1]}).status_code == 401
        with server.client(headers={"Authorization": f"Bearer {token}"}) as client:
            assert client.get("/api/status").json()["images"] == 3
        with server.client() as browser:
            opened = browser.get("/docs", params={"token": token})
            assert opened.status_code == 200 and "pixseek_token" in opened.headers["set-cookie"]
            assert browser.get("/api/status").status_code == 200  # the cookie it was given
        # The Host check is for loopback only: a request for this machine by another name is fine here.
        with server.client(headers={"Authorization": f"Bearer {token}", "Host": "photos.example"}) as client:
            assert client.get("/api/status").status_code == 200


def test_a_given_token_is_required_on_localhost_too(home, photos_indexed):
    env = server_env(home, PIXSEEK_INDEX=str(photos_indexed), PIXSEEK_TOKEN="s3cret-token")
    with ApiServer(env) as server, server.client() as client:
        assert client.get("/api/status").status_code == 401
        assert client.get("/api/status", headers={"Authorization": "Bearer s3cret-token"}).status_code == 200
        assert "shown once" not in "".join(server.stderr)


def test_localhost_server_refuses_other_host_names_and_cors_is_off(home, photos_indexed):
    with ApiServer(server_env(home, PIXSEEK_INDEX=str(photos_indexed))) as server, server.client() as client:
        rebound = client.get("/api/status", headers={"Host": "attacker.example:8600"})
        assert rebound.status_code == 403 and "localhost" in rebound.json()["error"]
        for host in ("localhost", f"localhost:{server.port}", f"127.0.0.1:{server.port}", f"[::1]:{server.port}"):
            assert client.get("/api/status", headers={"Host": host}).status_code == 200, host
        answer = client.get("/api/status", headers={"Origin": "http://evil.example"})
        assert answer.status_code == 200 and "access-control-allow-origin" not in answer.headers
        preflight = client.options("/api/search", headers={"Origin": "http://evil.example",
                                                          "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers


def test_cors_when_configured(home, photos_indexed):
    env = server_env(home, PIXSEEK_INDEX=str(photos_indexed), PIXSEEK_TOKEN="tok")
    with ApiServer(env, "--cors-origin", "http://gallery.example") as server, server.client() as client:
        preflight = client.options("/api/search", headers={
            "Origin": "http://gallery.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type"})
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "http://gallery.example"
        answer = client.get("/api/status", headers={"Origin": "http://gallery.example", "Authorization": "Bearer tok"})
        assert answer.headers["access-control-allow-origin"] == "http://gallery.example"
        other = client.get("/api/status", headers={"Origin": "http://evil.example", "Authorization": "Bearer tok"})
        assert "access-control-allow-origin" not in other.headers


@pytest.fixture
def photos_indexed(home, tmp_path):
    """An index of three photos, one named with bytes that are not UTF-8."""
    from pixseek.library import Library

    photos = tmp_path / "photos"
    make_photo(photos / "a.jpg", seed=1)
    make_photo(photos / "b.png", seed=2)
    odd = os.path.join(os.fsencode(photos), b"caf\xe9.jpg")
    os.rename(make_photo(photos / "tmp.jpg", seed=3), odd)
    index = tmp_path / "index"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        patch.setenv("PIXSEEK_MODEL", TEST_MODEL)
        with Library.open(index, create=True) as library:
            library.index([photos])
    return index


def test_names_that_are_not_utf8_travel_as_escapes(home, photos_indexed):
    with ApiServer(server_env(home, PIXSEEK_INDEX=str(photos_indexed))) as server, server.client() as client:
        answer = client.get("/api/search", params={"q": "x", "k": 3})
        assert answer.status_code == 200, answer.text
        names = {hit["name"]: hit for hit in answer.json()["results"]}
        odd = names["caf\udce9.jpg"]
        assert os.fsencode(odd["path"]).endswith(b"caf\xe9.jpg")
        assert client.get(odd["original"]).content == open(os.fsencode(odd["path"]), "rb").read()


def test_an_index_from_another_model_is_rebuilt_on_request(home, photos_indexed):
    """Started with another model than the index's: searches say what to do, and a rebuild run
    (POST /api/index {"rebuild": true}) makes the index the server's model's."""
    from pixseek.model.export import export_random

    export_random("tiny", home / "models" / "other", seed=5)
    with ApiServer(server_env(home, PIXSEEK_INDEX=str(photos_indexed)), "--model", "other") as server, \
            server.client() as client:
        refused = client.get("/api/search", params={"q": "dog"})
        assert refused.status_code == 409 and "rebuild it for other" in refused.json()["error"]
        assert client.post("/api/index", json={"rebuild": True}).status_code == 202
        final = events(client)[-1][1]
        assert final["error"] is None and final["report"]["indexed"] == 3
        assert client.get("/api/status").json()["model_id"] == "random/tiny-seed5"
        assert len(client.get("/api/search", params={"q": "dog"}).json()["results"]) == 3
