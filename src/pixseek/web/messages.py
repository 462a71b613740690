"""Showing text safely: file names as literal text in markdown, and engine errors as one line.

Streamlit renders captions and labels as markdown, where `*`, `[`, `:red[...]`, `$` and `<`
change what appears; every ASCII punctuation mark is escaped so a file name shows as itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from pixseek.errors import PixseekError

_MARKDOWN_SPECIAL = re.compile(r"([!-/:-@\[-`{-~])")


def escape(text: str) -> str:
    """`text` as markdown that renders to exactly `text` (no formatting, links or HTML)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text.replace("\n", " "))


@contextmanager
def user_errors() -> Iterator[None]:
    """An expected failure (PixseekError) becomes its one-line message, never a traceback."""
    try:
        yield
    except PixseekError as error:
        st.error(str(error))
