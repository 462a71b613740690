"""Installing from the hub, against a local server that answers the way the Hugging Face hub does.

huggingface_hub sends `HEAD` then `GET` to `{HF_ENDPOINT}/{repo}/resolve/{revision}/{file}`, reads
the commit, ETag and size from the headers, resumes partial files with `Range`, and maps
`X-Error-Code` (RepoNotFound, EntryNotFound) to its exceptions. The server below does exactly
that on 127.0.0.1, so the real download code runs end to end.
"""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
from pathlib import Path

import pytest

from pixseek.errors import PixseekError
from pixseek.model.bundle import CONFIG_NAME, find_bundle, installed_bundles
from pixseek.model.hub import DownloadFailed, download
from pixseek.model.install import install_from_hub

COMMIT = "0123456789abcdef0123456789abcdef01234567"
BUNDLE_REPO = "pixseek-test/tiny-bundle"
CHECKPOINT_REPO = "pixseek-test/tiny-checkpoint"


class FakeHub(http.server.ThreadingHTTPServer):
    """Serves {repo_id: {filename: bytes}}; records requests; can cut or refuse chosen files."""

    daemon_threads = True

    def __init__(self, repos: dict[str, dict[str, bytes]]):
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.repos = repos
        self.requests: list[tuple[str, str, str | None]] = []
        self.cut_once: set[str] = set()  # send half of these files once, then drop the connection
        self.broken: set[str] = set()  # HEAD works, GET is refused (403) for these files

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HubHandler(http.server.BaseHTTPRequestHandler):
    server: FakeHub

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self._serve(body=False)

    def do_GET(self):
        self._serve(body=True)

    def _fail(self, status: int, code: str | None = None):
        self.send_response(status)
        if code:
            self.send_header("X-Error-Code", code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _serve(self, body: bool):
        range_header = self.headers.get("Range")
        self.server.requests.append((self.command, self.path, range_header))
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) < 5 or parts[2] != "resolve":
            return self._fail(404)
        repo, filename = "/".join(parts[:2]), "/".join(parts[4:])
        if repo not in self.server.repos:
            return self._fail(404, "RepoNotFound")
        files = self.server.repos[repo]
        if filename not in files:
            return self._fail(404, "EntryNotFound")
        if body and filename in self.server.broken:
            return self._fail(403)
        data = files[filename]
        start = int(range_header.split("=")[1].split("-")[0]) if range_header else 0
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.end_headers()
        if not body:
            return
        if filename in self.server.cut_once:
            self.server.cut_once.discard(filename)
            self.wfile.write(data[start : start + (len(data) - start) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(data[start:])


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def hub(tmp_path, monkeypatch, pixseek_home, tiny_bundle_dir, tiny_checkpoint_dir):
    server = FakeHub({BUNDLE_REPO: _files(tiny_bundle_dir), CHECKPOINT_REPO: _files(tiny_checkpoint_dir)})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    _reload_hub_constants()
    # Partial data reaches the disk (and so can be resumed) in chunks of this size; the default
    # (10 MB) is larger than the tiny model's files.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)
    yield server
    server.shutdown()
    server.server_close()
    monkeypatch.undo()
    _reload_hub_constants()


def _reload_hub_constants():
    """huggingface_hub reads HF_ENDPOINT and the cache folder once, at import; re-read them."""
    import importlib

    from huggingface_hub import constants

    importlib.reload(constants)


def _leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "models").iterdir() if p.name.startswith(".staging"))


def test_download_bundle_repo_fetches_only_the_bundle_files(hub, tiny_bundle_dir):
    hub.repos[BUNDLE_REPO]["notes.txt"] = b"not part of the bundle"
    fetched = download(BUNDLE_REPO)
    assert fetched.kind == "bundle"
    for name in ("image.onnx", "text.onnx", "tokenizer.json", CONFIG_NAME):
        assert (fetched.folder / name).read_bytes() == (tiny_bundle_dir / name).read_bytes()
    assert not any("notes.txt" in path for _, path, _ in hub.requests)


