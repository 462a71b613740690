"""Text tokenization on the `tokenizers` library, from the bundle's tokenizer.json.

A text tower wants exactly `context_length` ids: the tokenizer's own start/end tokens around the
text's tokens, then the pad id (0 for CLIP, as OpenAI's tokenizer pads; the tokenizer's pad token
for SigLIP and XLM-RoBERTa models); text that is too long is truncated but keeps its end token,
as CLIP's own tokenizer does.

Before BPE, OpenAI's tokenizer (the one CLIP was trained with) cleans text with ftfy and a double
HTML unescape; tokenizer.json has no such step, so we apply it here. Without it, a query typed on
a phone ("dog’s toy", curly apostrophe) or pasted from a web page ("cats &amp; dogs") would get
other ids than CLIP saw in training. ftfy is optional: without it only mojibake, curly quotes,
ligatures and full-width forms go uncorrected (docs/model.md). Other families clean as open_clip
does for them (`CLEANING`): SigLIP also drops punctuation and case ("canonicalize").
"""

from __future__ import annotations

import html
from collections.abc import Callable
import string
from functools import lru_cache
from pathlib import Path

import numpy as np


@lru_cache(maxsize=1)
def _fix_text() -> Callable[[str], str]:
    try:
        from ftfy import fix_text
    except ImportError:
        return lambda text: text
    return fix_text


def plain(text: str) -> bool:
    """Printable ASCII without "&": nothing for ftfy or HTML unescaping to change (the tests check
    this against ftfy), so most queries skip both, and the 50 ms import of ftfy."""
    return text.isascii() and text.isprintable() and "&" not in text


def clean(text: str) -> str:
    """OpenAI CLIP's `basic_clean`; whitespace and case are left to tokenizer.json's normalizer."""
    if plain(text):
        return text.strip()
    return html.unescape(html.unescape(_fix_text()(text))).strip()


def whitespace_clean(text: str) -> str:
    """open_clip's "whitespace" cleaning: `basic_clean`, then runs of whitespace to one space."""
    return " ".join(clean(text).split())


_PUNCTUATION = str.maketrans("", "", string.punctuation)


def canonicalize(text: str) -> str:
    """open_clip's "canonicalize" cleaning (big_vision's, for SigLIP): `basic_clean`, underscores
    to spaces, ASCII punctuation dropped, lower case, runs of whitespace to one space."""
    return " ".join(clean(text).replace("_", " ").translate(_PUNCTUATION).lower().split())


# How each model family cleans text before tokenizing: "clip" leaves case and whitespace to CLIP's
# tokenizer.json; "lower" is open_clip's name for CLIP's cleaning, for other tokenizers; "none":
# as typed, M-CLIP's way.
CLEANING: dict[str, Callable[[str], str]] = {
    "clip": clean, "lower": lambda text: whitespace_clean(text).lower(), "whitespace": whitespace_clean,
    "canonicalize": canonicalize, "none": lambda text: text}


class TextTokenizer:
    def __init__(self, tokenizer_file: Path, context_length: int, pad_id: int = 0, cleaning: str = "clip"):
        from tokenizers import Tokenizer

        self.context_length, self.pad_id = context_length, pad_id
        self._clean = CLEANING[cleaning]
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=context_length)

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask, both int64 of shape (len(texts), context_length)."""
        encodings = self._tokenizer.encode_batch([self._clean(text) for text in texts])
        ids = np.full((len(texts), self.context_length), self.pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
        return ids, mask
