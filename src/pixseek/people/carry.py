"""Carrying people into a rebuilt index (`pixseek index --reindex`): the new catalog finds every
face again, so what a person said of them goes with it: the people (numbers and names, not their
centres: the faces are found anew) and every correction (labels by content hash and box), and
whether the index finds faces at all."""

from __future__ import annotations

from pixseek.signals.faces import SETTING_KEY
from pixseek.store.catalog import Catalog


def carry_people(old: Catalog, new: Catalog) -> None:
    """Copy `old`'s people, corrections and face setting into `new` (a rebuild in progress;
    what it holds already of them stays: a resumed rebuild copies nothing twice)."""
    db = old.connection
    if db.execute("SELECT 1 FROM sqlite_master WHERE name = 'face_labels'").fetchone() is None:
        return  # an index from before faces
    people = db.execute("SELECT person, name FROM people").fetchall()
    labels = db.execute("SELECT hash, x1, y1, x2, y2, person, not_face FROM face_labels").fetchall()
    setting = old.meta(SETTING_KEY)
    with new.transaction() as target:
        target.executemany("INSERT OR IGNORE INTO people (person, name, total, members) VALUES (?, ?, NULL, 0)", people)
        if not target.execute("SELECT 1 FROM face_labels LIMIT 1").fetchone():
            target.executemany("INSERT INTO face_labels (hash, x1, y1, x2, y2, person, not_face) "
                               "VALUES (?, ?, ?, ?, ?, ?, ?)", labels)
        if setting is not None:
            target.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (SETTING_KEY, setting))
