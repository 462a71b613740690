"""`pixseek watch`: keep the index current as files are added, changed, moved and deleted.

File system events (watchdog: inotify, FSEvents, ReadDirectoryChangesW) are gathered into
debounced batches and handed to `Library.update`, which looks only where things changed. A
restart begins with a full rescan, which catches whatever happened while nothing watched.
Needs the `watch` extra (`pip install 'pixseek[watch]'`).
"""

from pixseek.watch.watcher import Watcher

__all__ = ["Watcher"]
