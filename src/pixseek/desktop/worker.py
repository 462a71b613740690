"""A background thread for engine calls, so the window never waits on the engine.

Tk is not thread-safe: a worker never touches a widget. Each job's outcome (its result or
its exception) is put on `events`, and the UI thread drains that queue from an `after()` poll
and runs the job's callback there. A worker runs its jobs one at a time, in order; the app has
two (one opens and indexes, one searches), which share one `events` queue, so a search can run
while a folder is being indexed, as the Library allows.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from pixseek.engine.results import Progress


Job = tuple[Callable[..., Any], Callable[[Any], None], tuple[Any, ...]]  # what to run, whom to tell, its arguments


@dataclass
class Outcome:
    """What a job produced, delivered to the UI thread: call `on_done` with `result` unless `error`."""

    on_done: Callable[[Any], None]
    result: Any = None
    error: BaseException | None = None
    worker: Worker | None = None  # which worker ran the job (its errors are handled apart)


class Worker:
    def __init__(self, name: str = "worker", events: queue.Queue[Any] | None = None):
        self.events: queue.Queue[Any] = events if events is not None else queue.Queue()  # Outcomes and progress
        self.cancel = threading.Event()
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=f"pixseek-desktop-{name}", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[..., Any], on_done: Callable[[Any], None], *args: Any) -> None:
        """Run `job(*args)` on the worker; `on_done(result)` later runs on the UI thread."""
        self._jobs.put((job, on_done, args))

    def report(self, message: Any) -> None:
        """Hand a message (progress) to the UI thread; safe to call from any thread."""
        self.events.put(message)

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, on_done, args = item
            try:
                self.events.put(Outcome(on_done, result=job(*args), worker=self))
            except Exception as error:  # handed to the UI, which shows it as a dialog
                self.events.put(Outcome(on_done, error=error, worker=self))
            # Drop our references now: the last reference to a Tk object must not die on this thread.
            del item, job, on_done, args

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel indexing and let the job in flight finish (it commits what it has done)."""
        self.cancel.set()
        self._jobs.put(None)
        self._thread.join(timeout)


def drain(events: queue.Queue[Any]) -> Iterator[Any]:
    """What waits on `events`, in order, each run of progress reports cut to its last one (only
    the latest is worth drawing); taken one at a time, so each item is handled before the next."""
    progress = None
    while True:
        try:
            item = events.get_nowait()
        except queue.Empty:
            break
        if isinstance(item, Progress):
            progress = item
            continue
        if progress is not None:
            yield progress
            progress = None
        yield item
    if progress is not None:
        yield progress
