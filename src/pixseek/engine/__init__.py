"""The engine: every policy of pixseek, in parts with one job each, behind `pixseek.Library`.

- `opening`: finding, making, repairing and opening an index (the one way every face opens one)
- `index`: an open index, its catalog and the parts loaded on first use (model, vectors, metadata)
- `storage`: the writer lock, and SQLite failures turned into one-line errors
- `writes`: the one write primitive (lock, repair, writer connection, save) and every write on it
- `folders`: the index's folders: which to scan, which one a path names, which are missing
- `searching`: queries run against the vectors, filtered and ranked
- `duplicates`: exact copies and near-duplicates
- `photos`: one indexed photo: its path, details, vector, thumbnail, bytes
- `status`: the index at a glance

The faces import only the facade (`pixseek.library`) and the public types: `query` (how a
query is made), `results` (the plain data that comes back) and `pixseek.errors`.
"""
