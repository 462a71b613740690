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
__all__ = ["__version__", *_HOMES]  # noqa: PLE0604 - the names above, each a string

if TYPE_CHECKING:  # re-exported for type checkers (`X as X`); at run time __getattr__ imports them
    from pixseek.errors import PixseekError as PixseekError
    from pixseek.library import Library as Library
    from pixseek.reports import ChangeSummary as ChangeSummary
    from pixseek.reports import IndexedFile as IndexedFile
    from pixseek.reports import IndexReport as IndexReport
    from pixseek.reports import Progress as Progress
    from pixseek.reports import SearchResult as SearchResult
    from pixseek.reports import Status as Status
    from pixseek.search import Query as Query
    from pixseek.search import Term as Term
    from pixseek.search import parse_query as parse_query


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pixseek' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
