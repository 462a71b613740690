"""CLIP text tokenization on the `tokenizers` library, from the bundle's tokenizer.json.

CLIP wants exactly `context_length` ids: start token, BPE tokens, end token, zero padding; text
that is too long is truncated but keeps its end token, as CLIP's own tokenizer does.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class ClipTokenizer:
    def __init__(self, tokenizer_file: Path, context_length: int):
        from tokenizers import Tokenizer

        self.context_length = context_length
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=context_length)

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask, both int64 of shape (len(texts), context_length)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        ids = np.zeros((len(texts), self.context_length), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
        return ids, mask
