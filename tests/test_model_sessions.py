"""The cache of graph-optimised models: used when valid, rebuilt when the model changes, and
never a reason to fail."""

from __future__ import annotations

import os

import numpy as np
import pytest

from pixseek.model.bundle import Bundle
from pixseek.model.encoder import Encoder
from pixseek.model.sessions import CPU_ONLY, cached_model_path, create_session

IDS = np.array([[49406, 320, 1929, 525, 320, 2117, 49407]], dtype=np.int64)


@pytest.fixture
def text_model(tmp_path, monkeypatch, tiny_bundle_dir):
    monkeypatch.setenv("PIXSEEK_HOME", str(tmp_path / "home"))
    model = tmp_path / "text.onnx"
    model.write_bytes((tiny_bundle_dir / "text.onnx").read_bytes())
    return model


def run(session) -> np.ndarray:
    return session.run(None, {"input_ids": IDS})[0]


def test_first_session_fills_the_cache_and_later_ones_read_it(text_model):
    import onnxruntime as ort

    direct = run(ort.InferenceSession(str(text_model), providers=CPU_ONLY))
    cached = cached_model_path(text_model)
    assert not cached.exists()
    np.testing.assert_allclose(run(create_session(text_model, CPU_ONLY, 1)), direct, atol=1e-5)
    assert cached.is_file() and cached.read_bytes() != text_model.read_bytes()  # optimised: fused ops
    stamp = cached.stat().st_mtime_ns
    np.testing.assert_allclose(run(create_session(text_model, CPU_ONLY, 1)), direct, atol=1e-5)
    assert cached.stat().st_mtime_ns == stamp  # read, not rewritten
    assert [p.name for p in cached.parent.iterdir()] == [cached.name]  # no temporary files left


def test_changed_model_gets_a_new_copy_and_the_old_one_goes(text_model):
    create_session(text_model, CPU_ONLY, 1)
    old = cached_model_path(text_model)
    os.utime(text_model, ns=(1_000_000_000, 1_000_000_000))
    create_session(text_model, CPU_ONLY, 1)
    new = cached_model_path(text_model)
    assert new != old and new.is_file() and not old.exists()


def test_damaged_cache_file_is_dropped_and_the_model_used(text_model):
    import onnxruntime as ort

    create_session(text_model, CPU_ONLY, 1)
    cached = cached_model_path(text_model)
    cached.write_bytes(cached.read_bytes()[:1000])
    direct = run(ort.InferenceSession(str(text_model), providers=CPU_ONLY))
    np.testing.assert_allclose(run(create_session(text_model, CPU_ONLY, 1)), direct, atol=1e-5)
    assert not cached.exists()


def test_encoder_caches_the_text_tower_of_installed_models_only(tmp_path, monkeypatch, tiny_bundle_dir):
    import shutil

    monkeypatch.setenv("PIXSEEK_HOME", str(tmp_path))
    monkeypatch.delenv("PIXSEEK_MODELS", raising=False)
    cache = tmp_path / "cache" / "onnx"
    by_path = Encoder(Bundle.load(tiny_bundle_dir))
    first = by_path.encode_texts(["a dog", "sunset"])
    by_path.encode_pixels(np.zeros((1, 3, 224, 224), np.float32))
    assert not cache.exists()
    installed = Encoder(Bundle.load(shutil.copytree(tiny_bundle_dir, tmp_path / "models" / "m")))
    np.testing.assert_allclose(installed.encode_texts(["a dog", "sunset"]), first, atol=1e-6)
    installed.encode_pixels(np.zeros((1, 3, 224, 224), np.float32))
    assert [p.name.split("-")[0] for p in cache.iterdir()] == ["text"]


def test_installing_leaves_the_cache_alone(tmp_path, monkeypatch, tiny_bundle_dir):
    from pixseek.model.install import install_from_path

    monkeypatch.setenv("PIXSEEK_HOME", str(tmp_path))
    monkeypatch.delenv("PIXSEEK_MODELS", raising=False)
    install_from_path(tiny_bundle_dir, name="m", report=lambda message: None)
    assert not (tmp_path / "cache" / "onnx").exists()


def test_every_session_is_made_with_onnx_runtimes_telemetry_off(text_model, monkeypatch):
    """ONNX Runtime 1.29+ carries an uploader of usage events; pixseek turns it off before any
    session exists (nothing leaves the machine), on every path that makes one."""
    import onnxruntime

    from pixseek.model.graph import batch_independent

    calls: list[str] = []
    real = onnxruntime.disable_telemetry_events
    monkeypatch.setattr(onnxruntime, "disable_telemetry_events", lambda: (calls.append("off"), real())[1])
    for make in (lambda: create_session(text_model, CPU_ONLY, threads=1),
                 lambda: create_session(text_model, CPU_ONLY, threads=1, cache=False),
                 lambda: batch_independent(text_model)):
        calls.clear()
        make()
        assert calls, "a session was made without turning telemetry off"
