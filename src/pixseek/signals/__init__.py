"""What pixseek learns about a file, one module a kind (see base.py for the seam).

`SIGNALS` lists them in the order their rows are written in a batch (the perceptual hash after
the metadata whose row holds it). The catalog makes every listed signal's tables and deletes
their rows with a file; the indexer reads and stores every listed signal that can run. A new
signal is a module with its `Signal` and `SignalRows`, and one line here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pixseek.signals.base import FileData, Reads, Signal, SignalRows
from pixseek.signals.clip import ClipVectors, VectorRows
from pixseek.signals.faces import Faces
from pixseek.signals.metadata import Description, Metadata, MetadataRows
from pixseek.signals.phash import PerceptualHash, PhashRows
from pixseek.signals.video import VideoMoments, VideoRows
from pixseek.signals.words import Words

if TYPE_CHECKING:
    from pixseek.model import Encoder

SIGNALS: list[type[Signal]] = [ClipVectors, Metadata, PerceptualHash, Words, VideoMoments, Faces]


def signals_for_run(encoder: Encoder | None) -> list[Signal]:
    """The signals an index run with `encoder` runs (None: one that embeds nothing)."""
    return [signal for kind in SIGNALS if (signal := kind.for_run(encoder)) is not None]

__all__ = ["SIGNALS", "ClipVectors", "Description", "Faces", "FileData", "Metadata", "MetadataRows", "PerceptualHash",
           "PhashRows", "Reads", "Signal", "SignalRows", "VectorRows", "VideoMoments", "VideoRows", "Words",
           "signals_for_run"]
