"""pixseek: offline semantic search over your own photos (CLIP + ONNX Runtime + FAISS).

The public Python API: `from pixseek import Library` (see the README). Names are imported on
first use, so `pixseek --version` does not load numpy, ONNX Runtime and FAISS.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_HOMES = {
    "Library": "pixseek.library",
    "Query": "pixseek.engine.query", "Term": "pixseek.engine.query", "parse_query": "pixseek.engine.query",
    "build_query": "pixseek.engine.query", "text_term": "pixseek.engine.query", "image_term": "pixseek.engine.query",
    "SearchResult": "pixseek.engine.results", "IndexReport": "pixseek.engine.results", "Progress": "pixseek.engine.results",
    "Status": "pixseek.engine.results", "ChangeSummary": "pixseek.engine.results", "IndexedFile": "pixseek.engine.results",
    "PixseekError": "pixseek.errors",
}
__all__ = ["__version__", *_HOMES]  # noqa: PLE0604 - the names above, each a string

if TYPE_CHECKING:  # re-exported for type checkers (`X as X`); at run time __getattr__ imports them
    from pixseek.errors import PixseekError as PixseekError
    from pixseek.library import Library as Library
    from pixseek.engine.results import ChangeSummary as ChangeSummary
    from pixseek.engine.results import IndexedFile as IndexedFile
    from pixseek.engine.results import IndexReport as IndexReport
    from pixseek.engine.results import Progress as Progress
    from pixseek.engine.results import SearchResult as SearchResult
    from pixseek.engine.results import Status as Status
    from pixseek.engine.query import Query as Query
    from pixseek.engine.query import Term as Term
    from pixseek.engine.query import build_query as build_query
    from pixseek.engine.query import image_term as image_term
    from pixseek.engine.query import parse_query as parse_query
    from pixseek.engine.query import text_term as text_term


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pixseek' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
