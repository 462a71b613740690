"""Downloading a model from the Hugging Face hub, into huggingface_hub's cache (resumable).

A repo holds a model in one of the layouts of `pixseek.model.sources` (ready ONNX exports from
Xenova, Immich or rclip, a pixseek bundle, or a PyTorch checkpoint that needs exporting). A
catalogue entry names its layout; any other repo's layout is found from its file listing. Only
the files that layout needs are fetched (never ARM NN or RKNN files, fp16 copies or combined
models), each with `hf_hub_download`: it shows a progress bar, partial files stay in the cache and
the next attempt resumes them. Every failure becomes one line saying what to do, including the
offline route.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from types import ModuleType

from pixseek.errors import PixseekError
from pixseek.model import export, sources
from pixseek.model.bundle import first_line
from pixseek.model.graph import read_tower

OFFLINE_HINT = ("on a machine without internet, copy the model's files in and install them from that folder "
                "(see docs/model.md)")


class DownloadFailed(PixseekError):
    """The hub could not be reached or did not serve the model."""


@dataclass(frozen=True)
class Download:
    layout: ModuleType  # a module of pixseek.model.sources
    folder: Path  # the layout's folder inside the cached snapshot
    repo_id: str
    commit: str  # the revision the hub served, as a commit hash


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def check_reachable(repo_id: str) -> None:
    """Fail in seconds when the hub is unreachable; huggingface_hub would retry for about 25 s.

    Skipped behind a proxy, where a direct connection says nothing about reachability.
    """
    import socket
    from urllib.parse import urlsplit

    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")):
        return
    url = urlsplit(_endpoint())
    try:
        socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout=10).close()
    except OSError as exc:
        raise DownloadFailed(f"cannot download {repo_id}: the hub {_endpoint()} cannot be reached ({first_line(exc)}); "
                             f"{OFFLINE_HINT}") from None


def _transport_errors() -> tuple[type[Exception], ...]:
    """The base errors of whichever HTTP client this huggingface_hub version uses."""
    import importlib

    found = []
    for module, name in (("httpx2", "HTTPError"), ("httpx", "HTTPError"), ("requests", "RequestException")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


class _Fetcher:
    """Fetches one repo's files at one revision into the hub cache."""

    def __init__(self, repo_id: str, revision: str | None):
        self.repo_id, self.revision = repo_id, revision
        self.fetched: dict[str, Path] = {}

    def __call__(self, filename: str) -> Path:
        from huggingface_hub import hf_hub_download
        from huggingface_hub.errors import RemoteEntryNotFoundError

        if filename not in self.fetched:
            try:
                self.fetched[filename] = Path(hf_hub_download(self.repo_id, filename, revision=self.revision))
            except RemoteEntryNotFoundError:
                raise DownloadFailed(f"{self.repo_id} (revision {self.revision or 'main'}) has no {filename}, which "
                                     "its layout needs; it is not a model pixseek can install") from None
        return self.fetched[filename]

    def optional(self, filename: str) -> Path | None:
        try:
            return self(filename)
        except DownloadFailed:
            return None

    @property
    def snapshot(self) -> Path:
        """The cached snapshot folder (named by commit) that every fetched file sits in."""
        name, path = next(iter(self.fetched.items()))
        return path.parents[len(PurePosixPath(name).parts) - 1]


def _listing(repo_id: str, revision: str | None) -> list[str]:
    """The repo's file paths: from the hub, or offline from what the cache holds of it."""
    from huggingface_hub import HfApi, constants, snapshot_download

    if constants.HF_HUB_OFFLINE:
        return sources.folder_files(Path(snapshot_download(repo_id, revision=revision, local_files_only=True)))
    return HfApi(endpoint=_endpoint()).list_repo_files(repo_id, revision=revision)


def _weight_files(path: Path) -> list[str]:
    """The files an ONNX tower keeps its weights in (large Immich towers), beside it."""
    return list(read_tower(path).data_files)


def _fetch_layout(fetch: _Fetcher, layout: ModuleType, root: str) -> Path:
    required, optional = layout.files(root)
    for name in required:
        fetch(name)
    for name in optional:
        fetch.optional(name)
    folder = fetch.snapshot / root
    for name in getattr(layout, "more_files", lambda _: [])(folder):
        fetch(root + name)
    for name, path in list(fetch.fetched.items()):
        if name.endswith(".onnx"):
            parent = str(PurePosixPath(name).parent)
            for data in _weight_files(path):
                fetch(data if parent == "." else f"{parent}/{data}")
    return folder


def download(repo_id: str, revision: str | None = None, layout: ModuleType | None = None, root: str = "") -> Download:
    """Fetch the files of the model in `repo_id` that its layout needs (found from the repo's
    listing when not given) into the hub cache."""
    from huggingface_hub import constants, errors

    if not constants.HF_HUB_OFFLINE:
        check_reachable(repo_id)
    try:
        if layout is None:
            found = sources.detect(_listing(repo_id, revision))
            if found is None:
                raise DownloadFailed(f"{repo_id} on the hub holds no model in a layout pixseek knows "
                                     f"({sources.describe_layouts()})")
            layout, root = found
        if getattr(layout, "NEEDS_EXPORT", False):
            export.require_export_extra()
        fetch = _Fetcher(repo_id, revision)
        folder = _fetch_layout(fetch, layout, root)
        return Download(layout, folder, repo_id, fetch.snapshot.name)
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError) as exc:
        raise DownloadFailed(f"{repo_id} (revision {revision or 'main'}) was not found on the hub {_endpoint()}: "
                             f"{first_line(exc)}") from None
    except (errors.OfflineModeIsEnabled, errors.LocalEntryNotFoundError):
        reason = "HF_HUB_OFFLINE is set" if os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0") else "it cannot be reached"
        raise DownloadFailed(f"cannot download {repo_id} from the hub {_endpoint()} ({reason}); {OFFLINE_HINT}") from None
    except (errors.HfHubHTTPError, OSError) + _transport_errors() as exc:
        raise DownloadFailed(f"downloading {repo_id} failed ({first_line(exc)}); run the same command again to resume, "
                             f"or {OFFLINE_HINT}") from None
