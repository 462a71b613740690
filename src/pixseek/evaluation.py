"""Retrieval recall on a captioned photo set, measured as the CLIP papers and open_clip measure it.

Text->image R@K: the share of captions whose own photo is among the K best photos for the
caption. Image->text R@K: the share of photos with one of their own captions among the K best
captions. Photos are embedded by indexing them into a temporary index (the same decoding,
preprocessing and batches as a real index), captions by the model's text tower, so the figures
are what pixseek's search gives. Anyone with a real model reproduces published numbers: on
MS-COCO's 5k test images, OpenAI's ViT-B/32 gets text->image R@1 30.4% (open_clip's table).

Caption files: MS-COCO's annotation format (`images` with `id`/`file_name`, `annotations` with
`image_id`/`caption`), Karpathy's split files for COCO and Flickr30k (`images` with `filename`,
`split`, `sentences[].raw`), or a plain `{"file name": ["caption", ...]}`.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pixseek.engine.results import ProgressCallback
from pixseek.errors import PixseekError
from pixseek.library import Library

KS = (1, 5, 10)


class EvaluationError(PixseekError):
    """The caption file or photo folder cannot be evaluated."""


@dataclass
class RecallReport:
    model_id: str
    photos: int
    captions: int
    text_to_image: dict[int, float]
    image_to_text: dict[int, float]
    chance: dict[int, float]  # text->image R@K of a model that ranks photos at random: K / photos
    missing: list[str] = field(default_factory=list)  # photos named by the caption file but not found or not readable

    @property
    def random_weights(self) -> bool:
        return self.model_id.startswith("random/")


def _karpathy(data: dict[str, Any], split: str | None) -> dict[str, list[str]]:
    captions = {}
    for image in data["images"]:
        if split is None or image.get("split") == split:
            name = str(Path(image.get("filepath", "")) / image["filename"])
            captions[name] = [s["raw"] for s in image["sentences"]]
    return captions


def _coco(data: dict[str, Any]) -> dict[str, list[str]]:
    names = {image["id"]: image["file_name"] for image in data["images"]}
    captions: dict[str, list[str]] = {name: [] for name in names.values()}
    for note in data["annotations"]:
        if note["image_id"] in names:
            captions[names[note["image_id"]]].append(note["caption"])
    return {name: texts for name, texts in captions.items() if texts}


def load_captions(path: Path, split: str | None = None) -> dict[str, list[str]]:
    """Photo file name (relative to the photo folder) -> its captions, from any supported format."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvaluationError(f"caption file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise EvaluationError(f"{path} is not a readable JSON caption file ({exc})") from None
    try:
        if isinstance(data, dict) and "annotations" in data:
            captions = _coco(data)
        elif isinstance(data, dict) and "images" in data:
            captions = _karpathy(data, split)
        elif isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
            captions = {str(name): [str(t) for t in texts] for name, texts in data.items() if texts}
        else:
            raise TypeError("not a known layout")
    except (KeyError, TypeError, AttributeError) as exc:
        raise EvaluationError(f"{path} is in none of the caption formats pixseek reads (MS-COCO annotations, "
                              f"Karpathy splits, {{file: [captions]}}): {exc}") from None
    if not captions:
        raise EvaluationError(f"{path} holds no captions" + (f" in split {split!r}" if split else ""))
    return captions


def text_to_image_recall(similarity: np.ndarray, truth: np.ndarray, ks: Sequence[int] = KS) -> dict[int, float]:
    """similarity: (captions, photos); truth: each caption's photo index. A tie counts against."""
    own = similarity[np.arange(len(truth)), truth]
    rank = (similarity >= own[:, None]).sum(axis=1) - 1  # photos scoring at least as high, itself excluded
    return {k: float(np.mean(rank < k)) for k in ks}


def image_to_text_recall(similarity: np.ndarray, truth: np.ndarray, ks: Sequence[int] = KS) -> dict[int, float]:
    """The same from the photos' side: is one of a photo's own captions among its K best?"""
    order = np.argsort(-similarity.T, axis=1, kind="stable")  # (photos, captions), best first
    hits = truth[order] == np.arange(similarity.shape[1])[:, None]
    first = np.where(hits.any(axis=1), hits.argmax(axis=1), similarity.shape[0])
    return {k: float(np.mean(first < k)) for k in ks}


def evaluate(captions_file: Path, photos: Path, model: str | None = None, split: str | None = None,
             ks: Sequence[int] = KS, progress: ProgressCallback | None = None, batch: int = 256) -> RecallReport:
    """R@K both ways for the photos under `photos` that the caption file names."""
    photos = Path(os.path.abspath(os.path.expanduser(photos)))  # as the index names its folders
    if not photos.is_dir():
        raise EvaluationError(f"photo folder not found: {photos}")
    captions = load_captions(captions_file, split)
    with tempfile.TemporaryDirectory(prefix="pixseek-eval-") as work:
        with Library.open(Path(work) / "index", model=model, create=True) as library:
            library.index([photos], progress=progress)
            found, vectors, missing = [], [], []
            for name in captions:
                vector = library.vector(str(photos / name))
                if vector is None:
                    missing.append(name)
                else:
                    found.append(name)
                    vectors.append(vector)
            if len(found) < 2:
                raise EvaluationError(f"only {len(found)} of the {len(captions)} captioned photos were found in {photos}")
            texts = [text for name in found for text in captions[name]]
            truth = np.asarray([i for i, name in enumerate(found) for _ in captions[name]])
            encoder = library.encoder
            text_vectors = np.concatenate([encoder.encode_texts(texts[i:i + batch]) for i in range(0, len(texts), batch)])
            model_id = library.model_id
    similarity = text_vectors @ np.stack(vectors).T
    return RecallReport(model_id, len(found), len(texts), text_to_image_recall(similarity, truth, ks),
                        image_to_text_recall(similarity, truth, ks), {k: min(1.0, k / len(found)) for k in ks}, missing)
