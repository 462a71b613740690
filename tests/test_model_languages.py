"""The language an NLLB-CLIP query is read in: detected from its script or small words, or set."""

from __future__ import annotations

import pytest

from pixseek.errors import QueryError
from pixseek.model.languages import LANGUAGE_VARIABLE, detect, query_language

DETECTED = {
    "chien sur la plage": "fra_Latn", "海滩上的狗": "zho_Hans", "浜辺の犬": "jpn_Jpan", "해변의 개": "kor_Hang",
    "Собака на пляже": "rus_Cyrl", "ein Hund am Strand": "deu_Latn", "un perro en la playa": "spa_Latn",
    "il cane sulla spiaggia": "ita_Latn", "a dog on the beach": "eng_Latn", "sunset": "eng_Latn", "": "eng_Latn",
    "κύων": "ell_Grek", "كلب على الشاطئ": "arb_Arab", "कुत्ता": "hin_Deva",
}


@pytest.mark.parametrize("text", DETECTED)
def test_language_is_detected_from_script_and_small_words(text, monkeypatch):
    monkeypatch.delenv(LANGUAGE_VARIABLE, raising=False)
    assert detect(text) == query_language(text) == DETECTED[text]


@pytest.mark.parametrize(("value", "code"), [("fr", "fra_Latn"), ("FR", "fra_Latn"), ("swh_Latn", "swh_Latn")])
def test_a_set_language_wins_over_detection(monkeypatch, value, code):
    monkeypatch.setenv(LANGUAGE_VARIABLE, value)
    assert query_language("a dog on the beach") == code


@pytest.mark.parametrize("value", ["french", "xx", "fra-Latn"])
def test_an_unknown_language_is_one_line(monkeypatch, value):
    monkeypatch.setenv(LANGUAGE_VARIABLE, value)
    with pytest.raises(QueryError, match="not a language pixseek knows") as error:
        query_language("chien")
    assert "\n" not in str(error.value)
