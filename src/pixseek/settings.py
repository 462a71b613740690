"""What a face remembers between runs (the web app its folders, the desktop app its folder and
number of results): one small JSON object per face in the config folder.

Written whole (pixseek.atomic), so a crash never leaves half a file; a missing, damaged or
unwritable file just means nothing is remembered, never an error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pixseek import atomic, paths


def settings_file(face: str) -> Path:
    return paths.config_dir() / f"{face}.json"


def load(face: str) -> dict[str, Any]:
    """What `face` remembered ({} when nothing, or nothing readable)."""
    try:
        values = json.loads(settings_file(face).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return values if isinstance(values, dict) else {}


def save(face: str, **values: Any) -> None:
    """Remember `values` for `face`, beside what it remembered already."""
    merged = {**load(face), **values}
    try:
        atomic.write_bytes(settings_file(face), json.dumps(merged, ensure_ascii=False, indent=1).encode("utf-8"))
    except OSError:
        pass  # a read-only or full config folder costs remembering, not the work
