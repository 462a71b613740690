"""Searching photos by the words in them, on text rows written through the catalog (real SQLite
FTS5, the real search path): typos, words inside words, digits, accents, CJK, short words, with a
CLIP query and with filters. Reading text with the real OCR is tests/test_words_ocr.py."""

from __future__ import annotations

import shutil

import pytest

from conftest import TEST_MODEL, make_photo
from pixseek import Library
from pixseek.engine.query import build_query, text_term
from pixseek.errors import EmptyQuery, QueryError
from pixseek.filters import SearchFilters
from pixseek.model.ocr import TextLine
from pixseek.signals.text_match import fold, slips
from pixseek.signals.words import PhotoText, Words
from pixseek.store.catalog import Catalog

BOX = ((0.0, 0.0), (10.0, 0.0), (10.0, 5.0), (0.0, 5.0))
TEXTS = {  # photo name -> the lines "read" in it
    "invoice": ["INV0ICE 2023", "Garage Müller"],
    "receipt": ["Receipt No. 4471", "Total 12.50 EUR"],
    "slide": ["Q3 numbers", "Revenue up 12%"],
    "cafe": ["Café Crème"],
    "tokyo": ["東京駅 丸の内"],
    "beijing": ["北京欢迎你"],
    "wifi": ["WiFi password: sunflower2023"],
    "plain": [],
}


@pytest.fixture(scope="module")
def library(tmp_path_factory, tiny_bundle_dir):
    home = tmp_path_factory.mktemp("words") / "home"
    shutil.copytree(tiny_bundle_dir, home / "models" / TEST_MODEL)
    photos = home.parent / "photos"
    for seed, name in enumerate(TEXTS):
        make_photo(photos / ("later" if name in ("wifi", "receipt") else "first") / f"{name}.jpg", seed=seed)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        patch.setenv("PIXSEEK_MODEL", TEST_MODEL)
        patch.delenv("PIXSEEK_INDEX", raising=False)
        with Library.open(create=True) as opened:
            opened.index([photos], read_text=False)
            catalog = Catalog.open(opened.index_dir, create=False)
            ids = {name: catalog.lookup(str(path)).id for name in TEXTS
                   for path in photos.rglob(f"{name}.jpg")}
            catalog.commit_batch(values={Words.name: [
                (ids[name], PhotoText("test rows", tuple(TextLine(t, BOX, 0.9) for t in lines)))
                for name, lines in TEXTS.items()]})
            catalog.close()
            yield opened


def names(results) -> list[str]:
    return [r.path.rsplit("/", 1)[1].removesuffix(".jpg") for r in results]


def says(library, words, *terms, **options):
    return library.search(build_query([text_term(t) for t in terms], says=words), **options)


@pytest.mark.parametrize("words, found", [
    ("invoice", ["invoice"]),  # one OCR slip (0 read for O) forgiven
    ("inv0ice", ["invoice"]),  # as read, exactly
    ("2023", ["wifi", "invoice"]),  # digits as typed; a whole line and inside a word
    ("sunflower", ["wifi"]),  # inside a longer word
    ("muller", ["invoice"]),  # accents off
    ("MÜLLER", ["invoice"]),  # accents and case as typed
    ("creme cafe", ["cafe"]),  # every word, in any order
    ("東京", ["tokyo"]),  # CJK as typed, shorter than a trigram
    ("欢迎", ["beijing"]),
    ("丸の内", ["tokyo"]),
    ("Q3", ["slide"]),  # short words: a scan
    ("q3 revenue", ["slide"]),
    ("4471", ["receipt"]),
    ("12.50", ["receipt"]),
])
def test_word_search_finds(library, words, found):
    assert sorted(names(says(library, words))) == sorted(found)


@pytest.mark.parametrize("words", ["invoice 2024", "garage 4471", "dandelion", "东京", "zebra", "3Q"])
def test_word_search_needs_every_word(library, words):
    assert says(library, words) == []


def test_exact_matches_rank_before_near_ones(library):
    results = says(library, "2023 invoice")  # "invoice" is near only
    assert names(results) == ["invoice"]
    assert names(says(library, "2023")) == ["invoice", "wifi"]  # a whole word first, then inside one
    assert [line.text for line in results[0].text] == ["INV0ICE 2023"]  # the lines that say it
    assert 0 < results[0].score <= 1


def test_words_with_a_clip_query_are_ordered_by_it(library):
    words_only = {r.id for r in says(library, "2023")}
    combined = says(library, "2023", "a photo of a garden", k=5)
    assert {r.id for r in combined} == words_only
    clip = {r.id: r.score for r in library.search("a photo of a garden", k=len(TEXTS))}
    assert [r.score for r in combined] == pytest.approx(sorted((clip[r.id] for r in combined), reverse=True), abs=1e-6)
    assert all(r.text for r in combined) and combined[0].to_dict()["text"][0]["confidence"] == 0.9


def test_words_with_filters(library):
    later = str(next(p for p in library.folders()) + "/later")
    assert names(says(library, "2023", filters=SearchFilters.parse(folder=later))) == ["wifi"]
    assert names(says(library, "2023", "a photo", filters=SearchFilters.parse(folder=later))) == ["wifi"]
    assert says(library, "2023", filters=SearchFilters.parse(year="1990")) == []
    assert names(says(library, "2023", k=1)) == ["invoice"]
    assert says(library, "2023", min_score=0.99) == []  # words alone: the minimum applies to match quality


def test_photo_text_and_status(library):
    invoice = says(library, "garage")[0]
    assert [line.text for line in library.text(invoice.id)] == TEXTS["invoice"]
    assert library.text(10**9) == []
    status = library.status()
    assert not status.reads_text  # turned off for this index
    assert (status.text_read, status.text_found) == (0, 0)  # rows of another reader than the current one


@pytest.mark.parametrize("words, error", [
    ("   ", EmptyQuery), (" ".join(f"w{i}" for i in range(30)), QueryError), ("y" * 1001, QueryError)])
def test_bad_words(words, error):
    with pytest.raises(error):
        build_query([], says=words)


def test_folding_and_slips():
    assert fold("Ｃａｆé ＭÜLLER") == "cafe muller"
    assert fold("が") == "が"  # a voiced kana is not an accented letter
    assert slips("invoice", "total inv0ice 2023") == 1
    assert slips("invoice", "invoce") == 1 and slips("invoice", "inovice") == 2
