"""`pixseek mcp`: a real server process driven by the MCP SDK's own stdio client: its tools,
search results and scores, thumbnails as images, status, the read-only default and the index
tool with --allow-index, paths outside the indexed folders refused (links included), and a
stdout that carries the protocol and nothing else."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from PIL import Image

from conftest import make_photo
from pixseek.cli import main

PIXSEEK = str(Path(sys.executable).with_name("pixseek"))
pytestmark = [pytest.mark.processes, pytest.mark.timeout(180)]


def _env() -> dict[str, str]:
    """The server's environment: the test's pixseek home and model (the SDK passes on only a few variables)."""
    return {name: value for name, value in os.environ.items() if name.startswith(("PIXSEEK_", "TMPDIR", "HOME", "PATH"))}


@pytest.fixture
def index(pixseek_home, photo_dir, tmp_path) -> Path:
    """An index of photo_dir made with the CLI."""
    index = tmp_path / "index"
    assert main(["index", str(photo_dir), "--index", str(index), "-q"]) == 0
    return index


def call(index: Path, steps, *extra: str):
    """Start `pixseek mcp --index INDEX [extra]`, initialise a session and return `steps(session)`."""
    async def go(log):
        params = StdioServerParameters(command=PIXSEEK, args=["mcp", "--index", str(index), *extra], env=_env())
        async with stdio_client(params, errlog=log) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return await steps(session)

    with tempfile.TemporaryFile("w+") as log:
        try:
            return anyio.run(go, log)
        except Exception:
            log.seek(0)
            print("the server's stderr:\n" + log.read(), file=sys.stderr)
            raise


def tool(name: str, **arguments):
    async def steps(session):
        return await session.call_tool(name, arguments)
    return steps


def data(result) -> dict:
    """A tool result's JSON (its text content); the tool must not have failed."""
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[-1].text)


def error(result) -> str:
    assert result.is_error, "the tool should have refused"
    assert len(result.content) == 1
    text = result.content[0].text
    assert "\n" not in text and "Traceback" not in text
    return text


def test_tools_listed_read_only_by_default(index):
    async def steps(session):
        return (await session.list_tools()).tools
    tools = {t.name: t for t in call(index, steps)}
    assert set(tools) == {"search", "show", "status"}
    assert all(t.annotations.read_only_hint for t in tools.values())
    schema = tools["search"].input_schema["properties"]
    assert {"text", "like_ids", "like_paths", "negatives", "k", "min_score", "folder", "after", "before", "year",
            "camera", "place", "near", "radius"} <= set(schema)


def test_search_by_text_returns_indexed_photos_with_scores(index, photo_dir):
    found = data(call(index, tool("search", text="a red car", k=20)))
    indexed = sorted(str(p) for p in photo_dir.rglob("*") if p.is_file())
    assert sorted(r["path"] for r in found["results"]) == indexed
    scores = [r["score"] for r in found["results"]]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)
    assert all(isinstance(r["id"], int) and r["name"] == os.path.basename(r["path"]) for r in found["results"])


def test_search_scores_equal_the_engine(index):
    from pixseek.library import Library

    from pixseek.engine.query import Query, Term

    found = data(call(index, tool("search", text="snow", negatives=["people"], k=5)))
    with Library.open(index) as library:
        expected = library.search(Query((Term(1.0, text="snow"), Term(-1.0, text="people"))), k=5)
    assert [r["id"] for r in found["results"]] == [e.id for e in expected]
    assert [r["score"] for r in found["results"]] == pytest.approx([e.score for e in expected], abs=1e-5)


