"""Hub repos in the exact layouts pixseek installs, built in test setup from random weights.

Each builder makes a small random model of the family's real architecture (Hugging Face CLIP,
SigLIP, XLM-RoBERTa with mean pooling), exports its towers with torch.onnx.export under the file
names, input/output names, element types, batch (free or fixed at 1), normalisation and tokenizer
files that the publisher's own export code uses (docs/model.md lists them with their sources),
and keeps the PyTorch model and the family's reference preprocessing and tokenizer, so that a
test can check what pixseek makes of the repo against them. Files that pixseek must never fetch
(ARM NN, RKNN, fp16 and combined copies) are in the repos too, as on the hub.
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import ROOT

CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]
JUNK = b"never to be fetched"
# Text in several languages for training the test tokenizers of the multilingual families.
CORPUS = [
    "a dog on a beach", "sunset over the mountains", "two cats sleeping on a sofa", "a red car in the snow",
    "ein Hund am Strand", "Sonnenuntergang über den Bergen", "zwei Katzen schlafen auf dem Sofa", "ein rotes Auto im Schnee",
    "浜辺の犬", "山に沈む夕日", "ソファで寝ている二匹の猫", "雪の中の赤い車",
    "un chien sur la plage", "un coche rojo en la nieve",
] * 20


@dataclass
class Reference:
    """What a model family's own code makes of photos and texts, and its PyTorch towers."""

    pixels: Callable[[Image.Image], np.ndarray]  # reference preprocessing, float32 (3, S, S)
    token_ids: Callable[[list[str]], np.ndarray]  # reference ids, (N, L) as the tower takes them
    image_vectors: Callable[[np.ndarray], np.ndarray]  # PyTorch image tower on reference pixels
    text_vectors: Callable[[np.ndarray], np.ndarray]  # PyTorch text tower on reference ids
    pad_compared: bool = True  # False where the family pads to the batch's longest text (M-CLIP, HF)


@dataclass
class HubRepo:
    files: dict[str, bytes]
    reference: Reference
    never_fetched: tuple[str, ...]
    image_cosine: float = 0.9999  # the least cosine to the PyTorch image vectors: fp32 towers


# -- references from the families' own code ---------------------------------------------------

def _wheel_module(pattern: str, member: str, name: str, folder: Path):
    """One module of a downloaded wheel (`make install` fetches them), loaded on its own."""
    wheels = sorted((ROOT / ".cache" / "wheels").glob(pattern))
    assert wheels, f"{pattern} missing in .cache/wheels: run `make install`"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_bytes(zipfile.ZipFile(wheels[-1]).read(member))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def open_clip_tokenizers(folder: Path):
    """open_clip's tokenizer.py (SimpleTokenizer, HFTokenizer), with the vocabulary beside it."""
    from pixseek.model.clip_bpe import VOCAB_FILE

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(VOCAB_FILE, folder / "bpe_simple_vocab_16e6.txt.gz")
    return _wheel_module("open_clip_torch-*.whl", "open_clip/tokenizer.py", "open_clip_tokenizer", folder)


def rclip_preprocessing(folder: Path, size: int, mean=CLIP_MEAN, std=CLIP_STD):
    """rclip's preprocess(): open_clip's eval transform (torchvision's Resize and CenterCrop on a
    PIL image) rewritten in PIL + NumPy, for `size`, `mean` and `std`."""
    module = _wheel_module("rclip-*.whl", "rclip/utils/preprocess.py", f"rclip_preprocess_{size}", folder)
    module.IMAGE_SIZE, module.MEAN, module.STD = size, np.asarray(mean, np.float32), np.asarray(std, np.float32)
    return module.preprocess


def rclip_tokenizer(folder: Path):
    from pixseek.model.clip_bpe import VOCAB_FILE

    module = _wheel_module("rclip-*.whl", "rclip/utils/tokenizer.py", "rclip_tokenizer", folder)
    return module.SimpleTokenizer(bpe_path=str(VOCAB_FILE))


