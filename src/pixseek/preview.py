"""Thumbnails inline in the terminal, for `pixseek search --preview`, drawn by textual-image
through Rich: the kitty graphics protocol (kitty), sixel (WezTerm, iTerm2, foot, xterm, Konsole,
Windows Terminal, VS Code), or coloured half blocks in any other terminal. textual-image asks
the terminal which it supports; PIXSEEK_PREVIEW=kitty|sixel|blocks decides instead (inside tmux,
say, where the question does not reach the terminal).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable

from pixseek.errors import PixseekError
from pixseek.engine.results import SearchResult

ENV = "PIXSEEK_PREVIEW"
PROTOCOLS = ("kitty", "sixel", "blocks")
THUMBNAIL_PX = 256
WIDTH_CELLS = 24


def renderer(chosen: str | None = None) -> type | None:
    """textual-image's renderable for a protocol; None where no picture can be shown (output
    that is not a terminal, unless a protocol is chosen)."""
    chosen = chosen or os.environ.get(ENV) or None
    if chosen is not None and chosen not in PROTOCOLS:
        raise PixseekError(f"{ENV}={chosen} is not a preview protocol; use one of {', '.join(PROTOCOLS)}")
    try:
        if chosen == "kitty":
            from textual_image.renderable.tgp import Image as KittyImage

            return KittyImage
        if chosen == "sixel":
            from textual_image.renderable.sixel import Image as SixelImage

            return SixelImage
        if chosen == "blocks":
            from textual_image.renderable.halfcell import Image as BlocksImage

            return BlocksImage
        import sys

        if not sys.stdout.isatty():
            return None
        from textual_image.renderable import Image  # asks the terminal what it can draw

        return Image
    except ImportError:
        raise PixseekError("previews need textual-image: pip install 'pixseek[preview]'") from None


def print_results(results: list[SearchResult], thumbnail: Callable[[str, int], bytes],
                  chosen: str | None = None) -> None:
    """Each result's thumbnail (when one can be shown) above its score and path."""
    from rich.console import Console

    draw = renderer(chosen)
    console = Console(force_terminal=draw is not None, color_system="truecolor" if draw else None,
                      highlight=False, soft_wrap=True)
    for result in results:
        if draw is not None:
            try:
                picture = thumbnail(result.path, THUMBNAIL_PX)
            except PixseekError:
                picture = None  # moved or changed since it was indexed: the line says enough
            if picture:
                console.print(draw(io.BytesIO(picture), width=WIDTH_CELLS, height="auto"))
        moment = f"  at {result.seconds:.1f} s" if result.seconds is not None else ""
        console.print(f"{result.score:.4f}  {result.path}{moment}", markup=False)
