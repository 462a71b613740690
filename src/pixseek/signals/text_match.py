"""How words typed in a search meet words read from a photo: one folding for both sides, and a
tolerant comparison that forgives OCR one wrong, missing or extra letter in a long word.

Folding (`fold`) makes text comparable as typed: NFKC (full-width letters and digits, ligatures
become plain ones), accents off Latin, Greek and Cyrillic letters only (a Japanese voiced kana
stays itself, so が never matches か), then case folded. Digits are kept as they are: an OCR
"2O23" does not match "2023" exactly, only as a one-letter slip.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

MIN_FUZZY = 5  # words this long or longer forgive one slip (a letter wrong, missing or extra)
TRIGRAM = 3  # the shortest literal the trigram index finds
STRIPPED_BELOW = 0x0530  # Latin, Greek and Cyrillic (their accents come off)
LATIN_EXTENDED = range(0x1E00, 0x2000)  # Vietnamese, polytonic Greek


@lru_cache(maxsize=4096)
def _plain(char: str) -> str:
    point = ord(char)
    if point < STRIPPED_BELOW or point in LATIN_EXTENDED:
        return "".join(c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c))
    return char


def fold(text: str) -> str:
    """`text` as both the index and a search compare it."""
    return "".join(_plain(c) for c in unicodedata.normalize("NFKC", text)).casefold()


def words_of(text: str) -> list[str]:
    """The folded words of a search, in order, each once."""
    return list(dict.fromkeys(fold(text).split()))


def slips_allowed(word: str) -> int:
    return 1 if len(word) >= MIN_FUZZY else 0


def _glob(text: str) -> str:
    """`text` matched literally by SQLite's GLOB."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def slip_patterns(word: str) -> list[str]:
    """GLOB patterns of `word` read with one slip: a letter wrong, missing or extra. Each is
    narrowed by the trigram index through a literal run of 3+ characters; a variant without one
    (the middle letter of a 5-letter word wrong) would scan every photo's text, and is left out."""
    cuts = ([(word[:i], "?", word[i + 1:]) for i in range(len(word))]  # wrong
            + [(word[:i], "", word[i + 1:]) for i in range(len(word))]  # missing
            + [(word[:i], "?", word[i:]) for i in range(1, len(word))])  # extra
    patterns = [f"*{_glob(left)}{gap}{_glob(right)}*" for left, gap, right in cuts
                if max(len(left), len(right)) >= TRIGRAM or (not gap and len(left + right) >= TRIGRAM)]
    return list(dict.fromkeys(patterns))


def slips(word: str, text: str) -> int:
    """The fewest edits that make `word` a substring of `text` (Sellers' algorithm)."""
    previous = [0] * (len(text) + 1)  # a match may start anywhere in the text
    for i, letter in enumerate(word, 1):
        current = [i] + [0] * len(text)
        for j, other in enumerate(text, 1):
            current[j] = min(previous[j - 1] + (letter != other), previous[j] + 1, current[j - 1] + 1)
        previous = current
    return min(previous)


@dataclass(frozen=True)
class WordMatch:
    """How well one searched word was found in one line: exact (0 slips) or nearly."""

    slips: int
    whole: bool  # found exactly, not inside a longer word


def match_word(word: str, line: str) -> WordMatch | None:
    """How `word` (folded) is found in `line` (folded), or None."""
    at = line.find(word)
    if at >= 0:
        whole = False
        while at >= 0 and not whole:
            end = at + len(word)
            whole = (at == 0 or not line[at - 1].isalnum()) and (end == len(line) or not line[end].isalnum())
            at = line.find(word, at + 1)
        return WordMatch(0, whole)
    allowed = slips_allowed(word)
    if allowed and len(line) >= len(word) - allowed:
        found = slips(word, line)
        if found <= allowed:
            return WordMatch(found, False)
    return None


def quality(found: list[WordMatch], confidence: float) -> float:
    """A photo's match quality, 0..1: words found whole count most, slips least, scaled by how
    sure the reader was of the lines they are in."""
    marks = [1.0 if m.whole and not m.slips else 0.9 if not m.slips else 0.6 for m in found]
    return sum(marks) / len(marks) * confidence if marks else 0.0
