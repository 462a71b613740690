"""Numeric tuning knobs from the environment, read where they are used and checked.

Read at the moment of use, not at import, so a caller (or a test) that sets one later is
obeyed; a value that is not a number is one clear error instead of a traceback. Every
variable is documented in docs/cli.md.
"""

from __future__ import annotations

import os
from typing import overload

from pixseek.errors import PixseekError


@overload
def number(name: str, default: int, minimum: float = 0) -> int: ...
@overload
def number(name: str, default: float, minimum: float = 0, *, kind: type[float]) -> float: ...


def number(name: str, default: float, minimum: float = 0, kind: type[float] = int) -> float:
    """`$name` as an int (or `kind`), `default` when unset or empty; at least `minimum`."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = None
    if value is None or value != value or value < minimum:  # NaN is not >= anything
        what = "a whole number" if kind is int else "a number"
        raise PixseekError(f"{name}={raw!r} is not {what} of at least {minimum:g}")
    return value
