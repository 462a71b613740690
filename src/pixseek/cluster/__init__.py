"""Indexing beyond one machine: the decode and encode of a run on a Ray cluster (Ray Data).

    plan (index machine) -> Ray Data job (nodes: read, decode, embed) -> Parquet shards -> ingest

- `session`: connect to a cluster, or start a private one bound to 127.0.0.1 (`local`).
- `shipping`: the model's files travel to the nodes through Ray's object store.
- `nodes`: what runs on a node (the local indexer's own read/hash/decode, then the Encoder).
- `job`: the dataset, its actor pools, and the driver loop that writes and ingests shards.
- `shards`: the Parquet shard format, and its checks (model file, preprocessing, damage).
- `ingest`: shards into the catalog, upserting by content hash.

Needs the optional extra `pixseek[cluster]` (Ray Data, pyarrow); `ingest` needs only pyarrow.
"""