# -- exporting --------------------------------------------------------------------------------

def onnx_bytes(module, args, inputs: list[str], outputs: list[str], dynamic: dict | None = None, opset: int = 17) -> bytes:
    import torch

    buffer = io.BytesIO()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buffer, dynamo=False, opset_version=opset, input_names=inputs,
                          output_names=outputs, dynamic_axes=dynamic or {})
    return buffer.getvalue()


def with_external_weights(model_bytes: bytes, location: str) -> tuple[bytes, bytes]:
    """The graph and its weights in a separate file, as Immich saves its large towers."""
    import tempfile

    import onnx

    with tempfile.TemporaryDirectory() as folder:
        model = onnx.load_from_string(model_bytes)
        onnx.save_model(model, f"{folder}/model.onnx", save_as_external_data=True, all_tensors_to_one_file=True,
                        location=location, size_threshold=0)
        return Path(folder, "model.onnx").read_bytes(), Path(folder, location).read_bytes()


def _torch_modules():
    import torch
    import torch.nn.functional as F

    class ImageTower(torch.nn.Module):
        """A CLIP or SigLIP image tower; `normalise` as Immich's exports, `uint8` takes HWC pixels."""

        def __init__(self, model, normalise: bool, uint8: bool = False, mean=CLIP_MEAN, std=CLIP_STD):
            super().__init__()
            self.model, self.normalise, self.uint8 = model, normalise, uint8
            self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

        def forward(self, pixels):
            if self.uint8:
                pixels = (pixels.permute(0, 3, 1, 2).float() / 255 - self.mean) / self.std
            features = self.model.get_image_features(pixel_values=pixels).pooler_output
            return F.normalize(features, dim=-1) if self.normalise else features

    class TextTower(torch.nn.Module):
        def __init__(self, model, normalise: bool):
            super().__init__()
            self.model, self.normalise = model, normalise

        def forward(self, ids):
            features = self.model.get_text_features(input_ids=ids.long()).pooler_output
            return F.normalize(features, dim=-1) if self.normalise else features

    class MeanPooledText(torch.nn.Module):
        """open_clip's HF text tower (mask from the pad id) or M-CLIP's (mask given): XLM-RoBERTa,
        mean pooling over the mask, a projection, normalised."""

        def __init__(self, roberta, dim: int, pad_id: int):
            super().__init__()
            self.roberta, self.pad_id = roberta, pad_id
            self.projection = torch.nn.Linear(roberta.config.hidden_size, dim)

        def forward(self, ids, mask=None):
            ids = ids.long()
            mask = (ids != self.pad_id).long() if mask is None else mask.long()
            hidden = self.roberta(input_ids=ids, attention_mask=mask).last_hidden_state
            pooled = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
            return F.normalize(self.projection(pooled), dim=-1)

    return ImageTower, TextTower, MeanPooledText


def _vectors(module, *arrays) -> np.ndarray:
    import torch

    from pixseek.model.encoder import normalise

    with torch.no_grad():
        return normalise(module(*[torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]).numpy())


def random_clip_model(seed: int, image_size: int = 224):
    import torch
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(seed)
    return CLIPModel(CLIPConfig(
        text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2),
        vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                           patch_size=32, image_size=image_size),
        projection_dim=32)).eval()


def _batch_axes(names: list[str], fixed: bool, sequence: bool = False) -> dict:
    if fixed:
        return {}
    return {name: ({0: "batch", 1: "sequence"} if sequence and i == 0 else {0: "batch"}) for i, name in enumerate(names)}


# -- tokenizers -------------------------------------------------------------------------------

