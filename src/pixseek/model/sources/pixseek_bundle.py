"""pixseek's own bundle (`pixseek-model.json` and the files it names), e.g. copied from another machine."""

from __future__ import annotations

import shutil
from collections.abc import Collection
from pathlib import Path

from pixseek.errors import ModelInvalid
from pixseek.model.bundle import CONFIG_NAME, Bundle, BundleConfig
from pixseek.model.sources.common import prefix_of, read_json

NAME = "pixseek"
DESCRIPTION = "pixseek bundle (pixseek-model.json)"


def locate(names: Collection[str]) -> str | None:
    return prefix_of(names, CONFIG_NAME)


def files(root: str) -> tuple[list[str], list[str]]:
    return [root + CONFIG_NAME], []


def more_files(folder: Path) -> list[str]:
    """The files the config names, once it is here."""
    try:
        return BundleConfig.from_json((folder / CONFIG_NAME).read_text()).files()
    except (ValueError, KeyError, TypeError) as exc:
        read_json(folder / CONFIG_NAME)  # says "damaged" in its own words when it is not JSON at all
        raise ModelInvalid(f"{CONFIG_NAME} is damaged: {exc}") from None


def convert(folder: Path, workdir: Path, model_id: str | None) -> Path:
    """Only the files a bundle's config names (Bundle.load checks they are there), so stray files
    in the source are not installed."""
    config = Bundle.load(folder).config
    workdir.mkdir(parents=True)
    for name in {CONFIG_NAME, *config.files()}:
        shutil.copy2(folder / name, workdir / name)
    return workdir