def test_install_from_hub_bundle_installs_checked_int8(hub, pixseek_home, tiny_bundle_dir):
    messages = []
    bundle = install_from_hub("from-hub", repo_id=BUNDLE_REPO, report=messages.append)
    assert bundle.path == pixseek_home / "models" / "from-hub"
    assert find_bundle("from-hub").model_id == find_bundle(str(tiny_bundle_dir)).model_id
    assert {"from-hub"} <= {b.name for b in installed_bundles()}
    assert any("int8 vs fp32" in m for m in messages)
    assert bundle.config.precision in ("int8", "fp32")
    assert _leftovers(pixseek_home) == []


def test_second_install_uses_the_cache(hub, pixseek_home):
    install_from_hub("one", repo_id=BUNDLE_REPO, precision="fp32", report=lambda m: None)
    gets = sum(1 for method, _, _ in hub.requests if method == "GET")
    install_from_hub("two", repo_id=BUNDLE_REPO, precision="fp32", report=lambda m: None)
    assert sum(1 for method, _, _ in hub.requests if method == "GET") == gets


def test_interrupted_download_resumes_with_range(hub, pixseek_home):
    hub.cut_once.add("image.onnx")
    bundle = install_from_hub("resumed", repo_id=BUNDLE_REPO, precision="fp32", report=lambda m: None)
    ranges = [r for method, path, r in hub.requests if method == "GET" and path.endswith("/image.onnx") and r]
    assert ranges and ranges[0].startswith("bytes=") and not ranges[0].startswith("bytes=0-")
    assert (bundle.path / "image.onnx").read_bytes() == hub.repos[BUNDLE_REPO]["image.onnx"]


def test_failed_download_leaves_nothing_installed(hub, pixseek_home):
    hub.broken.add("text.onnx")
    with pytest.raises(DownloadFailed) as err:
        install_from_hub("broken", repo_id=BUNDLE_REPO, report=lambda m: None)
    assert "\n" not in str(err.value) and "again" in str(err.value)
    assert not (pixseek_home / "models" / "broken").exists()
    assert _leftovers(pixseek_home) == []


def test_unknown_repo_is_one_clear_line(hub):
    with pytest.raises(DownloadFailed, match="was not found on the hub") as err:
        download("nobody/nothing")
    assert "\n" not in str(err.value)


def test_repo_that_is_no_model_is_refused(hub):
    hub.repos["someone/text-files"] = {"config.json": b"{}", "README.md": b"hi"}
    with pytest.raises(DownloadFailed, match="neither a pixseek bundle nor a CLIP checkpoint"):
        download("someone/text-files")


def test_checkpoint_repo_is_exported(hub, pixseek_home):
    bundle = install_from_hub("exported", repo_id=CHECKPOINT_REPO, precision="fp32", report=lambda m: None)
    assert bundle.model_id == CHECKPOINT_REPO
    assert bundle.config.embedding_dim == 32
    assert (bundle.path / "text.onnx").is_file()


@pytest.mark.parametrize("offline", ["closed-port", "HF_HUB_OFFLINE"])
def test_offline_machine_gets_one_line_with_the_offline_route(hub, monkeypatch, pixseek_home, offline):
    if offline == "closed-port":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _reload_hub_constants()
    with pytest.raises(PixseekError) as err:
        install_from_hub(report=lambda m: None)
    message = str(err.value)
    assert "\n" not in message
    assert "pixseek model install --from PATH" in message
    assert not (pixseek_home / "models" / "clip-vit-b-32").exists()


def test_cached_download_installs_with_hub_offline(hub, monkeypatch, pixseek_home):
    install_from_hub("first", repo_id=BUNDLE_REPO, precision="fp32", report=lambda m: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _reload_hub_constants()
    requests = len(hub.requests)
    bundle = install_from_hub("again", repo_id=BUNDLE_REPO, precision="fp32", report=lambda m: None)
    assert len(hub.requests) == requests and (bundle.path / "image.onnx").is_file()


def test_checkpoint_that_cannot_be_exported_is_refused_before_its_weights(hub):
    from pixseek.errors import ModelInvalid

    def no_export_extra():
        raise ModelInvalid("exporting needs PyTorch and transformers")

    with pytest.raises(ModelInvalid):
        download(CHECKPOINT_REPO, before_checkpoint=no_export_extra)
    assert [p for _, p, _ in hub.requests if "resolve" in p] == [f"/{CHECKPOINT_REPO}/resolve/main/{CONFIG_NAME}"]
