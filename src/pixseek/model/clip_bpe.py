"""OpenAI CLIP's tokenizer as a `tokenizers` tokenizer.json, built from the vocabulary we ship.

Some hub layouts carry no tokenizer (rclip's: its app takes OpenAI's BPE vocabulary from
open_clip), and random-weight test models need one too. The vocabulary file is OpenAI's
`bpe_simple_vocab_16e6.txt.gz` (MIT, in `assets/`); the tokenizer is laid out exactly as CLIP's
SimpleTokenizer builds it (256 byte symbols, the same with the end-of-word mark, one entry per
merge, then the start and end tokens), with the normaliser, pre-tokeniser and start/end
post-processor that Hugging Face's CLIP tokenizer uses. No PyTorch, no transformers.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tokenizers import Tokenizer

VOCAB_FILE = Path(__file__).with_name("assets") / "bpe_simple_vocab_16e6.txt.gz"
START, END = "<|startoftext|>", "<|endoftext|>"
MERGES = 49152 - 256 - 2  # the merges CLIP uses of the file's lines (the first is a header)
# CLIP's word splitting (its SimpleTokenizer's pattern; case and whitespace are normalised first).
WORDS = r"""'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


@lru_cache(maxsize=1)
def byte_symbols() -> list[str]:
    """GPT-2/CLIP's printable stand-in for each byte value, in CLIP's vocabulary order."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = list(printable), 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            codes.append(256 + extra)
            extra += 1
    return [chr(c) for c in codes]


def _pair(merge: str) -> tuple[str, str]:
    first, second = merge.split()
    return first, second


def clip_tokenizer(vocab_file: Path = VOCAB_FILE) -> Tokenizer:
    """A `tokenizers.Tokenizer` equal to CLIP's (ids, special tokens, start/end around the text)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import BPE

    lines = gzip.open(vocab_file, "rt", encoding="utf-8").read().split("\n")
    merges = [_pair(line) for line in lines[1 : MERGES + 1]]
    symbols = byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [START, END]
    vocab = {token: i for i, token in enumerate(tokens)}
    tokenizer = Tokenizer(BPE(vocab=vocab, merges=merges, continuing_subword_prefix="", end_of_word_suffix="</w>",
                              fuse_unk=False, unk_token=END))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                                 normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(WORDS), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False),
    ])
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.RobertaProcessing((END, vocab[END]), (START, vocab[START]),
                                                            trim_offsets=False, add_prefix_space=False)
    tokenizer.add_special_tokens([AddedToken(START, normalized=True, special=True),
                                  AddedToken(END, normalized=True, special=True)])
    return tokenizer


def write_clip_tokenizer(destination: Path, vocab_file: Path = VOCAB_FILE) -> Path:
    """Save CLIP's tokenizer as `destination` (a tokenizer.json)."""
    clip_tokenizer(vocab_file).save(str(destination))
    return destination
