"""Which catalogue model to use on this machine: each one's image speed here, the time it would
take to index the library at that speed, and a recommendation with its reason.

The rule: the best published MS-COCO text->image R@1 among the models that index the library in
under an hour here (image tower alone: decoding the photos adds to it, docs/benchmarks.md); when
none does, the fastest of those with a published figure. Models without a comparable published
figure are shown, never recommended.
"""

from __future__ import annotations

from dataclasses import dataclass

from pixseek.model.bundle import Bundle
from pixseek.model.known_models import KNOWN_MODELS, KnownModel
from pixseek.model.speed import TOWERS, Speed, installed_speed, layer_speed

ASSUMED_PHOTOS = 10_000  # the library size assumed where no index says it
HOUR = 3600.0


@dataclass(frozen=True)
class Estimate:
    entry: KnownModel
    speed: Speed | None  # None: no stand-in of its architecture and not installed

    def index_seconds(self, photos: int) -> float | None:
        return None if self.speed is None else photos / self.speed.images_per_s


def measure(installed: dict[str, Bundle]) -> list[Estimate]:
    """Every catalogue model's image speed here: the installed tower where `installed` (by
    catalogue name) has it, else one layer of its shape (measured once per shape)."""
    by_shape: dict[str, Speed] = {}
    estimates = []
    for entry in KNOWN_MODELS:
        shape = TOWERS[entry.tower]
        if entry.name in installed:
            speed: Speed | None = installed_speed(installed[entry.name])
        elif shape is not None:
            speed = by_shape[entry.tower] = by_shape.get(entry.tower) or layer_speed(shape)
        else:
            speed = None
        estimates.append(Estimate(entry, speed))
    return estimates


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min" if seconds < 2 * HOUR else f"{seconds / HOUR:.1f} h"


def _coco(estimate: Estimate) -> float:
    return estimate.entry.recall[1] if estimate.entry.recall else 0.0


def recommend(estimates: list[Estimate], photos: int) -> tuple[KnownModel | None, str]:
    """The model to use for a library of `photos`, and why, in one sentence."""
    ranked = [e for e in estimates if e.entry.recall is not None and e.speed is not None]
    if not ranked:
        return None, "no model with a published recall figure could be measured here"
    fits = [e for e in ranked if (e.index_seconds(photos) or 0.0) <= HOUR]
    if fits:
        best = max(fits, key=_coco)
        reason = (f"the best published recall (MS-COCO R@1 {100 * _coco(best):.1f}%) of the models that index "
                  f"{photos:,} photos in under an hour here (about {_minutes(best.index_seconds(photos) or 0.0)})")
    else:
        best = min(ranked, key=lambda e: e.index_seconds(photos) or 0.0)
        reason = (f"no model with a published recall indexes {photos:,} photos in under an hour here; "
                  f"this is the fastest of them (about {_minutes(best.index_seconds(photos) or 0.0)})")
    multilingual = [e for e in fits if not e.entry.languages.startswith("English")]
    if best.entry.languages.startswith("English") and multilingual:
        reason += f"; for queries in other languages: {max(multilingual, key=_coco).entry.name}"
    return best.entry, reason