def test_a_photo_searched_by_itself_ranks_first(index, photo_dir):
    target = next(p for p in sorted(photo_dir.rglob("*")) if p.is_file())
    by_path = data(call(index, tool("search", like_paths=[str(target)], k=3)))["results"]
    assert by_path[0]["path"] == str(target)
    assert by_path[0]["score"] == pytest.approx(1.0, abs=1e-4)
    by_id = data(call(index, tool("search", like_ids=[by_path[0]["id"]], k=3)))["results"]
    assert by_id[0]["id"] == by_path[0]["id"] and by_id[0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_show_returns_the_thumbnail_as_an_image(index):
    async def steps(session):
        first = (await session.call_tool("search", {"text": "a cat", "k": 1})).structured_content["results"][0]
        return first, await session.call_tool("show", {"id": first["id"], "size": 128})
    first, result = call(index, steps)
    assert not result.is_error
    image, details = result.content
    assert image.type == "image" and image.mime_type == "image/jpeg"
    picture = Image.open(io.BytesIO(base64.b64decode(image.data)))
    assert picture.format == "JPEG" and max(picture.size) == 128
    original = Image.open(first["path"])
    assert abs(picture.size[0] / picture.size[1] - original.size[0] / original.size[1]) < 0.05
    details = json.loads(details.text)
    assert details["path"] == first["path"] and details["width"] == original.size[0]
    assert "no photo with id 999999" in error(call(index, tool("show", id=999999)))


def test_status(index, photo_dir):
    found = data(call(index, tool("status")))
    assert found["images"] == 12 and found["model_id"]
    assert found["folders"] == [{"path": str(photo_dir), "images": 12, "present": True}]
    assert found["consistent"] is True
    assert "--allow-index" in found["indexing"]


def calls(*steps):
    """Tool calls, in order, in one session."""
    async def run(session):
        return [await session.call_tool(name, arguments) for name, arguments in steps]
    return run


def test_paths_outside_the_indexed_folders_are_refused(index, photo_dir, tmp_path):
    outside = make_photo(tmp_path / "elsewhere" / "secret.jpg", seed=99)
    (photo_dir / "home" / "link.jpg").symlink_to(outside)
    (photo_dir / "linked folder").symlink_to(outside.parent, target_is_directory=True)
    inside = photo_dir / "trip" / "deep" / "photo 0.jpg"
    (photo_dir / "home" / "inner.jpg").symlink_to(inside)
    refused = [str(outside), str(photo_dir / "home" / "link.jpg"), str(photo_dir / "linked folder" / "secret.jpg"),
               str(photo_dir / ".." / "elsewhere" / "secret.jpg"), "elsewhere/secret.jpg"]
    answers = call(index, calls(
        *[("search", {"like_paths": [path]}) for path in refused],
        ("search", {"text": "x", "folder": str(tmp_path / "elsewhere")}),
        ("search", {"text": "x", "folder": str(photo_dir / "linked folder")}),
        ("search", {"like_paths": [str(photo_dir / "home" / "inner.jpg")], "k": 1}),  # a link that stays inside
        ("search", {"like_paths": [str(inside)], "k": 1})))
    for answer in answers[:-2]:
        message = error(answer)
        assert "inside" in message and "indexed folder" in message
    assert data(answers[-2])["results"][0]["path"] == str(inside)
    assert data(answers[-1])["results"][0]["path"] == str(inside)


def test_words_are_never_read_as_files(index, tmp_path):
    outside = make_photo(tmp_path / "elsewhere.jpg", seed=98)
    found = data(call(index, tool("search", text=str(outside), negatives=["~/elsewhere.jpg"], k=1)))
    assert found["query"] == f"{str(outside)!r} - '~/elsewhere.jpg'"


def test_errors_are_one_line(index):
    empty, unknown, year, k = call(index, calls(("search", {}), ("search", {"like_ids": [424242]}),
                                                ("search", {"text": "x", "year": "21"}),
                                                ("search", {"text": "x", "k": 0})))
    assert "empty query" in error(empty)
    assert "no photo with id 424242" in error(unknown)
    assert "year must be four digits" in error(year)
    assert error(k) == "Error executing tool search: k: Input should be greater than or equal to 1"


def test_no_index_is_a_tool_error(pixseek_home, tmp_path):
    assert "index" in error(call(tmp_path / "nothing here", tool("status")))


def test_index_tool_only_with_allow_index(index, photo_dir):
    make_photo(photo_dir / "trip" / "new one.jpg", seed=50)

    async def steps(session):
        names = {t.name for t in (await session.list_tools()).tools}
        refused = await session.call_tool("index", {"folder": "/"})
        started = await session.call_tool("index", {"folder": str(photo_dir / "trip")})
        for _ in range(600):
            state = (await session.call_tool("status", {})).structured_content["indexing"]
            if state["runs"] and not state["running"]:
                break
            await anyio.sleep(0.1)
        found = await session.call_tool("search", {"like_paths": [str(photo_dir / "trip" / "new one.jpg")], "k": 1})
        return names, refused, started, state, found

    names, refused, started, state, found = call(index, steps, "--allow-index")
    assert names == {"search", "show", "status", "index"}
    assert "not inside" in error(refused)
    assert data(started)["started"] is True
    assert state["error"] is None and state["report"].startswith("1 indexed"), state
    assert data(found)["results"][0]["path"] == str(photo_dir / "trip" / "new one.jpg")

    async def unknown(session):
        return await session.call_tool("index", {})
    assert "index" in error(call(index, unknown))  # without --allow-index: no such tool


def test_stdout_carries_only_the_protocol(index, photo_dir):
    """Raw JSON-RPC over the pipes, errors and a failing search included: every line on stdout is a message."""
    from mcp_types import jsonrpc_message_adapter

    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "search", "arguments": {"text": "a dog"}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
         "params": {"name": "search", "arguments": {"like_paths": ["/etc/passwd"]}}},
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "show", "arguments": {"id": 1}}},
        {"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": {"name": "status", "arguments": {}}},
    ]
    process = subprocess.Popen([PIXSEEK, "mcp", "--index", str(index)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=_env())
    answers = []
    for message in messages:
        process.stdin.write((json.dumps(message) + "\n").encode())
        process.stdin.flush()
        if "id" in message:
            answers.append(process.stdout.readline())
    process.stdin.close()
    rest, stderr = process.stdout.read(), process.stderr.read()
    assert process.wait(timeout=60) == 0
    assert rest == b""
    parsed = [jsonrpc_message_adapter.validate_json(line) for line in answers]
    assert [m.id for m in parsed] == [1, 2, 3, 4, 5]
    assert [json.loads(line).get("result", {}).get("isError", False) for line in answers] == \
        [False, False, True, False, False]
    assert b"Traceback" not in stderr


def test_missing_sdk_is_one_line(pixseek_home, tmp_path):
    script = ("import sys; sys.modules['mcp'] = None; from pixseek.cli import main; "
              "sys.exit(main(['mcp', '--index', sys.argv[1]]))")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == ("pixseek: error: the MCP server needs the Model Context Protocol SDK: "
                                   "pip install 'pixseek[mcp]'")

