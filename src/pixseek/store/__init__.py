"""Persistent state of an index: the SQLite catalog (source of truth) and the FAISS vector index."""
