"""Where pixseek keeps its files, overridable by environment variables.

PIXSEEK_HOME moves everything (models, indexes, caches, settings) under one folder, which is how
tests and portable installs stay isolated; PIXSEEK_INDEX and PIXSEEK_MODELS move one part.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "pixseek"


def _home() -> Path | None:
    home = os.environ.get("PIXSEEK_HOME")
    return Path(home).expanduser() if home else None


def data_dir() -> Path:
    home = _home()
    if home:
        return home
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_dir() -> Path:
    home = _home()
    if home:
        return home / "config"
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def cache_dir() -> Path:
    home = _home()
    if home:
        return home / "cache"
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False))


def log_dir() -> Path:
    """Where logs of other programs' output go (Ray's), named in pixseek's own error lines."""
    home = _home()
    if home:
        return home / "logs"
    import platformdirs

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def models_dir() -> Path:
    override = os.environ.get("PIXSEEK_MODELS")
    return Path(override).expanduser() if override else data_dir() / "models"


def default_index_dir() -> Path:
    override = os.environ.get("PIXSEEK_INDEX")
    return Path(override).expanduser() if override else data_dir() / "indexes" / "default"
