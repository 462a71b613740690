"""People: the faces found in photos (signals/faces.py) grouped into persons, incrementally
(grouping.py), and what a person says of them: names, merges, faces split out, "not a face"
(store.py), kept as corrections keyed by the photo's content and the face's box so that they
survive later runs, a reindex and another face model. See docs/people.md."""
