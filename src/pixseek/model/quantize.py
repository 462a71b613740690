"""int8 dynamic quantization of the image tower, and the check that decides whether to keep it.

Indexing time is dominated by the image tower, and dynamic int8 quantization of its MatMuls
makes it about 2.5 times faster on a CPU with VNNI. Quantization error depends on the weights,
so it is never trusted blindly: the quantized tower is compared with fp32 on sample photos and
kept only when the embeddings (and the rankings they produce) agree. See docs/model.md for the measurements
behind the default settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from pixseek.errors import ModelInvalid
from pixseek.model.bundle import first_line

INT8_IMAGE_MODEL = "image.int8.onnx"
INT8_TEXT_MODEL = "text.int8.onnx"
# Queries used to compare rankings; only their variety matters, not their meaning.
PROBE_QUERIES = (
    "a photo of a dog", "a red car parked on a street", "sunset over the mountains", "a bowl of fruit",
    "people at a birthday party", "a snowy forest", "a cat sleeping on a sofa", "a city skyline at night",
)
_SUBJECTS = ("a dog", "two cats", "a red car", "an old man", "a bowl of soup", "a mountain lake", "children playing",
             "a city street", "a wooden boat", "a bicycle", "a wedding cake", "an airplane")
_PLACES = ("on a beach", "at night", "in the snow", "under a tree", "in a kitchen", "near the sea", "in the rain",
           "at a party", "in the desert", "on a bridge")
# Captions for checking a text tower: 120 of them, short to long.
PROBE_CAPTIONS = tuple(f"{subject} {place}" for subject in _SUBJECTS for place in _PLACES)


class Towers(Protocol):
    """What the agreement checks run: an Encoder's two towers."""

    def encode_pixels(self, pixels: np.ndarray) -> np.ndarray: ...

    def encode_texts(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class QuantSettings:
    """Arguments for onnxruntime's quantize_dynamic; the defaults are the measured best."""

    op_types: tuple[str, ...] = ("MatMul",)
    per_channel: bool = False
    reduce_range: bool = False
    weight_type: str = "QInt8"

    def describe(self) -> str:
        flags = [self.weight_type, "+".join(self.op_types)]
        flags += ["per-channel"] if self.per_channel else []
        flags += ["reduce-range"] if self.reduce_range else []
        return " ".join(flags)


# Tried in order until one agrees with fp32: the fastest first, then per-channel weight scales,
# which cost a few percent of speed and follow weights with outlier channels more closely. The
# text tower's token embedding (a Gather, 100 MB of its 254 MB) is quantized too: a third of the
# file to load, which is what a one-off search waits for.
IMAGE_CANDIDATES = (QuantSettings(), QuantSettings(per_channel=True))
TEXT_CANDIDATES = (QuantSettings(op_types=("MatMul", "Gather")), QuantSettings(op_types=("MatMul", "Gather"), per_channel=True))


@dataclass(frozen=True)
class Thresholds:
    """What "the embeddings agree" means. Rankings decide: an outlier channel can leave the mean
    cosine at 0.99 while reordering half of the top 10 (see the tests), so the cosine bounds only
    catch gross damage, and leave room for real CLIP's larger but harmless int8 error."""

    mean_cosine: float = 0.98
    min_cosine: float = 0.95
    top10_overlap: float = 0.8


@dataclass
class Agreement:
    """How closely an int8 tower's embeddings (and the rankings they give) follow fp32's."""

    kind: str  # "image" or "text"
    count: int  # photos or captions embedded by both
    mean_cosine: float
    min_cosine: float
    top10_overlap: float  # mean fraction of shared top-10 results
    accepted: bool = False
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verdict = "accepted" if self.accepted else "rejected (" + "; ".join(self.reasons) + ")"
        return (
            f"int8 vs fp32 {self.kind} tower on {self.count} {'photos' if self.kind == 'image' else 'captions'}: "
            f"mean cosine {self.mean_cosine:.4f}, "
            f"min {self.min_cosine:.4f}, top-10 overlap {self.top10_overlap:.2f}: {verdict}"
        )


def quantize_tower(source: Path, destination: Path, settings: QuantSettings = QuantSettings()) -> Path:
    """Write an int8 copy of the fp32 tower `source` to `destination`."""
    import logging

    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # its "consider pre-processing" advice is noise for users
    try:
        quantize_dynamic(
            str(source), str(destination),
            op_types_to_quantize=list(settings.op_types),
            per_channel=settings.per_channel,
            reduce_range=settings.reduce_range,
            weight_type=QuantType[settings.weight_type],
            # Fused graphs carry ops whose output types shape inference cannot name.
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
    except Exception as exc:  # onnx/onnxruntime raise untyped errors for unreadable models
        raise ModelInvalid(f"cannot quantize {source.name}: {first_line(exc)}") from None
    finally:
        logging.disable(logging.NOTSET)
    return destination




def top_k_overlap(targets_ref: np.ndarray, targets_cand: np.ndarray, queries_ref: np.ndarray, queries_cand: np.ndarray,
                  k: int = 10) -> float:
    """Mean fraction of the top-k targets that two (queries, targets) embeddings agree on."""
    k = min(k, len(targets_ref))
    top_ref = np.argsort(-(queries_ref @ targets_ref.T), axis=1)[:, :k]
    top_cand = np.argsort(-(queries_cand @ targets_cand.T), axis=1)[:, :k]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top_ref, top_cand)]))


