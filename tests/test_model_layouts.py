"""Every catalogue model installs from its hub layout without PyTorch, and reproduces its family.

The fake hub serves each catalogue repo (and two more Immich export variants) in its exact
layout, built from random weights (tests/hub_layouts.py). They are installed by the real CLI in
a subprocess where importing torch or transformers fails, then checked here against the
family's own preprocessing, tokenizer and PyTorch towers with the same weights.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import hub_layouts as layouts
from conftest import make_photo
from fake_hub import serving
from pixseek.model.bundle import Bundle
from pixseek.model.known_models import BY_NAME
from pixseek.model.encoder import Encoder

# exports a PyTorch reference of every hub layout: `make test` only, on the one worker that runs this
# file (--dist loadfile), so built once
pytestmark = pytest.mark.slow


# Catalogue name -> how its repo is built. The Immich variants are installed by repo id.
BUILDERS = {
    "clip-vit-b-32": layouts.xenova_repo,
    "clip-vit-b-16": lambda work: layouts.xenova_repo(work, seed=21),
    "clip-vit-b-32-laion2b": layouts.immich_clip_repo,
    "clip-vit-b-32-256-datacomp": layouts.rclip_repo,
    "siglip-vit-b-16": layouts.immich_siglip_repo,
    "xlm-roberta-base-vit-b-32": layouts.immich_xlm_roberta_repo,
    "mclip-xlm-roberta-large-vit-b-32": lambda work: layouts.immich_xlm_roberta_repo(work, mclip=True),
    "siglip2-vit-b-16": lambda work: layouts.immich_siglip_repo(work, seed=22, version=2),
    "nllb-clip-base-siglip": layouts.immich_nllb_repo,
    "mobileclip-s2": lambda work: layouts.xenova_repo(work, seed=23, mobileclip=True),
}
VARIANTS = {
    "immich-free-batch": ("someone/ViT-B-32__older-export", lambda work: layouts.immich_clip_repo(work, 31, fixed_batch=False)),
    "immich-uint8": ("someone/ViT-B-32__uint8-export", lambda work: layouts.immich_clip_repo(work, 32, uint8=True)),
    "rclip-int8": ("someone/rclip-int8-export", lambda work: layouts.rclip_repo(work, 33, int8=True)),
}
# Installed in fp32 (no int8 quantization and check, a third of the install time): each has the
# graph of another repo here that is installed with int8 (clip-vit-b-32, siglip-vit-b-16,
# clip-vit-b-32-laion2b), and every test compares fp32 towers.
FP32_INSTALLS = {"clip-vit-b-16", "mobileclip-s2", "siglip2-vit-b-16", "immich-free-batch"}
TEXTS = ["a dog on a beach", "A Photo of TWO cats, sleeping!", "sunset_over the mountains...", "ein Hund am Strand",
         "浜辺の犬", "dog’s toy &amp; ball", "  spaced   out  ", "", "word " * 60, "chien sur la plage", "海滩上的狗",
         "Собака на пляже"]
# Sizes where torchvision's rounded crop offset and Hugging Face's floored one differ.
PHOTO_SIZES = [(227, 224), (231, 224), (224, 300), (300, 200), (259, 256), (640, 427), (224, 224)]
BLOCK_TORCH = """
import sys
class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers", "torchvision"):
            raise ImportError(name + " is not installed here")
sys.meta_path.insert(0, NoTorch())
from pixseek.cli import main
for spec in sys.argv[1:]:
    code = main(["model", "install", *spec.split("|")])
    if code:
        sys.exit(code)
