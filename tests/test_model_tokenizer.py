"""Our token ids against the reference CLIP tokenizers, with the real vocabulary.

References: open_clip's SimpleTokenizer (OpenAI's original code: ftfy, HTML unescape, BPE) and
transformers' CLIPTokenizer (tokenizers-backed, no ftfy). The runtime side is what search uses:
`TextTokenizer` on the tokenizer.json of an exported bundle.
"""

from __future__ import annotations

import importlib.util
import json
import random
import shutil
import zipfile

import numpy as np
import pytest

from conftest import ROOT, SHARED_PHOTOS
from pixseek.model.tokenizer import TextTokenizer, clean, plain

CONTEXT = 77
HAND_WRITTEN = [
    "", " ", "   \t\n  ", "a", "A photo of a DOG.", "a dog on a beach", "sunset over mountains",
    "it's the dog's toy, isn't it? we're sure they'll've", "IT'S THE DOG'S", "dog’s toy", "“quoted” ‘text’",
    "cats &amp; dogs", "1 &lt; 2 &amp;amp; 3", "&#x1F436; emoji entity", "café naïve résumé", "Straße über Ölfeld",
    "東京の夜景", "北京烤鸭", "서울의 야경", "Москва зимой", "القاهرة في الليل", "मुंबई का समुद्र तट", "ภูเก็ต",
    "🐶🐱 pets", "👩‍👩‍👧‍👦 family", "🇯🇵 flag", "👍🏽 thumbs", "❤️‍🔥", "emoji🙂inside🙃words",
    "!!!???...", "--==**##@@", "a.b,c;d:e", "(parentheses) [brackets] {braces}", "price: $1,299.99 (-20%)",
    "3.14159 2024-01-01 12:30", "e-mail: someone@example.com https://example.com/a?b=c",
    "ﬁsh and ﬂowers", "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ １２３", "The Mona Lisa â€” mojibake", "naÃ¯ve cafÃ©",
    "tabs\tand\nnewlines\r\nhere", "zero\u200bwidth", "non\u00a0breaking space", "control\x07char", "soft\u00adhyphen",
    "<|startoftext|>", "a <|endoftext|> b", "<b>html</b> tags", "C:\\Users\\photo.jpg", "snake_case_words",
    "ALLCAPS WORDS HERE", "MiXeD CaSe", "İstanbul", "ǅemal", "ß", "ﬀ", "x" * 300, "word " * 100,
    " ".join(["supercalifragilisticexpialidocious"] * 20), "🙂" * 80, "a, " * 60,
]
ALPHABETS = [
    "abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789", " .,;:!?'\"-()[]/&%$#@*+=<>",
    "àáâäæçèéêëìíîïñòóôöùúûüÿœ", "абвгдежзийклмнопрстуфхцчшщъыьэюя", "αβγδεζηθικλμνξοπρστυφχψω",
    "あいうえおかきくけこさしすせそたちつてと", "的一是不了人我在有他这中大来上国个到说们", "🐶🐱🌅🏔️🚗🍎🎂❄️🌃🛋️😀👍🏽",
    "’‘“”—–…•·©®™°±×÷", "\t\n\u00a0\u2003\u3000",
]


