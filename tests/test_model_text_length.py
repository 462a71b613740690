"""Skipping the padding after CLIP's end token (a free sequence axis) must not change a text vector."""

from __future__ import annotations

import numpy as np

from pixseek.model import Encoder
from pixseek.model.bundle import Bundle
from pixseek.model.encoder import normalise


def test_trimmed_text_vectors_equal_full_length_ones(tiny_bundle_dir):
    encoder = Encoder(Bundle.load(tiny_bundle_dir), device="cpu")
    texts = ["a dog", "a red sports car parked by the sea at sunset", "x"]
    session = encoder._session("text")
    assert not isinstance(session.get_inputs()[0].shape[-1], int), "the text tower should have a free length"
    ids, _ = encoder.tokenize(texts)
    assert ids.shape[1] == 77
    (full,) = session.run(None, {session.get_inputs()[0].name: ids})[:1]
    np.testing.assert_allclose(encoder.encode_texts(texts), normalise(full), rtol=0, atol=1e-6)