assert not any(name.split(".")[0] in ("torch", "transformers") for name in sys.modules)
print("installed without torch:", len(sys.argv) - 1)
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build every repo, serve them, install them all without PyTorch; yields (home, repos, server)."""
    work = tmp_path_factory.mktemp("layouts")
    repos, files = {}, {}
    for name, build in BUILDERS.items():
        repos[name] = build(work / name)
        files[BY_NAME[name].repo] = repos[name].files
    for name, (repo_id, build) in VARIANTS.items():
        repos[name] = build(work / name)
        files[repo_id] = repos[name].files
    home = work / "home"
    with pytest.MonkeyPatch.context() as patch, serving(files, patch, work / "hf-cache") as server:
        for entry in BY_NAME.values():
            server.revisions[entry.repo] = {entry.revision}
        specs = [name + ("|--precision|fp32" if name in FP32_INSTALLS else "") for name in BUILDERS]
        specs += [f"{name}|--repo|{repo_id}" + ("|--precision|fp32" if name in FP32_INSTALLS else "")
                  for name, (repo_id, _) in VARIANTS.items()]
        env = {**os.environ, "PIXSEEK_HOME": str(home)}
        env.pop("PIXSEEK_MODEL", None)
        done = subprocess.run([sys.executable, "-c", BLOCK_TORCH, *specs], env=env, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
        assert f"installed without torch: {len(specs)}" in done.stdout
        yield home, repos, server


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("layout-photos")
    return [Image.open(make_photo(folder / f"p{i}.png", seed=40 + i, size=size)).convert("RGB")
            for i, size in enumerate(PHOTO_SIZES)]


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sum(a * b, axis=1)


@pytest.mark.parametrize("name", [*BUILDERS, *VARIANTS])
def test_layout_installs_and_matches_its_reference(installed, photos, name):
    home, repos, server = installed
    reference = repos[name].reference
    bundle = Bundle.load(home / "models" / name)
    encoder = Encoder(bundle, precision="fp32" if "fp32" in bundle.config.towers("image") else None, text_precision="fp32")
    if bundle.config.image_layout == "float32-nchw":
        ours = np.stack([encoder.preprocess(p) for p in photos])
        theirs = np.stack([reference.pixels(p) for p in photos])
        assert np.abs(ours - theirs).max() < 1e-4, "preprocessing differs from the family's reference"
    image_cos = cosines(encoder.encode_images(photos), reference.image_vectors(np.stack([reference.pixels(p) for p in photos])))

    ids, mask = encoder.tokenize(TEXTS)
    expected = reference.token_ids(TEXTS)
    if reference.pad_compared:
        assert np.array_equal(ids, expected), "token ids differ from the family's tokenizer"
    else:  # the reference pads otherwise (to the longest text, or with another id): compare the texts' ids
        for row, length in enumerate(mask.sum(axis=1)):
            assert list(ids[row, :length]) == list(expected[row, :length])
    text_cos = cosines(encoder.encode_texts(TEXTS), reference.text_vectors(expected))
    print(f"\n{name}: {bundle.config.source.get('layout')} layout, batch {'any' if bundle.config.image_batch == 0 else 1}, "
          f"image cosine min {image_cos.min():.7f}, text cosine min {text_cos.min():.7f}")
    assert image_cos.min() >= repos[name].image_cosine and text_cos.min() >= 0.9999
    fetched = [path for method, path, _ in server.requests if "/resolve/" in path]
    assert not [junk for junk in repos[name].never_fetched if any(path.endswith("/" + junk) for path in fetched)]


def test_catalogue_installs_record_their_pinned_source(installed):
    home, _, _ = installed
    for name, entry in BY_NAME.items():
        source = Bundle.load(home / "models" / name).config.source
        installed = Bundle.load(home / "models" / name).model_id
        assert (source["layout"], source["repo"], installed) == (entry.layout, entry.repo, entry.model_id)


def test_a_tower_shipped_only_in_int8_is_used_as_shipped(installed):
    home, _, _ = installed
    config = Bundle.load(home / "models" / "rclip-int8").config
    assert config.towers("image") == {"int8": "image.int8.onnx"} and config.precision == "int8"
    assert config.text_precision == "int8" and "fp32" in config.towers("text")  # the text tower was quantized here


def test_towers_exported_for_one_image_take_batches_where_the_graph_allows(installed):
    """Immich's current exports fix the batch at 1. CLIP's image tower is freed at install (and
    checked to give each image what it gives alone); SigLIP's attention-pooling head cannot be,
    so it runs one image per thread."""
    home, _, _ = installed
    batches = {name: Bundle.load(home / "models" / name).config.image_batch
               for name in ("clip-vit-b-32-laion2b", "immich-uint8", "immich-free-batch", "siglip-vit-b-16")}
    assert batches == {"clip-vit-b-32-laion2b": 0, "immich-uint8": 0, "immich-free-batch": 0, "siglip-vit-b-16": 1}


@pytest.mark.parametrize("name", ["clip-vit-b-32-laion2b", "siglip-vit-b-16"])
def test_immich_models_index_and_search(installed, tmp_path, monkeypatch, name):
    from pixseek.library import Library

    home, _, _ = installed
    for i in range(40):
        make_photo(tmp_path / "photos" / f"{i}.jpg", seed=100 + i)
    monkeypatch.setenv("PIXSEEK_HOME", str(home))
    with Library.open(tmp_path / "index", model=name, create=True) as library:
        library.index([tmp_path / "photos"])
        assert library.status().images == 40
        stored = library.vector(str(tmp_path / "photos" / "7.jpg"))
        alone = Encoder(Bundle.load(home / "models" / name)).encode_images([Image.open(tmp_path / "photos" / "7.jpg")])[0]
        assert float(stored @ alone) > 0.9999  # in a batch of 32 as alone
        best = library.search(str(tmp_path / "photos" / "7.jpg"), k=1)[0]
        assert Path(best.path).name == "7.jpg" and best.score > 0.999


def test_multilingual_model_tells_languages_apart(installed):
    from tokenizers import Tokenizer

    home, _, _ = installed
    bundle = Bundle.load(home / "models" / "xlm-roberta-base-vit-b-32")
    encoder = Encoder(bundle)
    ids, mask = encoder.tokenize(["ein Hund am Strand", "浜辺の犬"])
    unk = Tokenizer.from_file(str(bundle.tokenizer_path)).token_to_id("<unk>")
    assert all(unk not in row[: n] for row, n in zip(ids, mask.sum(axis=1)))  # German and Japanese words are in the vocabulary
    vectors = encoder.encode_texts(["ein Hund am Strand", "浜辺の犬"])
    assert float(vectors[0] @ vectors[1]) < 0.999


@pytest.fixture(scope="module")
def immich_files(tmp_path_factory) -> dict[str, bytes]:
    return layouts.immich_clip_repo(tmp_path_factory.mktemp("immich"), seed=50).files


def _spoil(files: dict[str, bytes], name: str, data: bytes | None) -> dict[str, bytes]:
    spoilt = dict(files)
    if data is None:
        del spoilt[name]
    else:
        spoilt[name] = data
    return spoilt


FAULTS = {
    "wrong revision": (None, "was not found on the hub"),
    "missing file": (("visual/preprocess_cfg.json", None), "has no visual/preprocess_cfg.json"),
    "damaged config": (("config.json", b"{not json"), "config.json is damaged"),
    "damaged tower": (("visual/model.onnx", b"\x08\x07garbage" * 100), "not a readable ONNX model"),
    "damaged tokenizer": (("textual/tokenizer.json", b"[]"), "textual/tokenizer.json|tokenizer.json is not a usable tokenizer"),
    "unknown resize mode": (("visual/preprocess_cfg.json", b'{"size": 224, "resize_mode": "longest"}'), "resize mode 'longest'"),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_broken_catalogue_repo_is_one_line_and_installs_nothing(immich_files, tmp_path, monkeypatch, pixseek_home, fault):
    from pixseek.errors import PixseekError
    from pixseek.model.install import install_from_hub

    spoil, expected = FAULTS[fault]
    entry = BY_NAME["clip-vit-b-32-laion2b"]
    files = immich_files if spoil is None else _spoil(immich_files, *spoil)
    with serving({entry.repo: files}, monkeypatch, tmp_path / "hf") as server:
        server.revisions[entry.repo] = {"main"} if fault == "wrong revision" else {entry.revision}
        with pytest.raises(PixseekError, match=expected) as error:
            install_from_hub(entry.name, report=lambda message: None)
    assert "\n" not in str(error.value)
    left = sorted(p.name for p in (pixseek_home / "models").iterdir() if not p.name.endswith(".lock"))
    assert left == ["tiny-test"]  # nothing installed, no staging folder left behind


def test_interrupted_layout_download_resumes(immich_files, tmp_path, monkeypatch, pixseek_home):
    from pixseek.model.install import install_from_hub

    entry = BY_NAME["clip-vit-b-32-laion2b"]
    with serving({entry.repo: immich_files}, monkeypatch, tmp_path / "hf") as server:
        server.cut_once.add("textual/model.onnx")
        bundle = install_from_hub(entry.name, precision="fp32", report=lambda message: None)
        ranges = [r for method, path, r in server.requests if method == "GET" and path.endswith("/textual/model.onnx") and r]
    assert ranges and not ranges[0].startswith("bytes=0-")
    assert (bundle.path / "text.onnx").read_bytes() == immich_files["textual/model.onnx"]


def test_repo_in_no_known_layout_is_one_line(tmp_path, monkeypatch, pixseek_home):
    from pixseek.model.hub import DownloadFailed
    from pixseek.model.install import install_from_hub

    repo = {"weights/model.bin": b"x" * 100, "visual/model.armnn": layouts.JUNK, "README.md": b"hi"}
    with serving({"someone/something": repo}, monkeypatch, tmp_path / "hf") as server:
        with pytest.raises(DownloadFailed, match="holds no model in a layout pixseek knows"):
            install_from_hub("something", repo_id="someone/something", report=lambda message: None)
        assert not [path for _, path, _ in server.requests if "/resolve/" in path]


@pytest.mark.parametrize("name", ["clip-vit-b-32-laion2b", "clip-vit-b-32-256-datacomp"])
def test_copied_in_hub_files_install_offline(installed, tmp_path, monkeypatch, pixseek_home, name):
    """`--from` takes a clone of a hub repo (or an archive of one), named as the hub names it."""
    import tarfile

    from pixseek.model.install import install_from_path

    home, repos, _ = installed
    clone = tmp_path / BY_NAME[name].repo.split("/")[-1]
    for path, data in repos[name].files.items():
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        (clone / path).write_bytes(data)
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(clone, arcname=clone.name)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for source, installed_as in ((clone, "from-folder"), (archive, "from-archive")):
        bundle = install_from_path(source, installed_as, precision="fp32", report=lambda message: None)
        assert bundle.model_id == BY_NAME[name].model_id
        reference = Bundle.load(home / "models" / name)
        texts = ["a dog on a beach", "two cats"]
        expected = Encoder(reference, text_precision="fp32").encode_texts(texts)
        assert np.allclose(Encoder(bundle).encode_texts(texts), expected, atol=1e-5)


def test_multilingual_queries_run_end_to_end_through_the_cli(installed, tmp_path):
    """An index made with NLLB-CLIP (random weights: the plumbing, not the quality) answers French
    and Chinese queries through the CLI: each query is read in its own language (its FLORES-200
    code first), and the scores are the cosines of that text vector with the stored photos'."""
    import json

    from pixseek.library import Library

    home, _, _ = installed
    for i in range(6):
        make_photo(tmp_path / "photos" / f"{i}.jpg", seed=200 + i)
    env = {**os.environ, "PIXSEEK_HOME": str(home)}
    env.pop("PIXSEEK_MODEL", None)
    env.pop("PIXSEEK_LANGUAGE", None)
    index = str(tmp_path / "index")

    def pixseek(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "pixseek", *args], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    pixseek("index", "--index", index, "--model", "nllb-clip-base-siglip", str(tmp_path / "photos"))
    bundle = Bundle.load(home / "models" / "nllb-clip-base-siglip")
    encoder = Encoder(bundle)
    ids, _ = encoder.tokenize(["chien sur la plage", "海滩上的狗", "a dog on a beach"])
    from tokenizers import Tokenizer

    codes = Tokenizer.from_file(str(bundle.tokenizer_path))
    assert list(ids[:, 0]) == [codes.token_to_id(c) for c in ("fra_Latn", "zho_Hans", "eng_Latn")]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        with Library.open(index, other_model="use its own") as library:
            stored = {Path(p).name: library.vector(p) for p in map(str, sorted((tmp_path / "photos").iterdir()))}
    for query in ("chien sur la plage", "海滩上的狗"):
        results = json.loads(pixseek("search", "--index", index, "--json", "-k", "6", query).stdout)
        assert len(results) == 6
        text = encoder.encode_texts([query])[0]
        for result in results:
            assert abs(result["score"] - float(stored[Path(result["path"]).name] @ text)) < 1e-4