def unigram_tokenizer(specials: list[str], template: str):
    """A small SentencePiece-style (Unigram, Metaspace) tokenizer trained on CORPUS, with the
    family's special tokens first (their ids are the family's) and its end-of-text template."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.Unigram())
    tokenizer.normalizer = normalizers.NFKC()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.train_from_iterator(CORPUS, trainers.UnigramTrainer(vocab_size=400, special_tokens=specials, unk_token="<unk>"))
    tokenizer.post_processor = processors.TemplateProcessing(
        single=template, special_tokens=[(t, tokenizer.token_to_id(t)) for t in specials if t in template])
    return tokenizer


def trained_bpe(specials: list[str], gemma: bool = False) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """A small BPE vocabulary and merges trained on CORPUS, for a family's own tokenizer class to
    be built from: SentencePiece-style (Metaspace) as NLLB's, or Gemma's (spaces as "▁" kept on the
    word before them, bytes for whatever the vocabulary lacks)."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=gemma))
    if gemma:
        tokenizer.normalizer = normalizers.Replace(" ", "▁")
        tokenizer.pre_tokenizer = pre_tokenizers.Split(pattern=" ", behavior="merged_with_previous", invert=False)
    else:
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    byte_tokens = [f"<0x{i:02X}>" for i in range(256)] if gemma else []
    tokenizer.train_from_iterator(CORPUS, trainers.BpeTrainer(vocab_size=300 + len(byte_tokens),
                                                              special_tokens=specials + byte_tokens))
    model = json.loads(tokenizer.to_str())["model"]
    return model["vocab"], [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]


def _tokenizer_files(tokenizer, pad_token: str, length: int, folder: Path) -> dict[str, bytes]:
    """tokenizer.json and tokenizer_config.json, also written to `folder` for the reference code."""
    folder.mkdir(parents=True, exist_ok=True)
    tokenizer.save(str(folder / "tokenizer.json"))
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": pad_token, "model_max_length": length}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return {name: (folder / name).read_bytes() for name in ("tokenizer.json", "tokenizer_config.json")}


def clip_tokenizer_files(folder: Path) -> dict[str, bytes]:
    """CLIP's tokenizer as Immich saves it (from openai/clip-vit-base-patch32: pads with the end token)."""
    from pixseek.model.clip_bpe import clip_tokenizer

    return _tokenizer_files(clip_tokenizer(), "<|endoftext|>", 77, folder)


# -- the layouts ------------------------------------------------------------------------------

# MobileCLIP's preprocessing as open_clip gives it (256 px, bilinear, centre crop, no mean/std),
# in CLIPImageProcessor's terms (Xenova's preprocessor_config.json could not be read here).
MOBILECLIP_PREPROCESSOR = dict(size={"shortest_edge": 256}, crop_size={"height": 256, "width": 256}, resample=2,
                               do_normalize=False)


