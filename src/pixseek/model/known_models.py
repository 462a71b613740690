"""The models `pixseek model install NAME` knows: where each is published, pinned, and what it gives.

Every entry is a ready ONNX export on the Hugging Face hub, so installing needs no PyTorch. The
revision, a commit, pins the repo's files and their contents (layouts change under a branch);
rclip's repo squashes its history at each upload, so it cannot be pinned, and it follows "main".
Every file is checked anyway by what its graph takes and gives before it is installed.

Figures: `download_mb` is what is fetched (hub file sizes, or estimated from the parameter count
where the sizes could not be read); `recall` is the published zero-shot text->image R@1 on
Flickr30k and MS-COCO 5k: open_clip's (docs/openclip_retrieval_results.csv) unless `recall_source`
names another publication, None where nothing comparable is published; `images_per_s` is the int8
image tower alone as pixseek installs it, batch 32 on the 2 cores of this project's test machine
(an Intel Xeon, load 1.9), measured with random weights of the model's exact shape by
benchmarks/models.py on 2026-11-28 (None: not measured there; `pixseek model list --available`
measures every model on the user's machine, model/speed.py). Sources in docs/models.md.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_MODEL = "clip-vit-b-32"
# The id the default model's indexes record, by whichever route it was installed.
DEFAULT_MODEL_ID = "openai/clip-vit-base-patch32"


@dataclass(frozen=True)
class KnownModel:
    name: str  # installed under this name
    title: str
    model_id: str  # what indexes record
    repo: str
    revision: str
    layout: str  # a module of pixseek.model.sources
    download_mb: int
    embedding_dim: int
    image_size: int
    licence: str
    recall: tuple[float | None, float] | None  # (Flickr30k, MS-COCO) text->image R@1
    images_per_s: float | None
    tower: str  # the image tower's architecture, a key of speed.TOWERS
    languages: str = "English"
    root: str = ""  # the layout's folder inside the repo
    recall_source: str = "open_clip"


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel(
        name=DEFAULT_MODEL, title="OpenAI CLIP ViT-B/32, the classic default", model_id=DEFAULT_MODEL_ID,
        repo="Xenova/clip-vit-base-patch32", revision="4c1807b705b1d015fb032789cc4d221b23025a6f", layout="xenova",
        download_mb=608, embedding_dim=512, image_size=224, licence="MIT", recall=(0.588, 0.304), images_per_s=70,
        tower="vit-b-32",
    ),
    KnownModel(
        name="clip-vit-b-32-laion2b", title="ViT-B/32 trained by LAION on LAION-2B: the default's cost, better recall",
        model_id="laion/CLIP-ViT-B-32-laion2B-s34B-b79K", repo="immich-app/ViT-B-32__laion2b-s34b-b79k",
        revision="8204c663a7b5aa2edd55e0df578b39f57af07376", layout="immich", download_mb=607, embedding_dim=512,
        image_size=224, licence="MIT", recall=(0.668, 0.393), images_per_s=70, tower="vit-b-32",
    ),
    KnownModel(
        name="clip-vit-b-32-256-datacomp", title="ViT-B/32 at 256 px trained on DataComp-1B (what rclip ships)",
        model_id="laion/CLIP-ViT-B-32-256x256-DataComp-s34B-b86K", repo="yurijmikhalevich/rclip-models",
        revision="main", layout="rclip", root="ViT-B-32-256-datacomp_s34b_b86k/", download_mb=605, embedding_dim=512,
        image_size=256, licence="MIT", recall=(0.649, 0.399), images_per_s=53, tower="vit-b-32-256",
    ),
    KnownModel(
        name="clip-vit-b-16", title="OpenAI CLIP ViT-B/16: finer patches, about 4x the image work of B/32",
        model_id="openai/clip-vit-base-patch16", repo="Xenova/clip-vit-base-patch16",
        revision="c32d8e02b868e2fbb4d080d155161b06393fb0f2", layout="xenova", download_mb=601, embedding_dim=512,
        image_size=224, licence="MIT", recall=(0.622, 0.331), images_per_s=20, tower="vit-b-16",
    ),
    KnownModel(
        name="siglip-vit-b-16", title="Google SigLIP ViT-B/16 (WebLI): the best recall here, 768-d vectors",
        model_id="timm/ViT-B-16-SigLIP", repo="immich-app/ViT-B-16-SigLIP__webli",
        revision="2e4c3aa5012ebacb4ce6333261c438c47d2d7f94", layout="immich", download_mb=812, embedding_dim=768,
        image_size=224, licence="Apache-2.0", recall=(0.747, 0.478), images_per_s=16, tower="siglip-b-16",
    ),
    KnownModel(
        name="xlm-roberta-base-vit-b-32", title="multilingual: XLM-RoBERTa text tower with ViT-B/32 (LAION-5B)",
        model_id="laion/CLIP-ViT-B-32-xlm-roberta-base-laion5B-s13B-b90k",
        repo="immich-app/XLM-Roberta-Base-ViT-B-32__laion5b_s13b_b90k", revision="main", layout="immich",
        download_mb=1470, embedding_dim=512, image_size=224, licence="MIT", recall=(0.645, 0.378), images_per_s=70,
        tower="vit-b-32", languages="about 100 languages",
    ),
    KnownModel(
        name="mclip-xlm-roberta-large-vit-b-32", title="multilingual M-CLIP: XLM-RoBERTa-Large text tower with OpenAI's ViT-B/32",
        model_id="M-CLIP/XLM-Roberta-Large-Vit-B-32", repo="immich-app/XLM-Roberta-Large-Vit-B-32",
        revision="b84fd07ca997532c931aff32d4076dd09323d744", layout="immich", download_mb=2610, embedding_dim=512,
        image_size=224, licence="MIT", recall=None, images_per_s=70, tower="vit-b-32", languages="about 100 languages",
    ),
    KnownModel(
        name="siglip2-vit-b-16", title="Google SigLIP 2 ViT-B/16 (WebLI): SigLIP's image cost, better recall, Gemma tokenizer",
        model_id="timm/ViT-B-16-SigLIP2", repo="immich-app/ViT-B-16-SigLIP2__webli", revision="main", layout="immich",
        download_mb=1530, embedding_dim=768, image_size=224, licence="Apache-2.0", recall=(None, 0.521), images_per_s=16,
        tower="siglip-b-16", languages="English (trained on WebLI in many languages; best in English)",
        recall_source="SigLIP 2 paper (arXiv 2502.14786), Table 1: COCO only",
    ),
    KnownModel(
        name="nllb-clip-base-siglip", title="multilingual NLLB-CLIP: NLLB-200's text encoder with SigLIP's ViT-B/16 at 384 px",
        model_id="visheratin/nllb-clip-base-siglip", repo="immich-app/nllb-clip-base-siglip__v1", revision="main",
        layout="immich", download_mb=2050, embedding_dim=768, image_size=384, licence="CC-BY-NC-4.0 (non-commercial)",
        recall=(0.692, 0.432), images_per_s=None, tower="siglip-b-16-384",
        languages="about 200 languages (FLORES-200; the query's language is detected or set with PIXSEEK_LANGUAGE)",
    ),
    KnownModel(
        name="mobileclip-s2", title="Apple MobileCLIP-S2: a fast FastViT image tower for slow CPUs (ImageNet zero-shot 74.4%)",
        model_id="apple/MobileCLIP-S2", repo="Xenova/mobileclip_s2", revision="main", layout="xenova", download_mb=400,
        embedding_dim=512, image_size=256, licence="Apple (the repo's LICENSE)", recall=None,
        images_per_s=None, tower="mobileclip-s2",
    ),
)
BY_NAME = {entry.name: entry for entry in KNOWN_MODELS}


def entry_for(name: str) -> KnownModel | None:
    return BY_NAME.get(name)


def model_id_for(layout: str, folder_name: str) -> str | None:
    """The id of a catalogue model whose files were copied in by hand, known by its folder's name
    (a clone of the hub repo, or rclip's model folder)."""
    for entry in KNOWN_MODELS:
        if entry.layout == layout and folder_name in (entry.repo.split("/")[-1], entry.root.rstrip("/")):
            return entry.model_id
    return None


def installed_name(model_id: str) -> str:
    """The name a model is installed under: its catalogue name, else the last part of its id."""
    return next((entry.name for entry in KNOWN_MODELS if entry.model_id == model_id), model_id.split("/")[-1])


def install_hint(name: str = DEFAULT_MODEL) -> str:
    """How to install model `name`: a catalogue model from the hub by its name, any other from its
    repo; any model from a copied-in folder. (Installing is the command line's job in every face.)"""
    if name in BY_NAME:
        online = "`pixseek model install`" if name == DEFAULT_MODEL else f"`pixseek model install {name}`"
    else:
        online = f"`pixseek model install {name} --repo OWNER/REPO`"
    return f"install it with {online} (offline: `pixseek model install {name} --from PATH`, see docs/model.md)"
