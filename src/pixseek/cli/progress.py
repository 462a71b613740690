"""What an index run shows and how it stops: the progress bar, and Ctrl-C as "stop after the
batch in flight"."""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.progress import Progress as ProgressDisplay, TaskID

    from pixseek.engine.results import Progress


class ProgressBar:
    """The indexing progress bar, drawn from the first progress report on (so that a run that
    fails before any, a missing folder, prints only its error line). The time left is the
    engine's estimate, from saved batches; a cluster run also shows the nodes alive."""

    def __init__(self) -> None:
        self._bar: ProgressDisplay | None = None
        self._task: TaskID | None = None

    def show(self, p: Progress) -> None:
        if self._bar is None or self._task is None:
            self._bar, self._task = _start_bar()
        left = f"{duration(p.eta)} left" if p.eta is not None else "estimating time left"
        nodes = f"{p.nodes} nodes" if p.nodes else ""
        self._bar.update(self._task, completed=p.done, total=p.total, rate=p.rate, left=left, nodes=nodes,
                         stage=p.stage or "indexing")

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.stop()


def _start_bar() -> tuple[ProgressDisplay, TaskID]:
    # why: Rich costs ~50 ms to import; only a run that reports progress draws a bar
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    bar = Progress(TextColumn("{task.fields[stage]}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[rate]:.1f} img/s"), TextColumn("{task.fields[left]}"),
                   TextColumn("{task.fields[nodes]}"),
                   console=Console(stderr=True, highlight=False, soft_wrap=True), transient=True)
    bar.start()
    return bar, bar.add_task("index", total=None, rate=0.0, left="", nodes="", stage="indexing")


def duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def cancel_on_interrupt() -> threading.Event:
    """An event set by the first Ctrl-C; the second one interrupts at once."""
    cancel = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        print("\nstopping after the current batch (Ctrl-C again to stop at once)", file=sys.stderr)

    signal.signal(signal.SIGINT, handler)
    return cancel
