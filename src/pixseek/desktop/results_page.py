"""The search results page that the desktop app opens in the user's web browser.

A self-contained HTML file: thumbnails are embedded as JPEG data URIs (from the Library's
content-hash thumbnail cache), so the page needs no server and keeps working if the cache is
cleared. A video plays in the page from its best moment (`<video src="file://...#t=SECONDS">`,
its poster that moment's frame). Every name is HTML-escaped and every link is a percent-encoded file:// URI, so paths
with spaces, quotes, `<script>` or any unicode open the right file. Pages go to one folder in
the cache, newest kept.
"""

from __future__ import annotations

import base64
import html
import os
import time
from pathlib import Path
from collections.abc import Callable, Iterable

from pixseek.errors import PixseekError
from pixseek.filters import SearchFilters
from pixseek.metadata import describe_time
from pixseek.engine.results import SearchResult
from pixseek.engine.query import Query, Term

KEEP_PAGES = 20

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem; background: #f6f6f4; color: #222; }
header h1 { font-size: 1.3rem; margin: 0 0 .3rem; }
header p { margin: 0 0 1rem; color: #666; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 1rem; }
figure { margin: 0; background: #fff; border-radius: 6px; box-shadow: 0 1px 3px #0002; overflow: hidden; }
figure video { display: block; width: 100%; height: 200px; background: #000; }
figure img { display: block; width: 100%; height: 200px; object-fit: cover; background: #ddd; }
figure .missing { display: flex; height: 200px; align-items: center; justify-content: center; color: #888; }
figcaption { display: flex; justify-content: space-between; gap: .5rem; padding: .4rem .6rem; font-size: .85rem; }
figcaption a { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; color: inherit; }
.score { font-variant-numeric: tabular-nums; color: #0a5; }
.facts { margin: 0; padding: 0 .6rem .5rem; font-size: .78rem; color: #666; }
.says { margin: 0; padding: 0 .6rem .5rem; font-size: .78rem; }
"""


def file_uri(path: str) -> str:
    """A file:// URI for `path`, percent-encoded (spaces, quotes, unicode, undecodable bytes)."""
    return Path(os.path.abspath(path)).as_uri()


def _text(text: str) -> str:
    """Escaped for HTML and showable: bytes of a name that are not UTF-8 (Linux names are bytes)
    are shown as U+FFFD; links keep the exact name through file_uri."""
    return html.escape(text.encode("utf-8", "surrogateescape").decode("utf-8", "replace"))


def _term_html(term: Term) -> str:
    if term.image:
        subject = (f'image <a href="{html.escape(file_uri(term.image))}">'
                   f"{_text(os.path.basename(term.image))}</a>")
    else:
        subject = f"“{_text(term.text or '')}”"
    weight = abs(term.weight)
    prefix = "not " if term.weight < 0 else ""
    return prefix + (subject if weight == 1 else f"{weight:g} × {subject}")


Moment = Callable[[int, float], bytes]  # a video's frame at a second, as JPEG bytes (Library.video_thumbnail)


def _video_card(rank: int, result: SearchResult, moment: Moment | None) -> str:
    """A video result: it plays from its best moment; the link opens the file at that second."""
    assert result.seconds is not None
    name = _text(os.path.basename(result.path))
    link = html.escape(f"{file_uri(result.path)}#t={result.seconds:.1f}")
    try:
        poster = f' poster="data:image/jpeg;base64,{base64.b64encode(moment(result.id, result.seconds)).decode("ascii")}"' \
            if moment is not None else ""
    except PixseekError:
        poster = ""
    return (f'<figure class="result video" data-rank="{rank}" data-score="{result.score:.6f}" '
            f'data-seconds="{result.seconds:.3f}"><video controls preload="metadata" src="{link}"{poster}></video>'
            f'<figcaption><a href="{link}" title="{_text(result.path)}">{name}</a>'
            f'<span class="moment">▶ {int(result.seconds) // 60}:{int(result.seconds) % 60:02d}</span>'
            f'<span class="score">{result.score:.4f}</span></figcaption>{_facts(result)}</figure>')


def _card(rank: int, result: SearchResult, thumbnail: Callable[[str], bytes], moment: Moment | None = None) -> str:
    if result.seconds is not None:
        return _video_card(rank, result, moment)
    name = _text(os.path.basename(result.path))
    link = html.escape(file_uri(result.path))
    try:
        data = base64.b64encode(thumbnail(result.path)).decode("ascii")
        picture = f'<img src="data:image/jpeg;base64,{data}" alt="{name}">'
    except PixseekError:
        picture = '<div class="missing">no preview</div>'
    return (f'<figure class="result" data-rank="{rank}" data-score="{result.score:.6f}">'
            f'<a href="{link}" title="{_text(result.path)}">{picture}</a>'
            f'<figcaption><a href="{link}">{name}</a><span class="score">{result.score:.4f}</span></figcaption>'
            f"{_facts(result)}{_said(result)}</figure>")


def _facts(result: SearchResult) -> str:
    """When and where the photo was taken, as far as its metadata says."""
    parts = []
    if result.metadata is not None:
        m = result.metadata
        parts.append(f'<time datetime="{m.local_time.isoformat()}">'
                     f"{_text(describe_time(m.local_time, m.time_source, m.utc_offset_min))}</time>")
    if result.place is not None:
        parts.append(f'<span class="place">{_text(result.place.describe())}</span>')
    return f'<p class="facts">{" · ".join(parts)}</p>' if parts else ""


def _said(result: SearchResult) -> str:
    """The lines of the photo's text in which the searched words were found."""
    lines = " · ".join(f"“{_text(line.text)}”" for line in result.text)
    return f'<p class="says">Says: {lines}</p>' if lines else ""


def render(query: Query, results: list[SearchResult], filters: SearchFilters,
           thumbnail: Callable[[str], bytes], moment: Moment | None = None) -> str:
    """The page's HTML; `thumbnail(path)` gives JPEG bytes or raises PixseekError, as does
    `moment(video id, seconds)` for a video's poster."""
    said = [f"says “{_text(query.says)}”"] if query.says is not None else []
    query_html = " + ".join([_term_html(t) for t in query.terms] + said).replace("+ not", "but not")
    cards = "\n".join(_card(rank, r, thumbnail, moment) for rank, r in enumerate(results, 1))
    count = f"{len(results)} result{'s' if len(results) != 1 else ''}"
    folder = filters.folder or "the index"
    narrowed = [part for part in filters.describe() if not part.startswith("in ")]
    if narrowed:
        folder += " · " + ", ".join(narrowed)
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>pixseek: {_text(query.describe())}</title><style>{STYLE}</style></head>\n<body>"
            f'<header><h1 class="query">Search: {query_html}</h1>'
            f"<p>{count} in {_text(folder)} · {time.strftime('%Y-%m-%d %H:%M')}</p></header>\n"
            f'<main class="grid">\n{cards or "<p>No images in this folder are indexed yet.</p>"}\n</main>'
            "</body></html>\n")


def _prune(folder: Path) -> None:
    for page in sorted(folder.glob("results-*.html"))[:-KEEP_PAGES]:  # names sort by time
        page.unlink(missing_ok=True)


def write(folder: Path, query: Query, results: Iterable[SearchResult], searched: SearchFilters,
          thumbnail: Callable[[str], bytes], moment: Moment | None = None) -> Path:
    """Write a new results page under `folder` (keeping the newest KEEP_PAGES) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    page = folder / f"results-{time.time_ns()}.html"
    page.write_text(render(query, list(results), searched, thumbnail, moment), encoding="utf-8")
    _prune(folder)
    return page