def varied_strings(count: int = 300, seed: int = 7) -> list[str]:
    """Hand-written edge cases, random strings over many scripts, and COCO captions when present."""
    rng = random.Random(seed)
    strings = list(HAND_WRITTEN)
    while len(strings) < count:
        parts = []
        for _ in range(rng.randint(1, 25)):
            alphabet = rng.choice(ALPHABETS)
            parts.append("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 10))))
        strings.append(rng.choice([" ", "", "  ", "-"]).join(parts))
    captions = SHARED_PHOTOS / "coco-mini-captions.json"
    if captions.is_file():
        all_captions = [c for cs in json.loads(captions.read_text()).values() for c in cs]
        strings += rng.sample(all_captions, min(200, len(all_captions)))
    return strings


@pytest.fixture(scope="module")
def ours(tiny_bundle_dir) -> TextTokenizer:
    return TextTokenizer(tiny_bundle_dir / "tokenizer.json", CONTEXT)


@pytest.fixture(scope="module")
def open_clip_module(tmp_path_factory, clip_vocab):
    """open_clip's tokenizer.py loaded on its own (its package __init__ would import torchvision)."""
    pytest.importorskip("ftfy", reason="open_clip's tokenizer needs ftfy (pip install ftfy)")
    wheels = sorted((ROOT / ".cache" / "wheels").glob("open_clip_torch-*.whl"))
    if not wheels:
        pytest.fail("open-clip-torch wheel missing in .cache/wheels: run `make install`")
    folder = tmp_path_factory.mktemp("open_clip")
    (folder / "tokenizer.py").write_bytes(zipfile.ZipFile(wheels[-1]).read("open_clip/tokenizer.py"))
    shutil.copy(clip_vocab, folder / "bpe_simple_vocab_16e6.txt.gz")
    spec = importlib.util.spec_from_file_location("open_clip_tokenizer", folder / "tokenizer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def open_clip_tokenizer(open_clip_module):
    return open_clip_module.SimpleTokenizer(context_length=CONTEXT)


@pytest.fixture(scope="module")
def hf_tokenizer(clip_vocab):
    from conftest import clip_tokenizer_from_bpe

    return clip_tokenizer_from_bpe(clip_vocab)


def test_layout_start_end_padding_and_truncation(ours):
    ids, mask = ours(["", "a dog", "word " * 100])
    sot, eot = 49406, 49407
    assert ids.shape == mask.shape == (3, CONTEXT) and ids.dtype == np.int64
    assert list(ids[0, :3]) == [sot, eot, 0] and mask[0].sum() == 2
    assert list(ids[1, :4]) == [sot, 320, 1929, eot]  # "a</w>", "dog</w>" in CLIP's vocabulary
    assert ids[2, 0] == sot and ids[2, -1] == eot and mask[2].all()


def test_same_ids_as_openai_clip_tokenizer(ours, open_clip_tokenizer):
    """open_clip's SimpleTokenizer is OpenAI's; it differs only on its own special-token spelling."""
    strings = [s for s in varied_strings() if "<|" not in s]
    reference = open_clip_tokenizer(strings).numpy()
    ids, _ = ours(strings)
    differ = [s for s, a, b in zip(strings, ids, reference) if not np.array_equal(a, b)]
    print(f"\ntokenizer: {len(strings) - len(differ)}/{len(strings)} strings give ids identical to open_clip's SimpleTokenizer")
    assert differ == []


def test_special_token_text_follows_openai_not_open_clip(ours):
    """OpenAI's tokenizer (and transformers') read "<|endoftext|>" in text as the special token."""
    ids, _ = ours(["a <|endoftext|> b"])
    assert list(ids[0, :5]) == [49406, 320, 49407, 321, 49407]  # "a</w>", "b</w>"


def test_transformers_differs_only_where_cleaning_changes_the_text(ours, hf_tokenizer):
    strings = varied_strings()
    ids, mask = ours(strings)
    encoded = hf_tokenizer(strings, truncation=True, max_length=CONTEXT)["input_ids"]
    same = [np.array_equal(ids[i, : mask[i].sum()], encoded[i]) for i in range(len(strings))]
    cleaned = [clean(s) != s.strip() for s in strings]
    print(f"\ntokenizer: {sum(same)}/{len(strings)} identical to transformers' CLIPTokenizer; "
          f"{sum(cleaned)} strings are changed by ftfy/HTML cleaning, which it does not do")
    assert all(same[i] for i in range(len(strings)) if not cleaned[i])
    assert not same[strings.index("dog’s toy")] and not same[strings.index("cats &amp; dogs")]


def test_cleaning_matches_openai_basic_clean(open_clip_module):
    for text in ["dog’s toy", "cats &amp;amp; dogs", "ﬁsh", "naÃ¯ve cafÃ©", "  spaced  "]:
        assert clean(text) == open_clip_module.basic_clean(text)
    assert clean("dog’s toy") == "dog's toy"


def test_plain_text_is_left_alone_by_ftfy(open_clip_module):
    """The shortcut in `clean`: printable ASCII without "&" is what ftfy leaves as it is."""
    import ftfy

    rng = random.Random(3)
    alphabet = "".join(chr(c) for c in range(0x20, 0x7F))
    strings = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))) for _ in range(3000)]
    checked = [s for s in strings if plain(s)]
    assert len(checked) > 1500
    assert [s for s in checked if ftfy.fix_text(s) != s or open_clip_module.basic_clean(s) != s.strip()] == []
    assert not plain("cats &amp; dogs") and not plain("dog’s") and not plain("tab\there")