def xenova_repo(work: Path, seed: int = 11, mobileclip: bool = False) -> HubRepo:
    """transformers.js: onnx/vision_model.onnx and onnx/text_model.onnx, un-normalised, free batch.
    `mobileclip`: Xenova/mobileclip_s2's files, with MobileCLIP's preprocessing; the image tower is
    a ViT of the same input and output, not MobileCLIP's FastViT (timm is not installed here): the
    installer reads only a tower's inputs and outputs."""
    import torch
    from transformers.models.clip.image_processing_pil_clip import CLIPImageProcessorPil

    from pixseek.model.clip_bpe import clip_tokenizer

    ImageTower, TextTower, _ = _torch_modules()
    size = 256 if mobileclip else 224
    model = random_clip_model(seed, image_size=size)
    image, text = ImageTower(model, False).eval(), TextTower(model, False).eval()
    processor = CLIPImageProcessorPil(**(MOBILECLIP_PREPROCESSOR if mobileclip else {}))
    simple = open_clip_tokenizers(work / "open_clip").SimpleTokenizer(context_length=77)
    config = {**model.config.to_dict(), "_name_or_path": "openai/clip-vit-base-patch32"}
    files = {
        "onnx/vision_model.onnx": onnx_bytes(image, (torch.zeros(2, 3, size, size),), ["pixel_values"], ["image_embeds"],
                                             _batch_axes(["pixel_values", "image_embeds"], False)),
        "onnx/text_model.onnx": onnx_bytes(text, (torch.zeros(2, 77, dtype=torch.long),), ["input_ids"], ["text_embeds"],
                                           _batch_axes(["input_ids", "text_embeds"], False, sequence=True)),
        "tokenizer.json": clip_tokenizer().to_str().encode(),
        "preprocessor_config.json": json.dumps(processor.to_dict(), default=str).encode(),
        "config.json": json.dumps(config, default=str).encode(),
    }
    junk = ("onnx/model.onnx", "onnx/vision_model_fp16.onnx", "onnx/vision_model_quantized.onnx",
            "onnx/text_model_quantized.onnx", "vocab.json", "merges.txt", "README.md")
    files.update({name: JUNK for name in junk})

    # Token ids: OpenAI's tokenizer (open_clip's copy), which CLIP was trained with; transformers'
    # differs only where OpenAI's cleaning changes the text (tests/test_model_tokenizer.py).
    reference = Reference(
        pixels=lambda photo: processor(photo, return_tensors="np")["pixel_values"][0],
        token_ids=lambda texts: simple(texts).numpy(), image_vectors=lambda px: _vectors(image, px),
        text_vectors=lambda i: _vectors(text, i))
    return HubRepo(files, reference, junk)


def _immich_files(image_bytes: bytes, text_files: dict[str, bytes], config: dict, preprocess: dict) -> dict[str, bytes]:
    files = {"visual/model.onnx": image_bytes, "config.json": json.dumps(config).encode(),
             "visual/preprocess_cfg.json": json.dumps(preprocess).encode(), **text_files}
    return files


IMMICH_JUNK = ("visual/model.armnn", "textual/model.armnn", "visual/fp16/model.armnn",
               "visual/rknpu/rk3588/model.rknn", "textual/rknpu/rk3566/model.rknn", "README.md")


def immich_clip_repo(work: Path, seed: int = 12, fixed_batch: bool = True, uint8: bool = False) -> HubRepo:
    """An open_clip CLIP as Immich exports it: `image` float32 (or uint8 NHWC), `text` int32,
    normalised `embedding` (older exports: free batch, `image_embedding`/`text_embedding`)."""
    import torch

    ImageTower, TextTower, _ = _torch_modules()
    model = random_clip_model(seed)
    image, text = ImageTower(model, True, uint8=uint8).eval(), TextTower(model, True).eval()
    float_image = ImageTower(model, True).eval()
    names = ("embedding", "embedding") if fixed_batch else ("image_embedding", "text_embedding")
    batch = 1 if fixed_batch else 2
    pixels = torch.zeros(batch, 224, 224, 3, dtype=torch.uint8) if uint8 else torch.zeros(batch, 3, 224, 224)
    opset = 19 if fixed_batch else 17
    image_bytes = onnx_bytes(image, (pixels,), ["image"], [names[0]], _batch_axes(["image", names[0]], fixed_batch), opset)
    text_bytes = onnx_bytes(text, (torch.zeros(batch, 77, dtype=torch.int32),), ["text"], [names[1]],
                            _batch_axes(["text", names[1]], fixed_batch), opset)
    tokenizer = {f"textual/{k}": v for k, v in clip_tokenizer_files(work / "clip-tokenizer").items()}
    config = {"embed_dim": 32, "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32},
              "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}
    preprocess = {"size": [224, 224], "mode": "RGB", "mean": CLIP_MEAN, "std": CLIP_STD, "interpolation": "bicubic",
                  "resize_mode": "shortest", "fill_color": 0}
    files = _immich_files(image_bytes, {"textual/model.onnx": text_bytes, **tokenizer}, config, preprocess)
    files.update({name: JUNK for name in IMMICH_JUNK})
    simple = open_clip_tokenizers(work / "open_clip").SimpleTokenizer(context_length=77)
    reference = Reference(
        pixels=rclip_preprocessing(work / "rclip", 224), token_ids=lambda texts: simple(texts).numpy(),
        image_vectors=lambda px: _vectors(float_image, px), text_vectors=lambda i: _vectors(text, i.astype(np.int32)))
    return HubRepo(files, reference, IMMICH_JUNK)


def _siglip_model(seed: int, vocab: int, image_size: int = 224, pad_id: int = 1, eos_id: int = 1):
    import torch
    from transformers import SiglipConfig, SiglipModel

    torch.manual_seed(seed)
    return SiglipModel(SiglipConfig(
        text_config=dict(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                         max_position_embeddings=64, pad_token_id=pad_id, eos_token_id=eos_id, bos_token_id=None),
        vision_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                           image_size=image_size, patch_size=32))).eval()


