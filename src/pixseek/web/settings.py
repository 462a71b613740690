"""What the web app remembers between runs: the folders last typed in the sidebar.

A small JSON file in the config folder, written to a temporary name and renamed into place so
a crash never leaves half a file; a missing or damaged file just means nothing is remembered.
"""

from __future__ import annotations

import json
import os
import tempfile

from pixseek import paths

SETTINGS_NAME = "web.json"


def _settings_file():
    return paths.config_dir() / SETTINGS_NAME


def load_folders() -> list[str]:
    try:
        folders = json.loads(_settings_file().read_text(encoding="utf-8")).get("folders", [])
    except (OSError, ValueError, AttributeError):
        return []
    return [f for f in folders if isinstance(f, str)] if isinstance(folders, list) else []


def save_folders(folders: list[str]) -> None:
    target = _settings_file()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"folders": folders}, handle, ensure_ascii=False, indent=1)
        os.replace(tmp, target)
    except OSError:
        pass  # a read-only config folder costs the user a retype, not the indexing run
