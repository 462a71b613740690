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

import numpy as np

from pixseek.errors import ModelInvalid
from pixseek.model.bundle import first_line

INT8_IMAGE_MODEL = "image.int8.onnx"
# Queries used to compare rankings; only their variety matters, not their meaning.
PROBE_QUERIES = (
    "a photo of a dog", "a red car parked on a street", "sunset over the mountains", "a bowl of fruit",
    "people at a birthday party", "a snowy forest", "a cat sleeping on a sofa", "a city skyline at night",
)


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
# which cost a few percent of speed and follow weights with outlier channels more closely.
QUANT_CANDIDATES = (QuantSettings(), QuantSettings(per_channel=True))


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
    """How closely one image tower's embeddings follow another's on the same photos."""

    images: int
    mean_cosine: float
    min_cosine: float
    top10_overlap: float  # mean fraction of shared top-10 results, image and text queries together
    accepted: bool = False
    reasons: list[str] = field(default_factory=list)

    def summary(self) -> str:
        verdict = "accepted" if self.accepted else "rejected (" + "; ".join(self.reasons) + ")"
        return (
            f"int8 vs fp32 on {self.images} photos: mean cosine {self.mean_cosine:.4f}, "
            f"min {self.min_cosine:.4f}, top-10 overlap {self.top10_overlap:.2f}: {verdict}"
        )


def quantize_image_tower(source: Path, destination: Path, settings: QuantSettings = QuantSettings()) -> Path:
    """Write an int8 copy of the fp32 image tower `source` to `destination`."""
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


def _top_k_overlap(reference: np.ndarray, candidate: np.ndarray, queries_ref: np.ndarray, queries_cand: np.ndarray, k: int) -> float:
    k = min(k, len(reference))
    top_ref = np.argsort(-(queries_ref @ reference.T), axis=1)[:, :k]
    top_cand = np.argsort(-(queries_cand @ candidate.T), axis=1)[:, :k]
    return float(np.mean([len(set(a) & set(b)) / k for a, b in zip(top_ref, top_cand)]))


def compare(reference: np.ndarray, candidate: np.ndarray, text_queries: np.ndarray, k: int = 10) -> tuple[float, float, float]:
    """Mean and min cosine of paired unit vectors, and mean top-k overlap of the rankings they give.

    Rankings are checked for every image used as a query against the others, and for text queries,
    which is what search does; int8 error matters only where it reorders results.
    """
    cosines = np.sum(reference * candidate, axis=1)
    image_overlap = _top_k_overlap(reference, candidate, reference, candidate, k)
    text_overlap = _top_k_overlap(reference, candidate, text_queries, text_queries, k)
    return float(cosines.mean()), float(cosines.min()), (image_overlap + text_overlap) / 2


def check_agreement(fp32, int8, pixels: np.ndarray, thresholds: Thresholds = Thresholds(), batch: int = 16) -> Agreement:
    """Compare two Encoders' image embeddings on preprocessed `pixels` (N, 3, S, S)."""
    reference = np.concatenate([fp32.encode_pixels(pixels[i : i + batch]) for i in range(0, len(pixels), batch)])
    candidate = np.concatenate([int8.encode_pixels(pixels[i : i + batch]) for i in range(0, len(pixels), batch)])
    mean_cos, min_cos, overlap = compare(reference, candidate, fp32.encode_texts(list(PROBE_QUERIES)))
    agreement = Agreement(len(pixels), mean_cos, min_cos, overlap)
    if mean_cos < thresholds.mean_cosine:
        agreement.reasons.append(f"mean cosine below {thresholds.mean_cosine}")
    if min_cos < thresholds.min_cosine:
        agreement.reasons.append(f"min cosine below {thresholds.min_cosine}")
    if overlap < thresholds.top10_overlap:
        agreement.reasons.append(f"top-10 overlap below {thresholds.top10_overlap}")
    agreement.accepted = not agreement.reasons
    return agreement
