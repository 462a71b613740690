"""Our ONNX towers and preprocessing against the reference (transformers + PyTorch), same weights.

A random-weight CLIP is rebuilt from the same seed as the exported bundle, so both sides hold
identical weights: any difference is the export, the runtime or the preprocessing.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED_PHOTOS, make_photo
from pixseek.model.bundle import Bundle
from pixseek.model.encoder import Encoder, normalise
from pixseek.model.samples import folder_photos, generated_photos

TEXTS = ["a photo of a dog", "sunset over the mountains", "", "a red sports car parked by the sea at night",
         "word " * 100, "東京の夜景 🌃", "two cats, one dog & a parrot!"]


def reference_photos(count: int = 24) -> list[Image.Image]:
    """Generated photos of several sizes, plus real ones when ../shared is present."""
    photos = list(generated_photos(count))
    return photos + (folder_photos(SHARED_PHOTOS, count) if SHARED_PHOTOS.is_dir() else [])


def torch_image_embeddings(model, pixels: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return normalise(model.get_image_features(pixel_values=torch.from_numpy(pixels)).pooler_output.numpy())


def torch_text_embeddings(model, hf_tokenizer, texts: list[str]) -> np.ndarray:
    """The reference path end to end: transformers' tokenizer (max-length padding) and text tower."""
    import torch

    batch = hf_tokenizer(texts, padding="max_length", truncation=True, max_length=77, return_tensors="pt")
    with torch.no_grad():
        features = model.get_text_features(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
    return normalise(features.pooler_output.numpy())


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.fixture(scope="module")
def tiny_reference():
    from pixseek.model.export import random_clip

    return random_clip("tiny", seed=0)  # the weights of conftest's tiny bundle


@pytest.fixture(scope="module")
def hf_tokenizer(clip_vocab):
    from conftest import clip_tokenizer_from_bpe

    return clip_tokenizer_from_bpe(clip_vocab)


def check_towers(bundle: Bundle, model, hf_tokenizer, label: str, min_cosine: float = 0.9999, photos: int = 24) -> None:
    encoder = Encoder(bundle, precision="fp32")
    pixels = np.stack([encoder.preprocess(p) for p in reference_photos(photos)])
    image_cos = cosines(encoder.encode_pixels(pixels), torch_image_embeddings(model, pixels))
    text_cos = cosines(encoder.encode_texts(TEXTS), torch_text_embeddings(model, hf_tokenizer, TEXTS))
    print(f"\n{label} fp32 ONNX vs PyTorch: image cosine min {image_cos.min():.7f} over {len(pixels)} photos, "
          f"text cosine min {text_cos.min():.7f} over {len(TEXTS)} texts")
    assert image_cos.min() >= min_cosine
    assert text_cos.min() >= min_cosine


def test_tiny_model_matches_pytorch(tiny_bundle_dir, tiny_reference, hf_tokenizer):
    check_towers(Bundle.load(tiny_bundle_dir), tiny_reference, hf_tokenizer, "tiny")


def test_reference_embeddings_differ_between_photos(tiny_bundle_dir):
    """Guards the test above: equal cosines mean nothing if every photo gave the same vector."""
    encoder = Encoder(Bundle.load(tiny_bundle_dir), precision="fp32")
    vectors = encoder.encode_images(reference_photos(8))
    off_diagonal = (vectors @ vectors.T)[~np.eye(len(vectors), dtype=bool)]
    assert off_diagonal.min() < 0.999


def small_p16_checkpoint(folder, clip_vocab, preprocessor: dict):
    """A ViT-B/16-style random CLIP (patch 16, 96 px, other widths) saved in HF format with its
    image processor config, as hub checkpoints come."""
    import torch
    from transformers import CLIPConfig, CLIPModel
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from conftest import clip_tokenizer_from_bpe

    torch.manual_seed(5)
    config = CLIPConfig(
        text_config=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2, num_attention_heads=4),
        vision_config=dict(hidden_size=96, intermediate_size=192, num_hidden_layers=3, num_attention_heads=4,
                           patch_size=16, image_size=96),
        projection_dim=24,
    )
    model = CLIPModel(config).eval()
    model.save_pretrained(folder)
    clip_tokenizer_from_bpe(clip_vocab).save_pretrained(folder)
    CLIPImageProcessorPil(**preprocessor).save_pretrained(folder)
    return model


def test_other_clip_shape_exports_through_the_checkpoint_path(tmp_path, clip_vocab, hf_tokenizer):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from pixseek.model.sources.checkpoint import export_checkpoint

    preprocessor = dict(size={"shortest_edge": 96}, crop_size={"height": 96, "width": 96},
                        image_mean=[0.5] * 3, image_std=[0.25] * 3)
    model = small_p16_checkpoint(tmp_path / "checkpoint", clip_vocab, preprocessor)
    bundle = export_checkpoint(str(tmp_path / "checkpoint"), tmp_path / "bundle", "test/clip-p16")
    assert (bundle.config.image_size, bundle.config.embedding_dim) == (96, 24)
    assert (bundle.config.mean, bundle.config.std) == ((0.5,) * 3, (0.25,) * 3)
    check_towers(bundle, model, hf_tokenizer, "patch-16 96px")
    # End to end from PIL images, against the checkpoint's own image processor.
    photos = reference_photos(6)
    reference = CLIPImageProcessorPil.from_pretrained(tmp_path / "checkpoint")(photos, return_tensors="np")["pixel_values"]
    ours = Encoder(bundle).encode_images(photos)
    assert cosines(ours, torch_image_embeddings(model, reference)).min() >= 0.9999