SIGLIP_PREPROCESS = {"size": [224, 224], "mode": "RGB", "mean": [0.5] * 3, "std": [0.5] * 3, "interpolation": "bicubic",
                     "resize_mode": "squash", "fill_color": 0}


def immich_siglip_repo(work: Path, seed: int = 13, version: int = 1) -> HubRepo:
    """open_clip's ViT-B-16-SigLIP (`version` 1) or ViT-B-16-SigLIP2 (2) as Immich exports it:
    squash resize, mean/std 0.5, text canonicalised and padded to 64, read at the last position.
    SigLIP pads with </s> (id 1); SigLIP 2 has Gemma's tokenizer as open_clip made it
    (`SigLipTokenizer("gemma")`: no <bos>, <eos> appended, <pad> id 0 on the right)."""
    import torch
    from transformers import GemmaTokenizer, SiglipImageProcessor

    ImageTower, TextTower, _ = _torch_modules()
    tokenizer_folder = work / f"siglip{version}-tokenizer"
    if version == 1:
        tokenizer = unigram_tokenizer(["<pad>", "</s>", "<unk>"], "$A </s>")
        vocab, pad_token, pad_id, eos_id = tokenizer.get_vocab_size(), "</s>", 1, 1
        text_files = _tokenizer_files(tokenizer, pad_token, 64, tokenizer_folder)
    else:
        bpe, merges = trained_bpe(["<pad>", "<eos>", "<bos>", "<unk>", "<mask>"], gemma=True)
        gemma = GemmaTokenizer(vocab=bpe, merges=merges, add_bos_token=False, add_eos_token=True, padding_side="right")
        gemma.save_pretrained(tokenizer_folder)  # as Immich's exporter saves it (AutoTokenizer ... save_pretrained)
        vocab, pad_token, pad_id, eos_id = len(gemma), "<pad>", 0, 1
        text_files = {name: (tokenizer_folder / name).read_bytes() for name in ("tokenizer.json", "tokenizer_config.json")}
    model = _siglip_model(seed, vocab, pad_id=pad_id, eos_id=eos_id)
    image, text = ImageTower(model, True, mean=[0.5] * 3, std=[0.5] * 3).eval(), TextTower(model, True).eval()
    image_bytes = onnx_bytes(image, (torch.zeros(1, 3, 224, 224),), ["image"], ["embedding"], opset=19)
    text_bytes = onnx_bytes(text, (torch.ones(1, 64, dtype=torch.int32),), ["text"], ["embedding"], opset=19)
    hub_name = "timm/ViT-B-16-SigLIP" if version == 1 else "timm/ViT-B-16-SigLIP2"
    config = {"embed_dim": 64, "init_logit_bias": -10,
              "vision_cfg": {"image_size": 224, "timm_model_name": "vit_base_patch16_siglip_224"},
              "text_cfg": {"context_length": 64, "vocab_size": vocab, "hf_tokenizer_name": hub_name,
                           "tokenizer_kwargs": {"clean": "canonicalize"}, "pool_type": "last", "no_causal_mask": True}}
    text_files = {f"textual/{k}": v for k, v in text_files.items()}
    files = _immich_files(image_bytes, {"textual/model.onnx": text_bytes, **text_files}, config, SIGLIP_PREPROCESS)
    files.update({name: JUNK for name in IMMICH_JUNK})
    hf = open_clip_tokenizers(work / "open_clip").HFTokenizer(str(tokenizer_folder), context_length=64, clean="canonicalize")
    processor = SiglipImageProcessor()
    reference = Reference(
        pixels=lambda photo: processor(photo, return_tensors="np")["pixel_values"][0],
        token_ids=lambda texts: hf(texts).numpy(), image_vectors=lambda px: _vectors(image, px),
        text_vectors=lambda i: _vectors(text, i.astype(np.int32)))
    return HubRepo(files, reference, IMMICH_JUNK)


