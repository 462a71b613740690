"""Installing from the hub (tests/fake_hub.py answers as the Hugging Face hub does): layout
detection from a repo's listing, resume, the cache, offline use, and one clear line for each failure.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from fake_hub import reload_hub_constants, serving
from pixseek.errors import PixseekError
from pixseek.model.bundle import CONFIG_NAME, find_bundle, installed_bundles
from pixseek.model.hub import DownloadFailed, download
from pixseek.model.install import install_from_hub

BUNDLE_REPO = "pixseek-test/tiny-bundle"
CHECKPOINT_REPO = "pixseek-test/tiny-checkpoint"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def hub(tmp_path, monkeypatch, pixseek_home, tiny_bundle_dir, tiny_checkpoint_dir):
    with serving({BUNDLE_REPO: _files(tiny_bundle_dir), CHECKPOINT_REPO: _files(tiny_checkpoint_dir)}, monkeypatch,
                 tmp_path / "hf-cache") as server:
        yield server


def _leftovers(home: Path) -> list[str]:
    return sorted(p.name for p in (home / "models").iterdir() if p.name.startswith(".staging"))


def test_download_bundle_repo_fetches_only_the_bundle_files(hub, tiny_bundle_dir):
    hub.repos[BUNDLE_REPO]["notes.txt"] = b"not part of the bundle"
    fetched = download(BUNDLE_REPO)
    assert fetched.layout.NAME == "pixseek"
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
    def file_downloads():
        return sum(1 for method, path, _ in hub.requests if method == "GET" and "/resolve/" in path)

    downloads = file_downloads()
    install_from_hub("two", repo_id=BUNDLE_REPO, precision="fp32", report=lambda m: None)
    assert file_downloads() == downloads > 0


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
    with pytest.raises(DownloadFailed, match="holds no model in a layout pixseek knows"):
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
    reload_hub_constants()
    with pytest.raises(PixseekError) as err:
        install_from_hub(report=lambda m: None)
    message = str(err.value)
    assert "\n" not in message
    assert "without internet" in message and "see docs/model.md" in message
    assert not (pixseek_home / "models" / "clip-vit-b-32").exists()


def test_cached_download_installs_with_hub_offline(hub, monkeypatch, pixseek_home):
    install_from_hub("first", repo_id=BUNDLE_REPO, precision="fp32", report=lambda m: None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    reload_hub_constants()
    requests = len(hub.requests)
    bundle = install_from_hub("again", repo_id=BUNDLE_REPO, precision="fp32", report=lambda m: None)
    assert len(hub.requests) == requests and (bundle.path / "image.onnx").is_file()


def test_checkpoint_that_cannot_be_exported_is_refused_before_any_download(hub, monkeypatch):
    from pixseek.errors import ModelInvalid
    from pixseek.model import export

    def no_export_extra():
        raise ModelInvalid("exporting needs PyTorch and transformers")

    monkeypatch.setattr(export, "require_export_extra", no_export_extra)
    with pytest.raises(ModelInvalid):
        download(CHECKPOINT_REPO)
    assert [p for _, p, _ in hub.requests if "resolve" in p] == []
