"""People at scale: grouping 100k faces incrementally (1,000 new faces at a time, into a catalog
that already holds the others), and the person filter at 1M photos / 300k faces, alone, with a
CLIP text query and with filters, end to end through `Library.search` in a warm process.

Synthetic rows, real code: faces are written as the face pass writes them (state "to group"),
with 512-d unit vectors drawn around one centre per identity (cosine ~0.64 between two faces of
one identity, ~0 between identities: about what ArcFace gives good faces) and grouped by
`people.grouping.group_pending` with the published threshold (0.5). The search dataset (made
once, people-<size> in the benchmark cache) is a real catalog: 1M file rows with random unit
vectors and capture times over 20 years, and 300k faces in one photo in five, grouped into
people whose photo counts follow a long tail; four named: "Anna" (20,000 photos), "Ben" (2,000),
"Carl" (100) and "Dana" (10, with Anna in 5). Only photos with a face have a file on disk (empty):
search checks that a result's file is there.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import CACHE, MODEL_INT8_TEXT, emit, percentiles, run_child, save, table

DIM = 512
BATCH = 20_000
FACE_SHARE = 5  # one photo in this many has faces
NAMED = {"Anna": 20_000, "Ben": 2_000, "Carl": 100, "Dana": 10}  # photos each is in (at 1M photos)
QUERIES = {"Anna (20,000 photos)": ["Anna"], "Ben (2,000)": ["Ben"], "Carl (100)": ["Carl"],
           "Anna and Ben": ["Anna", "Ben"], "Anna and Dana (5)": ["Anna", "Dana"]}
MODES = ("alone", "with a CLIP query", "with year + folder filters")
BASELINE = "(no person) | a CLIP query alone, side by side"
NOISE = 0.033  # per dimension around an identity's centre: cosine ~0.8 to it, ~0.64 between two faces


def _faces_of(rng: np.random.Generator, centres: np.ndarray, identities: np.ndarray) -> np.ndarray:
    vectors = centres[identities] + rng.normal(0, NOISE, (len(identities), DIM)).astype(np.float32)
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


# -- grouping -------------------------------------------------------------------------------------

def grouping(total: int, step: int, identities: int) -> dict:
    """Time `group_pending` on each `step` of new faces until `total` are grouped; and how well
    the groups follow the identities."""
    from pixseek.people.grouping import group_pending
    from pixseek.store.catalog import Catalog

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(identities, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    weights = 1.0 / np.arange(1, identities + 1) ** 0.8  # a few people in many photos, many in few
    who = rng.choice(identities, total, p=weights / weights.sum())
    vectors = _faces_of(rng, centres, who)
    with tempfile.TemporaryDirectory() as folder:
        catalog = Catalog.open(Path(folder), create=True, model_id="synthetic", dim=DIM)
        db = catalog.connection
        times, cpu = [], []
        for first in range(0, total, step):
            ids = range(first, min(total, first + step))
            with catalog.transaction():
                db.executemany("INSERT INTO files (id, path, size, mtime_ns, hash, width, height, indexed_at, gen) "
                               "VALUES (?, ?, 0, 0, ?, 640, 480, 0, 0)",
                               [(i + 1, f"/p/{i}.jpg".encode(), i.to_bytes(16, "little")) for i in ids])
                db.executemany("INSERT INTO faces (face, id, x1, y1, x2, y2, landmarks, score, quality, embedding, "
                               "person, state) VALUES (?, ?, 0, 0, 100, 100, '[]', 0.9, 0.9, ?, NULL, 0)",
                               [(i + 1, i + 1, vectors[i].tobytes()) for i in ids])
            start, start_cpu = time.perf_counter(), time.process_time()
            group_pending(db, 0.5)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        person = np.array([r[0] for r in db.execute("SELECT person FROM faces ORDER BY face")])
        catalog.close()
    groups: dict[int, list[int]] = {}
    for p, i in zip(person, who):
        groups.setdefault(int(p), []).append(int(i))
    mixed = sum(1 for members in groups.values() if len(set(members)) > 1)
    home = {}  # each identity's largest group
    for p, members in groups.items():
        for i in set(members):
            if members.count(i) > home.get(i, (0, 0))[0]:
                home[i] = (members.count(i), p)
    together = sum(count for count, _ in home.values()) / total
    return {"faces": total, "step": step, "identities": int(len(set(who.tolist()))), "groups": len(groups),
            "first_step_s": times[0], "median_step_s": float(np.median(times)), "last_step_s": times[-1],
            "max_step_s": max(times), "median_step_cpu_s": float(np.median(cpu)), "last_step_cpu_s": cpu[-1],
            "mixed_groups_share": mixed / len(groups),
            "faces_in_their_identitys_main_group": together}


# -- the recogniser's cost --------------------------------------------------------------------------

def recogniser_cost(rounds: int = 20) -> dict:
    """ONNX Runtime's time for one face through ArcFace's iresnet50 (InsightFace's layout, the
    architecture of buffalo_l's w600k_r50: 43.6M parameters), with random weights exported by
    PyTorch (the `export` extra): the real graph's cost, whatever its weights."""
    import torch
    from torch import nn

    from pixseek.model.sessions import CPU_ONLY, create_session

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int):
            super().__init__()
            self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
                                      nn.BatchNorm2d(cout), nn.PReLU(cout),
                                      nn.Conv2d(cout, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout))
            self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())

        def forward(self, x):
            return self.body(x) + self.down(x)

    layers, cin = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.PReLU(64)], 64
    for cout, blocks in ((64, 3), (128, 4), (256, 14), (512, 3)):
        for i in range(blocks):
            layers.append(Block(cin, cout, 2 if i == 0 else 1))
            cin = cout
    model = nn.Sequential(*layers, nn.BatchNorm2d(512), nn.Flatten(), nn.Linear(512 * 7 * 7, 512),
                          nn.BatchNorm1d(512)).eval()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "r50.onnx"
        torch.onnx.export(model, torch.randn(1, 3, 112, 112), str(path), input_names=["input.1"],
                          output_names=["embedding"], dynamo=False)
        session = create_session(path, CPU_ONLY, os.cpu_count() or 1, cache=False)
        face = np.random.default_rng(0).random((1, 3, 112, 112), dtype=np.float32)
        for _ in range(3):
            session.run(None, {"input.1": face})
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            session.run(None, {"input.1": face})
            times.append(time.perf_counter() - start)
    clip = _clip_image_ms(rounds)
    return {"iresnet50_face_ms_p50": float(np.median(times)) * 1000,
            "parameters_m": sum(p.numel() for p in model.parameters()) / 1e6, "clip_int8_photo_ms_p50": clip}