def immich_nllb_repo(work: Path, seed: int = 16) -> HubRepo:
    """open_clip's nllb-clip-base-siglip as Immich exports it: SigLIP's image tower at 384 px
    (squash, mean/std 0.5) and NLLB-200's encoder (M2M100) read at its first position (open_clip's
    cls pooler), where the language code stands; `text` int32 (1, 77), padded with <pad> (id 1),
    the mask made in the graph. The tokenizer is transformers' NllbTokenizer saved as Immich saves
    it; the reference sets its source language per text, to the language pixseek reads the text in."""
    import torch
    import torch.nn.functional as F
    from transformers import M2M100Config, M2M100Model, NllbTokenizer, SiglipImageProcessor

    from pixseek.model.languages import query_language

    ImageTower, _, _ = _torch_modules()
    bpe, merges = trained_bpe(["<s>", "<pad>", "</s>", "<unk>"])
    tokenizer_folder = work / "nllb-tokenizer"
    NllbTokenizer(vocab=bpe, merges=merges).save_pretrained(tokenizer_folder)
    nllb = NllbTokenizer.from_pretrained(str(tokenizer_folder))
    vision = _siglip_model(seed, 8, image_size=384)
    image = ImageTower(vision, True, mean=[0.5] * 3, std=[0.5] * 3).eval()

    class ClsPooledText(torch.nn.Module):
        def __init__(self):
            super().__init__()
            torch.manual_seed(seed + 1)
            self.encoder = M2M100Model(M2M100Config(
                vocab_size=len(nllb), d_model=64, encoder_layers=2, decoder_layers=1, encoder_attention_heads=2,
                decoder_attention_heads=2, encoder_ffn_dim=128, decoder_ffn_dim=128, max_position_embeddings=80,
                pad_token_id=1, scale_embedding=True)).get_encoder()
            self.projection = torch.nn.Linear(64, 64, bias=False)

        def forward(self, ids):
            ids = ids.long()
            hidden = self.encoder(input_ids=ids, attention_mask=(ids != 1).long()).last_hidden_state
            return F.normalize(self.projection(hidden[:, 0]), dim=-1)

    text = ClsPooledText().eval()
    image_bytes = onnx_bytes(image, (torch.zeros(1, 3, 384, 384),), ["image"], ["embedding"], opset=19)
    text_bytes = onnx_bytes(text, (torch.ones(1, 77, dtype=torch.int32),), ["text"], ["embedding"], opset=19)
    text_files = {f"textual/{name}": (tokenizer_folder / name).read_bytes()
                  for name in ("tokenizer.json", "tokenizer_config.json")}
    config = {"embed_dim": 64, "custom_text": True, "init_logit_bias": -10,
              "vision_cfg": {"image_size": 384, "timm_model_name": "vit_base_patch16_siglip_384", "timm_pool": "map"},
              "text_cfg": {"hf_model_name": "facebook/nllb-200-distilled-600M", "hf_tokenizer_name":
                           "facebook/nllb-200-distilled-600M", "hf_proj_type": "linear", "hf_pooler_type": "cls_pooler"}}
    preprocess = {**SIGLIP_PREPROCESS, "size": [384, 384]}
    files = _immich_files(image_bytes, {"textual/model.onnx": text_bytes, **text_files}, config, preprocess)
    files.update({name: JUNK for name in IMMICH_JUNK})
    hf = open_clip_tokenizers(work / "open_clip").HFTokenizer(str(tokenizer_folder), context_length=77, clean="whitespace")

    def token_ids(texts):
        rows = []
        for text in texts:  # open_clip's set_language is undone by transformers 5's call; src_lang is NLLB's own way
            hf.tokenizer.src_lang = query_language(text)
            rows.append(hf([text]).numpy()[0])
        return np.stack(rows)

    processor = SiglipImageProcessor(size={"height": 384, "width": 384})
    reference = Reference(
        pixels=lambda photo: processor(photo, return_tensors="np")["pixel_values"][0], token_ids=token_ids,
        image_vectors=lambda px: _vectors(image, px), text_vectors=lambda i: _vectors(text, i.astype(np.int32)))
    return HubRepo(files, reference, IMMICH_JUNK)


