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
    "Query": "pixseek.search", "Term": "pixseek.search", "parse_query": "pixseek.search",
    "SearchResult": "pixseek.reports", "IndexReport": "pixseek.reports", "Progress": "pixseek.reports",
    "Status": "pixseek.reports", "ChangeSummary": "pixseek.reports", "IndexedFile": "pixseek.reports",
    "PixseekError": "pixseek.errors",
}
__all__ = ["__version__", *_HOMES]

if TYPE_CHECKING:
    from pixseek.errors import PixseekError
    from pixseek.library import Library
    from pixseek.reports import ChangeSummary, IndexedFile, IndexReport, Progress, SearchResult, Status
    from pixseek.search import Query, Term, parse_query


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pixseek' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
