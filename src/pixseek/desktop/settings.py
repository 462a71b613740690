"""The app's remembered settings (the last image folder), in a small JSON file.

Kept in the user's config folder so that the app comes back where it was left. A missing or
damaged file is not an error: the app starts with no folder, as on first run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pixseek import paths

FILE_NAME = "desktop.json"


def settings_file() -> Path:
    return paths.config_dir() / FILE_NAME


def load_folder() -> str:
    """The last folder the user selected, or "" when there is none."""
    try:
        data = json.loads(settings_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    folder = data.get("folder") if isinstance(data, dict) else None
    return folder if isinstance(folder, str) else ""


def save_folder(folder: str) -> None:
    """Remember `folder`; written to a temporary file and renamed, so it is never half written."""
    target = settings_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".desktop-", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"folder": folder}, handle, ensure_ascii=False)
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only config folder only costs remembering the folder
