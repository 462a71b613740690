"""The perceptual hash: 64 bits that confirm a near-duplicate pair whatever the model's weights.

Reads the decoded image (only for content no stored row holds; a copy takes the stored hash).
Its value is the `phash` column of the metadata's `photo_meta` row (schema 2's layout, kept so
that existing indexes open unchanged): it is written after the metadata in the same
transaction, and a file whose metadata is not read yet (a photo embedded on a cluster node)
keeps none. The duplicate finder reads it to confirm pairs, and hashes from the files
those photos that have none (duplicates.missing_phashes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pixseek.images import perceptual_hash
from pixseek.signals.base import FileData, Reads, Signal, SignalRows
from pixseek.store.sqlite import rows_for, signed64, unsigned64


class PhashRows(SignalRows):
    schema = ""  # its column lives in photo_meta (signals/metadata.py)

    @classmethod
    def tables(cls) -> list[str]:
        return ["photo_meta"]

    def write(self, rows: Sequence[tuple[int, Any]], generation: int) -> None:
        """Set the hash of rows whose metadata row exists (written first, in the same batch)."""
        self.db.executemany("UPDATE photo_meta SET phash = ? WHERE id = ?", [(signed64(h), i) for i, h in rows])

    def read(self, ids: Iterable[int]) -> dict[int, Any]:
        return {i: unsigned64(h) for i, h in
                rows_for(self.db, "SELECT id, phash FROM photo_meta WHERE phash IS NOT NULL AND id IN ({})", ids)}

    def delete(self, ids: Sequence[int]) -> None:
        """Nothing of its own: the metadata's row, which holds it, goes."""


class PerceptualHash(Signal):
    name = "phash"
    reads = Reads.IMAGE
    rows = PhashRows
    min_side = 32  # it hashes a 32x32 grey picture

    def read(self, file: FileData) -> int:
        assert file.image is not None  # an image signal is given the decoded image
        return perceptual_hash(file.image)
