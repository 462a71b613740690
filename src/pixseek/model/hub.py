"""Downloading a model from the Hugging Face hub, into huggingface_hub's cache (resumable).

A hub repo holds either a ready pixseek bundle (it has `pixseek-model.json`) or a Hugging Face
CLIP checkpoint that we export ourselves. Only the files that route needs are fetched, each with
`hf_hub_download`: partial files stay in the cache and the next attempt resumes them. Every
failure becomes one line saying what to do, including the offline route.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pixseek.errors import PixseekError
from pixseek.model.bundle import CONFIG_NAME, DEFAULT_MODEL, DEFAULT_MODEL_ID, BundleConfig, first_line

# Which hub repo each well-known model name comes from.
KNOWN_REPOS = {DEFAULT_MODEL: DEFAULT_MODEL_ID}
CHECKPOINT_WEIGHTS = ("model.safetensors", "pytorch_model.bin")
CHECKPOINT_EXTRAS = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt",
                     "preprocessor_config.json")
OFFLINE_HINT = "on a machine without internet, copy the model in and run `pixseek model install --from PATH` (see docs/model.md)"


class DownloadFailed(PixseekError):
    """The hub could not be reached or did not serve the model."""


@dataclass(frozen=True)
class Download:
    kind: str  # "bundle" or "checkpoint"
    folder: Path  # the cached snapshot folder holding the fetched files
    repo_id: str


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT


def _check_reachable(repo_id: str) -> None:
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
        raise DownloadFailed(f"cannot download {repo_id}: the hub {_endpoint()} cannot be reached ({first_line(exc)}); {OFFLINE_HINT}") from None


def _fetch(repo_id: str, filename: str, revision: str | None) -> Path:
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(repo_id, filename, revision=revision))


def _fetch_optional(repo_id: str, filename: str, revision: str | None) -> Path | None:
    # Not EntryNotFoundError: its other subclass, LocalEntryNotFoundError, means "offline".
    from huggingface_hub.errors import RemoteEntryNotFoundError

    try:
        return _fetch(repo_id, filename, revision)
    except RemoteEntryNotFoundError:
        return None


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


def _fetch_bundle(repo_id: str, revision: str | None, config_file: Path) -> Path:
    try:
        config = BundleConfig.from_json(config_file.read_text())
    except (ValueError, KeyError, TypeError) as exc:
        raise DownloadFailed(f"{repo_id} on the hub has a damaged {CONFIG_NAME}: {exc}") from None
    for name in set(config.files()):
        _fetch(repo_id, name, revision)
    return config_file.parent


def _fetch_checkpoint(repo_id: str, revision: str | None) -> Path:
    folder = _fetch(repo_id, "config.json", revision).parent
    if not any(_fetch_optional(repo_id, name, revision) for name in CHECKPOINT_WEIGHTS):
        raise DownloadFailed(f"{repo_id} on the hub is neither a pixseek bundle nor a CLIP checkpoint with weights")
    for name in CHECKPOINT_EXTRAS:
        _fetch_optional(repo_id, name, revision)
    return folder


def download(repo_id: str, revision: str | None = None, before_checkpoint: Callable[[], None] = lambda: None) -> Download:
    """Fetch a bundle or checkpoint repo into the hub cache and say which it was.

    `before_checkpoint` runs once the repo turns out to be a checkpoint, before its weights are
    fetched: the place to refuse a download that could not be used (no export extra)."""
    from huggingface_hub import constants, errors

    if not constants.HF_HUB_OFFLINE:
        _check_reachable(repo_id)
    try:
        config_file = _fetch_optional(repo_id, CONFIG_NAME, revision)
        if config_file is not None:
            return Download("bundle", _fetch_bundle(repo_id, revision, config_file), repo_id)
        before_checkpoint()
        return Download("checkpoint", _fetch_checkpoint(repo_id, revision), repo_id)
    except (errors.RepositoryNotFoundError, errors.RevisionNotFoundError) as exc:
        raise DownloadFailed(f"{repo_id} (revision {revision or 'main'}) was not found on the hub {_endpoint()}: {first_line(exc)}") from None
    except (errors.OfflineModeIsEnabled, errors.LocalEntryNotFoundError):
        reason = "HF_HUB_OFFLINE is set" if os.environ.get("HF_HUB_OFFLINE") not in (None, "", "0") else "it cannot be reached"
        raise DownloadFailed(f"cannot download {repo_id} from the hub {_endpoint()} ({reason}); {OFFLINE_HINT}") from None
    except (errors.HfHubHTTPError, OSError, *_transport_errors()) as exc:
        raise DownloadFailed(f"downloading {repo_id} failed ({first_line(exc)}); run the command again to resume, or {OFFLINE_HINT}") from None


def read_checkpoint_name(folder: Path) -> str | None:
    """The hub id a checkpoint's config.json says it was saved from, if it names one."""
    try:
        name = json.loads((Path(folder) / "config.json").read_text()).get("_name_or_path")
    except (OSError, ValueError):
        return None
    return name if isinstance(name, str) and name.count("/") == 1 and not Path(name).exists() else None
