"""The Encoder on a real (tiny, random-weight) bundle: shapes, unit vectors, batching, settings."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pixseek.errors import ModelInvalid
from pixseek.model.bundle import Bundle
from pixseek.model.encoder import Encoder, default_precision, usable_cores
from pixseek.model.samples import generated_photos


@pytest.fixture(scope="module")
def encoder(tiny_bundle_dir) -> Encoder:
    return Encoder(Bundle.load(tiny_bundle_dir))


def test_interface(encoder):
    assert (encoder.dim, encoder.image_size) == (32, 224)
    assert encoder.model_id == "random/tiny-seed0"
    pixels = encoder.preprocess(Image.new("L", (50, 300), 128))
    assert pixels.shape == (3, 224, 224) and pixels.dtype == np.float32


def test_vectors_are_unit_length_and_independent_of_batching(encoder):
    photos = list(generated_photos(6))
    batch = encoder.encode_images(photos)
    single = np.concatenate([encoder.encode_images([p]) for p in photos])
    assert batch.shape == (6, 32) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_texts_of_any_length_in_one_batch_match_their_own_encoding(encoder):
    """Padding is cut to the longest text of the batch; no text may depend on its neighbours."""
    texts = ["dog", "a photo of a dog on a beach at sunset with two children", "word " * 100, ""]
    batch = encoder.encode_texts(texts)
    single = np.concatenate([encoder.encode_texts([t]) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-5)
    assert batch.shape == (4, 32) and (batch @ batch.T)[0, 1] < 0.9999


def test_preload_loads_both_towers_in_the_background(tiny_bundle_dir):
    fresh = Encoder(Bundle.load(tiny_bundle_dir))
    fresh.preload("text", "image").join(timeout=60)
    assert set(fresh._sessions) == {"text", "image"} and fresh._tokenizer is not None


def test_image_tower_threads_sleep_when_idle_and_text_tower_threads_spin(tiny_bundle_dir):
    """While indexing, the image tower's idle threads must leave the CPU to the decoders; a
    query, one short run, is quicker with threads that spin."""
    fresh = Encoder(Bundle.load(tiny_bundle_dir))

    def spins(kind: str) -> bool:
        options = fresh._session(kind).get_session_options()
        try:
            return options.get_session_config_entry("session.intra_op.allow_spinning") != "0"
        except RuntimeError:  # not set: ONNX Runtime's default, which spins
            return True
    assert not spins("image") and spins("text")


def test_close_waits_for_a_preload_in_flight(tiny_bundle_dir):
    """A process must not exit while ONNX Runtime builds a session in another thread: the C++
    runtime aborts it ("terminate called without an active exception", exit -6), e.g. when a
    search fails on a damaged catalog right after starting to load the text tower."""
    fresh = Encoder(Bundle.load(tiny_bundle_dir))
    thread = fresh.preload("image", "text")
    fresh.close()
    assert not thread.is_alive() and set(fresh._sessions) == {"text", "image"}


def test_settings_are_checked(tiny_bundle_dir, monkeypatch):
    bundle = Bundle.load(tiny_bundle_dir)
    with pytest.raises(ModelInvalid, match="unknown device"):
        Encoder(bundle, device="tpu")
    with pytest.raises(ModelInvalid, match="has no int8 image tower"):
        Encoder(bundle, precision="int8")
    with pytest.raises(ModelInvalid, match="has no int8 text tower"):
        Encoder(bundle, text_precision="int8")
    monkeypatch.setenv("PIXSEEK_THREADS", "many")
    with pytest.raises(ModelInvalid, match="PIXSEEK_THREADS"):
        Encoder(bundle)
    monkeypatch.setenv("PIXSEEK_THREADS", "1")
    assert Encoder(bundle).threads == 1
    assert Encoder(bundle, threads=3).threads == 3
    monkeypatch.delenv("PIXSEEK_THREADS")
    assert Encoder(bundle).threads == usable_cores() >= 1


def test_cuda_is_used_when_present_and_refused_clearly_when_not(tiny_bundle_dir):
    import onnxruntime as ort

    bundle = Bundle.load(tiny_bundle_dir)
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert Encoder(bundle).providers[0] == "CUDAExecutionProvider"
    else:
        assert Encoder(bundle).providers == ["CPUExecutionProvider"]
        with pytest.raises(ModelInvalid, match="onnxruntime-gpu"):
            Encoder(bundle, device="cuda").encode_texts(["x"])


def test_cuda_prefers_fp32_towers(tiny_bundle_dir, tmp_path):
    source = Bundle.load(tiny_bundle_dir)
    both_int8 = source.config.with_towers("image", {"fp32": "image.onnx", "int8": "image.int8.onnx"}, "int8")
    both_int8 = Bundle(tmp_path, both_int8.with_towers("text", {"fp32": "text.onnx", "int8": "text.int8.onnx"}, "int8"))
    cuda, cpu = ["CUDAExecutionProvider", "CPUExecutionProvider"], ["CPUExecutionProvider"]
    for kind in ("image", "text"):
        assert default_precision(both_int8, kind, cuda) == "fp32"
        assert default_precision(both_int8, kind, cpu) == "int8"
    only_int8 = Bundle(tmp_path, both_int8.config.with_towers("image", {"int8": "image.int8.onnx"}, "int8"))
    assert default_precision(only_int8, "image", cuda) == "int8"


@pytest.fixture(scope="module")
def int8_bundle(tiny_bundle_dir, tmp_path_factory) -> Bundle:
    from pixseek.model.install import install_from_path

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(tmp_path_factory.mktemp("int8-home")))
        return install_from_path(tiny_bundle_dir, "int8-copy", precision="int8", report=lambda message: None)


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_a_photos_vector_does_not_depend_on_its_batch_mates(int8_bundle, precision):
    """Dynamic int8 scales activations per run, so batched vectors move with the photos beside
    them; on the CPU each photo runs alone, and its vector is the same bit for bit in any batch."""
    encoder = Encoder(int8_bundle, precision=precision, device="cpu")
    assert encoder.precision == precision and encoder.one_image_per_run
    pixels = np.stack([encoder.preprocess(p) for p in generated_photos(20)])
    alone = encoder.encode_pixels(pixels[7:8])[0]
    for batch, row in ((pixels, 7), (pixels[5:12], 2), (pixels[7:], 0), (pixels[[3, 7, 7, 1]], 1)):
        assert np.array_equal(encoder.encode_pixels(batch)[row], alone)
    if precision == "int8":  # what this guards against: the same photo batched moves
        batched = Encoder(int8_bundle, precision="int8", device="cpu")
        batched.one_image_per_run = False
        assert not np.array_equal(batched.encode_pixels(pixels)[7], batched.encode_pixels(pixels[7:8])[0])


def test_status_says_where_the_model_runs(pixseek_home, photo_dir, tmp_path):
    from pixseek.library import Library

    with Library.open(tmp_path / "index", create=True) as library:
        library.index([photo_dir])
        status = library.status()
    assert status.runs_on.startswith("CPU, ") and "image tower (each image alone)" in status.runs_on
    (pixseek_home / "models" / "tiny-test" / "pixseek-model.json").unlink()  # the model is gone
    with Library.open(tmp_path / "index") as library:
        assert library.status().runs_on.startswith("cannot run: ")