def test_checkpoint_with_other_preprocessing_is_refused(tmp_path, clip_vocab):
    from pixseek.errors import ModelInvalid
    from pixseek.model.sources.checkpoint import export_checkpoint

    small_p16_checkpoint(tmp_path / "checkpoint", clip_vocab,
                         dict(size={"shortest_edge": 110}, crop_size={"height": 96, "width": 96}))
    with pytest.raises(ModelInvalid, match="pixseek reproduces CLIP's resize"):
        export_checkpoint(str(tmp_path / "checkpoint"), tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()


def int8_figures(bundle: Bundle, label: str) -> tuple[np.ndarray, np.ndarray]:
    """Cosines between the fp32 and int8 embeddings of both towers of `bundle`."""
    from pixseek.model.quantize import PROBE_CAPTIONS

    fp32 = Encoder(bundle, precision="fp32", text_precision="fp32")
    int8 = Encoder(bundle, precision="int8", text_precision="int8")
    pixels = np.stack([fp32.preprocess(p) for p in reference_photos()])
    image_cos = cosines(fp32.encode_pixels(pixels), int8.encode_pixels(pixels))
    text_cos = cosines(fp32.encode_texts(list(PROBE_CAPTIONS)), int8.encode_texts(list(PROBE_CAPTIONS)))
    print(f"\n{label} int8 vs fp32: image cosine mean {image_cos.mean():.5f} min {image_cos.min():.5f} "
          f"over {len(pixels)} photos; "
          f"text cosine mean {text_cos.mean():.5f} min {text_cos.min():.5f} over {len(text_cos)} captions")
    return image_cos, text_cos


def test_tiny_int8_stays_close(tiny_bundle_dir, tmp_path):
    import shutil

    from pixseek.model.install import choose_precision

    bundle = choose_precision(Bundle.load(shutil.copytree(tiny_bundle_dir, tmp_path / "b")), "int8", None, lambda m: None)
    assert (bundle.config.precision, bundle.config.text_precision) == ("int8", "int8")
    image_cos, text_cos = int8_figures(bundle, "tiny")
    assert image_cos.min() > 0.98 and text_cos.min() > 0.98


# -- preprocessing ----------------------------------------------------------------------------


def odd_images(tmp_path) -> list[Image.Image]:
    """Sizes and modes that exercise every branch: small, tall, wide, exact, grey, alpha, palette, CMYK."""
    specs = [((320, 240), "RGB"), ((240, 320), "RGB"), ((224, 224), "RGB"), ((100, 60), "RGB"), ((2000, 225), "RGB"),
             ((225, 2000), "RGB"), ((301, 257), "L"), ((300, 200), "RGBA"), ((300, 200), "P"), ((257, 301), "CMYK"),
             ((1024, 768), "RGB"), ((223, 225), "RGB")]
    return [Image.open(make_photo(tmp_path / f"{i}.{'jpg' if mode == 'CMYK' else 'png'}", seed=i, size=size, mode=mode))
            for i, (size, mode) in enumerate(specs)]


@pytest.mark.parametrize("size", [224, 96])
def test_preprocessing_matches_clip_image_processor(tmp_path, size):
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from pixseek.model.bundle import CLIP_MEAN, CLIP_STD
    from pixseek.model.preprocess import ClipPreprocessor

    reference = CLIPImageProcessorPil(size={"shortest_edge": size}, crop_size={"height": size, "width": size})
    ours = ClipPreprocessor(size, CLIP_MEAN, CLIP_STD)
    images = odd_images(tmp_path) + reference_photos(8)
    if SHARED_PHOTOS.is_dir():
        images += [Image.open(p) for p in sorted((SHARED_PHOTOS / "imagenet-sample").glob("*.JPEG"))[::10]]
    worst = 0.0
    for image in images:
        expected = reference(image, return_tensors="np")["pixel_values"][0]
        got = ours(image)
        assert got.shape == expected.shape == (3, size, size)
        worst = max(worst, float(np.abs(got - expected).max()))
    print(f"\npreprocessing {size}px vs CLIPImageProcessor (PIL) on {len(images)} images: max abs diff {worst:.2e}")
    assert worst <= 1e-5


# -- full size --------------------------------------------------------------------------------


@pytest.mark.slow
def test_full_size_vit_b_32_matches_pytorch_and_int8_agrees(tmp_path, clip_vocab, hf_tokenizer):
    """ViT-B/32's real shapes: the fp32 graphs at full size, and int8 (whose scales depend on the
    sizes) accepted by the installer's own check, whose figures are printed."""
    from pixseek.model.clip_bpe import clip_tokenizer
    from pixseek.model.export import export_model, random_clip
    from pixseek.model.install import choose_precision

    model = random_clip("vit-b-32", seed=0)  # one model: exported, then the reference
    bundle = export_model(model, clip_tokenizer(clip_vocab), tmp_path / "full", "random/vit-b-32-seed0")
    assert (bundle.config.embedding_dim, bundle.config.image_size) == (512, 224)
    check_towers(bundle, model, hf_tokenizer, "ViT-B/32", photos=8)  # the shapes are the point: 8 drawn and 8 real photos do
    messages = []
    bundle = choose_precision(bundle, "int8", SHARED_PHOTOS if SHARED_PHOTOS.is_dir() else None, messages.append)
    print("\n" + "\n".join(messages))
    assert (bundle.config.precision, bundle.config.text_precision) == ("int8", "int8")