def _xlm_roberta(vocab: int, seed: int):
    import torch
    from transformers import XLMRobertaConfig, XLMRobertaModel

    torch.manual_seed(seed)
    return XLMRobertaModel(XLMRobertaConfig(vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                            num_attention_heads=2, max_position_embeddings=80, pad_token_id=1),
                           add_pooling_layer=False).eval()


def immich_xlm_roberta_repo(work: Path, seed: int = 14, mclip: bool = False) -> HubRepo:
    """A multilingual model as Immich exports it: open_clip's xlm-roberta-base-ViT-B-32 (`text`
    only; the tower masks the pad id itself) or M-CLIP (`input_ids` + `attention_mask`), with a
    CLIP image tower; M-CLIP's text weights live in a separate file, as Immich's large towers do."""
    import torch

    ImageTower, _, MeanPooledText = _torch_modules()
    tokenizer = unigram_tokenizer(["<s>", "<pad>", "</s>", "<unk>"], "<s> $A </s>")
    clip = random_clip_model(seed)
    image = ImageTower(clip, True).eval()
    torch.manual_seed(seed + 1)
    text = MeanPooledText(_xlm_roberta(tokenizer.get_vocab_size(), seed), 32, pad_id=1).eval()
    image_bytes = onnx_bytes(image, (torch.zeros(1, 3, 224, 224),), ["image"], ["embedding"], opset=19)
    ids = torch.ones(1, 77, dtype=torch.int32)
    if mclip:
        text_bytes = onnx_bytes(text, (ids, torch.ones(1, 77, dtype=torch.int32)), ["input_ids", "attention_mask"],
                                ["embedding"], opset=19)
    else:
        text_bytes = onnx_bytes(text, (ids,), ["text"], ["embedding"], opset=19)
    tokenizer_folder = work / ("mclip-tokenizer" if mclip else "xlmr-tokenizer")
    text_files = {f"textual/{k}": v for k, v in _tokenizer_files(tokenizer, "<pad>", 77, tokenizer_folder).items()}
    never = list(IMMICH_JUNK)
    if mclip:
        graph, weights = with_external_weights(text_bytes, "7e068af8-4887-11ef-ab3a-00155d655292")
        text_files.update({"textual/model.onnx": graph, "textual/7e068af8-4887-11ef-ab3a-00155d655292": weights,
                           "textual/dc7c4d04-47e5-11ef-8d6e-00155d655292": JUNK})
        never.append("textual/dc7c4d04-47e5-11ef-8d6e-00155d655292")
    else:
        text_files["textual/model.onnx"] = text_bytes
    config = {"embed_dim": 32, "vision_cfg": {"image_size": 224},
              "text_cfg": {"hf_model_name": "xlm-roberta-base", "hf_tokenizer_name": "xlm-roberta-base", "proj": "mlp",
                           "pooler_type": "mean_pooler"}}
    preprocess = {"size": [224, 224], "mode": "RGB", "mean": CLIP_MEAN, "std": CLIP_STD, "interpolation": "bicubic",
                  "resize_mode": "shortest", "fill_color": 0}
    files = _immich_files(image_bytes, text_files, config, preprocess)
    files.update({name: JUNK for name in IMMICH_JUNK})
    if mclip:
        from transformers import AutoTokenizer

        auto = AutoTokenizer.from_pretrained(str(tokenizer_folder))

        def token_ids(texts):  # M-CLIP pads to the longest text (Immich's graph takes at most 77 ids)
            return np.asarray(auto(texts, padding=True, truncation=True, max_length=77)["input_ids"])

        def text_vectors(i):
            return _vectors(text, i.astype(np.int32), (i != 1).astype(np.int32))
    else:
        hf = open_clip_tokenizers(work / "open_clip").HFTokenizer(str(tokenizer_folder), context_length=77, clean="whitespace")

        def token_ids(texts):
            return hf(texts).numpy()

        def text_vectors(i):
            return _vectors(text, i.astype(np.int32))
    reference = Reference(pixels=rclip_preprocessing(work / "rclip", 224), token_ids=token_ids,
                          image_vectors=lambda px: _vectors(image, px), text_vectors=text_vectors, pad_compared=not mclip)
    return HubRepo(files, reference, tuple(never))