def compare(reference: np.ndarray, candidate: np.ndarray, text_queries: np.ndarray, k: int = 10) -> tuple[float, float, float]:
    """Mean and min cosine of paired image vectors, and the mean top-k overlap of the rankings they
    give, for every photo as a query against the others and for text queries (what search does)."""
    cosines = np.sum(reference * candidate, axis=1)
    image_overlap = top_k_overlap(reference, candidate, reference, candidate, k)
    text_overlap = top_k_overlap(reference, candidate, text_queries, text_queries, k)
    return float(cosines.mean()), float(cosines.min()), (image_overlap + text_overlap) / 2


def judge(kind: str, count: int, mean_cos: float, min_cos: float, overlap: float, thresholds: Thresholds) -> Agreement:
    agreement = Agreement(kind, count, mean_cos, min_cos, overlap)
    if mean_cos < thresholds.mean_cosine:
        agreement.reasons.append(f"mean cosine below {thresholds.mean_cosine}")
    if min_cos < thresholds.min_cosine:
        agreement.reasons.append(f"min cosine below {thresholds.min_cosine}")
    if overlap < thresholds.top10_overlap:
        agreement.reasons.append(f"top-10 overlap below {thresholds.top10_overlap}")
    agreement.accepted = not agreement.reasons
    return agreement


def image_vectors(encoder: Towers, pixels: np.ndarray, batch: int = 16) -> np.ndarray:
    return np.concatenate([encoder.encode_pixels(pixels[i : i + batch]) for i in range(0, len(pixels), batch)])


def check_agreement(fp32: Towers, int8: Towers, pixels: np.ndarray, thresholds: Thresholds = Thresholds(),
                    reference: np.ndarray | None = None) -> Agreement:
    """Compare two Encoders' image towers on preprocessed `pixels` (N, 3, S, S); `reference`: fp32's
    vectors of them, where already known."""
    reference = image_vectors(fp32, pixels) if reference is None else reference
    candidate = image_vectors(int8, pixels)
    return judge("image", len(pixels), *compare(reference, candidate, fp32.encode_texts(list(PROBE_QUERIES))), thresholds)


def check_text_agreement(fp32: Towers, int8: Towers, photos: np.ndarray, thresholds: Thresholds = Thresholds()) -> Agreement:
    """Compare two Encoders' text towers on PROBE_CAPTIONS: cosines, and the photos (image vectors
    `photos`, from one image tower) that each caption ranks first."""
    reference, candidate = fp32.encode_texts(list(PROBE_CAPTIONS)), int8.encode_texts(list(PROBE_CAPTIONS))
    cosines = np.sum(reference * candidate, axis=1)
    overlap = top_k_overlap(photos, photos, reference, candidate)
    return judge("text", len(reference), float(cosines.mean()), float(cosines.min()), overlap, thresholds)
