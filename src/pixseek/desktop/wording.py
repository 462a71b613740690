"""What the desktop window says: indexing progress, an index run's report, what a search found,
and the image types its file dialog offers. Plain functions of the engine's results, kept apart
from the widgets so that each reads (and changes) alone."""

from __future__ import annotations

import os

from pixseek.desktop.session import SearchPage
from pixseek.files import image_extensions
from pixseek.engine.results import IndexReport, Progress


def image_types() -> list[tuple[str, str]]:
    """The file dialog's filter: the extensions pixseek indexes, in either case."""
    patterns = " ".join(f"*{ext} *{ext.upper()}" for ext in sorted(image_extensions()))
    return [("Images", patterns), ("All files", "*")]


def describe_progress(p: Progress) -> str:
    eta = f" · about {p.eta:.0f} s left" if p.eta is not None else ""
    return f"Indexing: {p.done} of {p.total} images · {p.rate:.1f} images/s{eta}"


def describe_report(report: IndexReport, folder: str) -> str:
    text = f"{'Indexing cancelled' if report.cancelled else 'Indexed'} {folder}: " + report.describe()
    if report.skipped:
        shown = ", ".join(f"{os.path.basename(path)} ({reason})" for path, reason in report.skipped[:3])
        more = f" and {len(report.skipped) - 3} more" if len(report.skipped) > 3 else ""
        text += f". Skipped: {shown}{more}"
    return text


def describe_found(found: SearchPage, partial: bool) -> str:
    """What a search found and where its page is. Whether the browser shows the page is not
    known here (it may fail after taking it), so the page's path is always given."""
    handed = ("handed to your web browser (if no window opens, open the page yourself)" if found.browser
              else "no web browser was found to open it: open the page yourself")
    text = f"{len(found.results)} results for {found.query.describe()}: {handed}. Page: {found.page}"
    return text + (" · Indexing goes on: these are from the images indexed so far." if partial else "")
