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

NLLB-CLIP's text tower reads the query's language as its first token (`language_codes`
"flores200"): the ids are [language code] + the text's tokens + [</s>], as NLLB's tokenizer makes
them for a source language, with the language from model/languages.py.
"""

from __future__ import annotations

import html
from collections.abc import Callable
import string
from functools import lru_cache
from pathlib import Path

import numpy as np

from pixseek.model.languages import DEFAULT_CODE, query_language

LANGUAGE_CODES = ("", "flores200")  # how a tokenizer is told the text's language: not at all, or NLLB's way
END_OF_TEXT = "</s>"


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
    def __init__(self, tokenizer_file: Path, context_length: int, pad_id: int = 0, cleaning: str = "clip",
                 language_codes: str = ""):
        from tokenizers import Tokenizer

        self.context_length, self.pad_id = context_length, pad_id
        self._clean = CLEANING[cleaning]
        self._tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=context_length)
        self._languages = language_codes == "flores200"
        if self._languages:
            end, english = self._tokenizer.token_to_id(END_OF_TEXT), self._tokenizer.token_to_id(DEFAULT_CODE)
            if end is None or english is None:
                raise ValueError(f"the tokenizer lacks {END_OF_TEXT} or {DEFAULT_CODE}, which NLLB's tokenizer has")
            self._end, self._english = end, english

    def _ids(self, texts: list[str]) -> list[list[int]]:
        cleaned = [self._clean(text) for text in texts]
        if not self._languages:
            return [encoding.ids for encoding in self._tokenizer.encode_batch(cleaned)]
        words = self._tokenizer.encode_batch(cleaned, add_special_tokens=False)
        return [[self._language_id(text), *encoding.ids[: self.context_length - 2], self._end]
                for text, encoding in zip(texts, words)]

    def _language_id(self, text: str) -> int:
        """The id of the text's language code (English where this tokenizer lacks that code)."""
        found = self._tokenizer.token_to_id(query_language(text))
        return found if found is not None else self._english

    def __call__(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids and attention mask, both int64 of shape (len(texts), context_length)."""
        ids = np.full((len(texts), self.context_length), self.pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, found in enumerate(self._ids(texts)):
            ids[row, : len(found)] = found
            mask[row, : len(found)] = 1
        return ids, mask
