"""A local server that answers the way the Hugging Face hub does, for the real download code.

huggingface_hub sends `HEAD` then `GET` to `{HF_ENDPOINT}/{repo}/resolve/{revision}/{file}`, reads
the commit, ETag and size from the headers, resumes partial files with `Range`, and maps
`X-Error-Code` (RepoNotFound, RevisionNotFound, EntryNotFound) to its exceptions; it lists a
repo with `GET {HF_ENDPOINT}/api/models/{repo}/tree/{revision}?recursive=...`. The server below
does exactly that on 127.0.0.1, so download, resume, listing and conversion run end to end.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib
import json
import socket
import threading
from contextlib import contextmanager

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class FakeHub(http.server.ThreadingHTTPServer):
    """Serves {repo_id: {filename: bytes}}; records requests; can cut or refuse chosen files."""

    daemon_threads = True

    def __init__(self, repos: dict[str, dict[str, bytes]]):
        super().__init__(("127.0.0.1", 0), _HubHandler)
        self.repos = repos
        self.revisions: dict[str, set[str]] = {}  # repo -> the only revisions it has (default: any)
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

    def _json(self, data) -> None:
        body = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _known(self, repo: str, revision: str) -> bool:
        return revision in self.server.revisions.get(repo, {revision})

    def _tree(self, parts: list[str]):
        """`api/models/{owner}/{name}/tree/{revision}`: every file, as the hub lists them."""
        repo, revision = "/".join(parts[2:4]), parts[5]
        if repo not in self.server.repos:
            return self._fail(404, "RepoNotFound")
        if not self._known(repo, revision):
            return self._fail(404, "RevisionNotFound")
        self._json([{"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest()}
                    for name, data in sorted(self.server.repos[repo].items())])

    def _serve(self, body: bool):
        range_header = self.headers.get("Range")
        self.server.requests.append((self.command, self.path, range_header))
        parts = self.path.split("?")[0].strip("/").split("/")
        if len(parts) >= 6 and parts[:2] == ["api", "models"] and parts[4] == "tree":
            return self._tree(parts)
        if len(parts) < 5 or parts[2] != "resolve":
            return self._fail(404)
        repo, filename = "/".join(parts[:2]), "/".join(parts[4:])
        if repo not in self.server.repos:
            return self._fail(404, "RepoNotFound")
        if not self._known(repo, parts[3]):
            return self._fail(404, "RevisionNotFound")
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



def reload_hub_constants():
    """huggingface_hub reads HF_ENDPOINT and the cache folder once, at import; re-read them."""
    from huggingface_hub import constants

    importlib.reload(constants)


@contextmanager
def serving(repos: dict[str, dict[str, bytes]], monkeypatch, cache_dir):
    """A FakeHub on 127.0.0.1 that huggingface_hub uses (HF_ENDPOINT) while the block runs."""
    server = FakeHub(repos)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache_dir))
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    reload_hub_constants()
    # Partial data reaches the disk (and so can be resumed) in chunks of this size; the default
    # (10 MB) is larger than the tiny models' files.
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "DOWNLOAD_CHUNK_SIZE", 64 * 1024)
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        monkeypatch.undo()
        reload_hub_constants()