def rclip_repo(work: Path, seed: int = 15, root: str = "ViT-B-32-256-datacomp_s34b_b86k/", int8: bool = False) -> HubRepo:
    """rclip's export: <model>/visual.onnx and textual.onnx, `input` -> `output`, 256 px, not
    normalised; OpenAI's vocabulary under tokenizer/. `int8`: the visual tower as one of rclip's
    export scripts ships it, dynamically quantized (MatMul and Gemm weights to QInt8)."""
    import torch

    from pixseek.model.clip_bpe import VOCAB_FILE

    ImageTower, TextTower, _ = _torch_modules()
    model = random_clip_model(seed, image_size=256)
    image, text = ImageTower(model, False).eval(), TextTower(model, False).eval()
    files = {
        root + "visual.onnx": onnx_bytes(image, (torch.zeros(2, 3, 256, 256),), ["input"], ["output"],
                                         _batch_axes(["input", "output"], False), 18),
        root + "textual.onnx": onnx_bytes(text, (torch.zeros(2, 77, dtype=torch.long),), ["input"], ["output"],
                                          _batch_axes(["input", "output"], False), 18),
        "tokenizer/bpe_simple_vocab_16e6.txt.gz": VOCAB_FILE.read_bytes(),
    }
    if int8:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        work.mkdir(parents=True, exist_ok=True)
        (work / "visual.onnx").write_bytes(files[root + "visual.onnx"])
        quantize_dynamic(str(work / "visual.onnx"), str(work / "visual.int8.onnx"), weight_type=QuantType.QInt8,
                         op_types_to_quantize=["MatMul", "Gemm"])
        files[root + "visual.onnx"] = (work / "visual.int8.onnx").read_bytes()
    junk = (root + "visual.mlpackage/Manifest.json", "README.md", "LICENSE")
    files.update({name: JUNK for name in junk})
    simple = rclip_tokenizer(work / "rclip")
    reference = Reference(pixels=rclip_preprocessing(work / "rclip", 256), token_ids=lambda texts: simple(texts),
                          image_vectors=lambda px: _vectors(image, px), text_vectors=lambda i: _vectors(text, i))
    return HubRepo(files, reference, junk, image_cosine=0.99 if int8 else 0.9999)
