"""Finding photos by the words written in them ("the photo says ...").

Every word of the search must be found in the photo's text, folded alike on both sides (case,
accents, full-width forms: signals/text_match.py). Two tiers, the first always ranked first:

1. exact: each word is in the text as typed, inside a longer word too ("voice" finds
   "INVOICE"). Words of 3+ characters go through the FTS5 trigram index; shorter ones ("Q3",
   a two-character Chinese word) are checked in the text of the photos the others found, or
   by a scan of every photo's text when the search has no longer word.
2. near: a word of 5+ characters may be found with one slip, a letter OCR read wrong, dropped
   or added ("INV0ICE" for "invoice"). Looked for only when the exact tier has fewer photos
   than asked for: every one-slip variant of the word as a GLOB pattern, each narrowed by the
   trigram index and checked by SQLite (a wrong middle letter of a 5-letter word leaves no
   intact trigram to narrow by, and is not looked for).

Within a tier photos are ordered by the CLIP score when the query has terms, else by match
quality (words found whole, slips, the reader's confidence) among FTS5's best (bm25) matches.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from pixseek.signals.text_match import (TRIGRAM, WordMatch, fold, match_word, quality, slip_patterns, slips_allowed,
                                        words_of)
from pixseek.signals.words import WordRows
from pixseek.model.ocr import TextLine



def _phrase(word: str) -> str:
    return '"' + word.replace('"', '""') + '"'


@dataclass(frozen=True)
class Words:
    """A search's words, folded and split by what finds them."""

    all: tuple[str, ...]

    @classmethod
    def of(cls, says: str) -> Words:
        return cls(tuple(words_of(says)))

    @property
    def long(self) -> list[str]:
        return [w for w in self.all if len(w) >= TRIGRAM]

    @property
    def short(self) -> list[str]:
        return [w for w in self.all if len(w) < TRIGRAM]

    def exact(self, rows: WordRows, ranked: bool, limit: int | None) -> list[int]:
        """Photos whose text holds every word (`ranked`: best bm25 matches first)."""
        return rows.matching(" AND ".join(_phrase(w) for w in self.long), self.short, limit, ranked)

    def near(self, rows: WordRows, exclude: set[int]) -> list[int]:
        """Photos outside `exclude` whose text holds every word, some with a slip (tier 2)."""
        if not any(slips_allowed(w) for w in self.long):
            return []
        candidates: set[int] | None = None
        for word in self.long:
            found = set(rows.matching(_phrase(word), ())) | rows.globbing(slip_patterns(word) if slips_allowed(word)
                                                                          else [])
            candidates = found if candidates is None else candidates & found
        if self.short and candidates:
            candidates &= set(rows.matching("", self.short))
        return sorted((candidates or set()) - exclude)

    def matches(self, lines: Sequence[str]) -> list[WordMatch] | None:
        """The best match of each word among folded `lines`, or None if a word is not found."""
        found = []
        for word in self.all:
            options = [m for m in (match_word(word, line) for line in lines) if m is not None]
            if not options:
                return None
            found.append(min(options, key=lambda m: (m.slips, not m.whole)))
        return found

    def lines_found(self, lines: Iterable[TextLine]) -> tuple[TextLine, ...]:
        """The lines in which some word is found (what a face shows or highlights)."""
        return tuple(line for line in lines
                     if any(match_word(w, fold(line.text)) is not None for w in self.all))

    def quality(self, lines: list[TextLine]) -> float:
        """How well a photo's `lines` match, 0..1 (see signals/text_match.quality)."""
        found = self.matches([fold(line.text) for line in lines])
        shown = self.lines_found(lines)
        confidence = sum(line.confidence for line in shown) / len(shown) if shown else 0.0
        return quality(found or [], confidence)


def tiers(rows: WordRows, words: Words, enough: int, allowed: np.ndarray | None, ranked: bool,
          limit: int | None = None) -> list[list[int]]:
    """Ids of the photos that say `words`, the exact tier first (`ranked`: by bm25, the first
    `limit`), the near tier second when the first (within `allowed`, if given) has fewer than
    `enough`."""
    exact = _within(words.exact(rows, ranked, limit), allowed)
    if len(exact) >= enough:
        return [exact]
    return [exact, _within(words.near(rows, set(exact)), allowed)]


def _within(ids: list[int], allowed: np.ndarray | None) -> list[int]:
    """`ids` in `allowed` (None: all), in their order."""
    if allowed is None:
        return ids
    kept = np.isin(np.array(ids, dtype=np.int64), allowed)
    return [i for i, keep in zip(ids, kept) if keep]
