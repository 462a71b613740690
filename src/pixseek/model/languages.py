"""The language of a query, for models whose text tower is told it (NLLB-CLIP reads a FLORES-200
code, e.g. `fra_Latn`, as its first token, and pools that position).

open_clip's reference tokenizer takes the language as an argument, and Immich passes the user's
interface language; a search box has neither, and a person who types "chien sur la plage" expects
French to be understood. So the language is `$PIXSEEK_LANGUAGE` when set (a FLORES-200 code or a
two-letter code below), else detected offline from the text: its script (kana, Hangul, Han,
Cyrillic, Arabic ...), then, for Latin script, the most common small words of a few languages;
English when nothing decides.
"""

from __future__ import annotations

import os
import re

from pixseek.errors import QueryError

LANGUAGE_VARIABLE = "PIXSEEK_LANGUAGE"
DEFAULT_CODE = "eng_Latn"
# Scripts in the order they decide: kana before Han (Japanese mixes both).
SCRIPTS: tuple[tuple[str, str], ...] = (
    ("\u3040-\u30ff", "jpn_Jpan"), ("\uac00-\ud7af\u1100-\u11ff", "kor_Hang"), ("\u4e00-\u9fff\u3400-\u4dbf", "zho_Hans"),
    ("\u0400-\u04ff", "rus_Cyrl"), ("\u0370-\u03ff", "ell_Grek"), ("\u0590-\u05ff", "heb_Hebr"),
    ("\u0600-\u06ff", "arb_Arab"), ("\u0900-\u097f", "hin_Deva"), ("\u0980-\u09ff", "ben_Beng"),
    ("\u0b80-\u0bff", "tam_Taml"), ("\u0e00-\u0e7f", "tha_Thai"), ("\u10a0-\u10ff", "kat_Geor"),
    ("\u0530-\u058f", "hye_Armn"),
)
# Small words that mark a Latin-script language (a word shared by two languages counts for both).
WORDS: dict[str, frozenset[str]] = {
    "eng_Latn": frozenset("the a an of on in at with and my our by from under near".split()),
    "fra_Latn": frozenset("le la les des du sur dans avec une un et au aux mon ma mes sous près chez".split()),
    "deu_Latn": frozenset("der die das den dem und mit im am auf ein eine einem einer vor bei unter mein".split()),
    "spa_Latn": frozenset("el la los las del en con una un y al mi sobre bajo junto".split()),
    "ita_Latn": frozenset("il lo la gli della sulla nel nella con una un e di al mio sotto".split()),
    "por_Latn": frozenset("o os as da do na no em com uma um e ao meu sob".split()),
    "nld_Latn": frozenset("de het een op met van en in bij onder mijn".split()),
}
# Two-letter codes a person may give in $PIXSEEK_LANGUAGE.
SHORT_CODES = {"en": "eng_Latn", "fr": "fra_Latn", "de": "deu_Latn", "es": "spa_Latn", "it": "ita_Latn",
               "pt": "por_Latn", "nl": "nld_Latn", "ja": "jpn_Jpan", "ko": "kor_Hang", "zh": "zho_Hans",
               "ru": "rus_Cyrl", "el": "ell_Grek", "he": "heb_Hebr", "ar": "arb_Arab", "hi": "hin_Deva",
               "bn": "ben_Beng", "ta": "tam_Taml", "th": "tha_Thai", "ka": "kat_Geor", "hy": "hye_Armn"}
FLORES_CODE = re.compile(r"^[a-z]{3}_[A-Z][a-z]{3}$")


def detect(text: str) -> str:
    """The FLORES-200 code of `text`'s language, by script, then by its small words; English by default."""
    for ranges, code in SCRIPTS:
        if re.search(f"[{ranges}]", text):
            return code
    words = re.findall(r"[^\W\d_]+", text.lower())
    scores = {code: sum(word in marks for word in words) for code, marks in WORDS.items()}
    best = max(scores.values())
    winners = [code for code, score in scores.items() if score == best]
    return DEFAULT_CODE if best == 0 or DEFAULT_CODE in winners else winners[0]


def configured() -> str | None:
    """The language `$PIXSEEK_LANGUAGE` sets, as a FLORES-200 code, or None when unset."""
    value = os.environ.get(LANGUAGE_VARIABLE, "").strip()
    if not value:
        return None
    if FLORES_CODE.match(value):
        return value
    if value.lower() in SHORT_CODES:
        return SHORT_CODES[value.lower()]
    raise QueryError(f"{LANGUAGE_VARIABLE}={value!r} is not a language pixseek knows: give a FLORES-200 code such as "
                     f"fra_Latn, or one of {', '.join(sorted(SHORT_CODES))}")


def query_language(text: str) -> str:
    """The language a query is read in: `$PIXSEEK_LANGUAGE`, else detected."""
    return configured() or detect(text)