def _clip_image_ms(rounds: int) -> float:
    """Side by side: the benchmark's int8 ViT-B/32 image tower, a photo's share of a batch of 32."""
    from PIL import Image

    from pixseek.model import Encoder
    from pixseek.model.bundle import Bundle
    from benchmarks.common import MODEL, bench_models

    encoder = Encoder(Bundle.load(bench_models() / MODEL), device="cpu")
    photos = [Image.new("RGB", (640, 480), (i, 100, 200)) for i in range(32)]
    pixels = np.stack([encoder.preprocess(photo) for photo in photos])
    encoder.encode_pixels(pixels)
    times = []
    for _ in range(max(3, rounds // 4)):
        start = time.perf_counter()
        encoder.encode_pixels(pixels)
        times.append((time.perf_counter() - start) / len(photos))
    return float(np.median(times)) * 1000


# -- the person filter ----------------------------------------------------------------------------

def dataset(size: int) -> Path:
    return CACHE / f"people-{size}"


def build(size: int) -> float:
    """Write the search dataset once; returns the seconds it took."""
    from pixseek.metadata import PhotoMetadata
    from pixseek.model import find_bundle
    from pixseek.signals import Description
    from pixseek.signals.faces import GROUPED
    from pixseek.store.catalog import Catalog, NewFile

    folder = dataset(size)
    done = folder / "built"
    if done.is_file():
        _top_up(folder)
        return float(done.read_text())
    start = time.perf_counter()
    rng = np.random.default_rng(11)
    catalog = Catalog.open(folder / "index", create=True, model_id=find_bundle(MODEL_INT8_TEXT).model_id, dim=DIM)
    root = folder / "files"
    catalog.add_roots([str(root)])
    for first in range(0, size, BATCH):
        count = min(BATCH, size - first)
        vectors = rng.normal(size=(count, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        taken = rng.uniform(1_104_537_600, 1_735_689_600, count)
        added = []
        for offset in range(count):
            n = first + offset
            path = str(root / f"{n // 1000:04d}" / f"{n:07d}.jpg")
            if n % FACE_SHARE == 0:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                Path(path).touch()
            added.append(NewFile(path, 0, 0, n.to_bytes(16, "little"), 640, 480,
                                 {"clip": vectors[offset],
                                  "metadata": Description(PhotoMetadata(float(taken[offset]), 0, "exif", 640, 480))}))
        catalog.commit_batch(added=added)
    # faces: 1.5 a photo with faces (300k at 1M photos); the named people first, then a long tail
    db = catalog.connection
    with_faces = np.arange(1, size + 1, FACE_SHARE)  # row ids of the photos with a file
    scale = size / 1_000_000
    people: list[tuple[int, str | None, np.ndarray]] = []
    for number, (name, photos) in enumerate(NAMED.items(), 1):
        chosen = rng.choice(with_faces, max(1, int(photos * scale)), replace=False)
        if name == "Dana":
            chosen[: len(chosen) // 2] = people[0][2][: len(chosen) // 2]  # with Anna in half of hers
        people.append((number, name, chosen))
    faces_left = int(len(with_faces) * 1.5) - sum(len(p[2]) for p in people)
    tail = np.maximum(1, (rng.pareto(1.2, 40_000) * 3).astype(int))
    tail = tail[np.cumsum(tail) <= faces_left]
    for number, photos in enumerate(tail, len(people) + 1):
        people.append((number, None, rng.choice(with_faces, min(int(photos), len(with_faces)), replace=False)))
    with catalog.transaction():
        db.executemany("INSERT INTO people (person, name, total, members) VALUES (?, ?, NULL, ?)",
                       [(number, name, len(chosen)) for number, name, chosen in people])
        embedding = np.zeros(DIM, dtype=np.float32).tobytes()  # the filter never reads them
        rows = ((int(photo), number, float(q)) for number, _, chosen in people
                for photo, q in zip(chosen, rng.uniform(0.3, 1.0, len(chosen))))
        db.executemany("INSERT INTO faces (id, x1, y1, x2, y2, landmarks, score, quality, embedding, person, state) "
                       f"VALUES (?, 0, 0, 100, 100, '[]', 0.9, ?, ?, ?, {GROUPED})",
                       ((photo, q, embedding, number) for photo, number, q in rows))
        db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('find_faces', 'yes')")
    faces = db.execute("SELECT COUNT(*) FROM faces").fetchone()[0]
    catalog.close()
    seconds = time.perf_counter() - start
    done.write_text(str(seconds))
    (folder / "faces").write_text(str(faces))
    return seconds


def _top_up(folder: Path) -> None:
    """A dataset written by an earlier version of the faces' tables gets their indexes now."""
    from pixseek.signals.faces import FaceRows
    from pixseek.store.catalog import Catalog

    catalog = Catalog.open(folder / "index", create=False)
    try:
        for statement in FaceRows.schema.split(";"):
            if "CREATE INDEX" in statement:
                catalog.connection.execute(statement)
    finally:
        catalog.close()


def child(size: int, rounds: int) -> None:
    from pixseek.engine.query import build_query, text_term
    from pixseek.filters import SearchFilters
    from pixseek.library import Library

    result: dict = {"size": size, "build_s": build(size), "faces": int((dataset(size) / "faces").read_text())}
    library = Library.open(dataset(size) / "index", model=MODEL_INT8_TEXT)
    start = time.perf_counter()
    library.search(build_query([text_term("warm up")], people=["Anna"]), k=10)  # vector index, model, page cache
    library.search(build_query([], people=["Ben"]), k=10, filters=SearchFilters.parse(year="2020"))  # metadata
    result["first_search_s"] = time.perf_counter() - start
    filters = SearchFilters.parse(year="2021", folder=str(dataset(size) / "files"))
    latencies: dict[str, list[float]] = {f"{q} | {m}": [] for q in QUERIES for m in MODES}
    latencies[BASELINE] = []
    found: dict[str, list[int]] = {name: [] for name in latencies}
    for number in range(rounds):  # the cases take turns, so a busy minute hits them all alike
        start = time.perf_counter()
        found[BASELINE].append(len(library.search(build_query([text_term(f"at the beach {number}")]), k=10)))
        latencies[BASELINE].append(time.perf_counter() - start)
        for name, people in QUERIES.items():
            for mode in MODES:
                terms = [text_term(f"at the beach {number} {name}")] if mode == MODES[1] else []
                query = build_query(terms, people=people)  # distinct CLIP texts: the text cache never answers
                start = time.perf_counter()
                results = library.search(query, k=10, filters=filters if mode == MODES[2] else None)
                latencies[f"{name} | {mode}"].append(time.perf_counter() - start)
                found[f"{name} | {mode}"].append(len(results))
    result["cases"] = {name: {"p50_ms": p[0], "p95_ms": p[1], "results": float(np.mean(found[name]))}
                       for name, p in ((n, percentiles(v)) for n, v in latencies.items())}
    library.close()
    emit(result)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k photos and 20k faces to group, fewer rounds")
    parser.add_argument("--grouping-only", action="store_true", help="only the grouping benchmark")
    parser.add_argument("--recogniser", action="store_true",
                        help="only the time of one face through ArcFace's iresnet50 (random weights; needs PyTorch)")
    args = parser.parse_args(argv)
    if args.recogniser:
        cost = recogniser_cost()
        save("people_recogniser", cost, table("One face through ArcFace iresnet50 (buffalo_l's w600k_r50 "
                                              "architecture, random weights), ONNX Runtime, all cores",
                                              ["p50 ms", "parameters (M)", "CLIP int8 image tower, ms a photo"],
                                              [[cost["iresnet50_face_ms_p50"], cost["parameters_m"],
                                                cost["clip_int8_photo_ms_p50"]]]))
        return cost
    faces, size, rounds = (20_000, 100_000, 10) if args.quick else (100_000, 1_000_000, 20)
    g = grouping(faces, 1_000, faces // 20)
    text = table(f"Grouping {faces:,} faces 1,000 at a time ({g['identities']:,} identities; bar: < 1 s per 1,000)",
                 ["first 1,000 s", "median s", "last 1,000 s", "slowest s", "median CPU s", "last CPU s", "groups",
                  "groups mixing two", "faces in their identity's main group"],
                 [[g["first_step_s"], g["median_step_s"], g["last_step_s"], g["max_step_s"], g["median_step_cpu_s"],
                   g["last_step_cpu_s"], g["groups"],
                   f"{g['mixed_groups_share']:.2%}", f"{g['faces_in_their_identitys_main_group']:.2%}"]])
    result: dict = {"quick": args.quick, "grouping": g}
    if not args.grouping_only:
        r = run_child(["benchmarks.people", "child", str(size), str(rounds)], timeout=7200)
        rows = [[*name.split(" | "), c["p50_ms"], c["p95_ms"], c["results"]] for name, c in r["cases"].items()]
        text += "\n\n" + table(f"Person filter, {size:,} photos, {r['faces']:,} faces, warm (Library.search, k=10; "
                               "bar: p50 < 50 ms)", ["people", "how", "p50 ms", "p95 ms", "results"], rows)
        text += (f"\n\nFirst searches in the process (vector index, model, metadata): {r['first_search_s']:.1f} s; "
                 f"peak RSS {r['peak_rss_mib']:,.0f} MiB; writing the dataset took {r['build_s']:.0f} s once")
        result["search"] = r
    save("people", result, text)
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
