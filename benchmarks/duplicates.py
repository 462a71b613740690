"""Duplicates: precision and recall on a constructed set, the candidate search's recall at
scale, and the time to group a million photos.

1. Constructed set (real photos from ../shared when present, else generated ones): originals,
   five near copies of each (half size, JPEG quality 40, 2% crop, +25% brightness, half the
   colour), other views of some scenes (a shifted 75% crop: another photo of the same scene,
   which must not group) and unrelated photos. Indexed with the benchmark model, then
   `Library.duplicates` at several thresholds: pair precision and recall against the truth,
   per kind of copy. Also what CLIP alone and the perceptual hash alone would decide.
   With `--model NAME` (an installed model) this is how a user with the real weights
   recalibrates the threshold on their own machine (docs/duplicates.md).
2. Candidate search at scale, in memory: 200k vectors of the benchmark mixture with 2,000
   injected near-duplicate pairs (cosine 0.90 to 0.99), the IVF index pixseek would build for
   them, and the share of injected pairs found per number of lists probed.
3. `Library.duplicates` over the 1M dataset of the query benchmark (synthetic vectors, random
   perceptual hashes from the filters benchmark): the whole grouping, timed.
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import datasets
from benchmarks.common import CACHE, MODEL, _source_photos, emit, run_child, save, table

THRESHOLDS = (0.80, 0.85, 0.90, 0.95, 0.98)
NPROBE_TEXT = "2 lists probed per photo"
COPIES = ("half size", "quality 40", "crop 2%", "brighter", "less colour")


def _copies(image):
    from PIL import Image, ImageEnhance

    w, h = image.size
    out = io.BytesIO()
    image.save(out, "JPEG", quality=40)
    return {"half size": image.resize((w // 2, h // 2), Image.Resampling.LANCZOS),
            "quality 40": Image.open(io.BytesIO(out.getvalue())).convert("RGB"),
            "crop 2%": image.crop((w // 50, h // 50, w - w // 50, h - h // 50)),
            "brighter": ImageEnhance.Brightness(image).enhance(1.25),
            "less colour": ImageEnhance.Color(image).enhance(0.5)}


def constructed_set(folder: Path, originals: int, others: int) -> tuple[dict[str, str], dict[str, int]]:
    """Write the set; returns file name -> kind, and file name -> family (the original's number)."""
    from PIL import Image

    from pixseek.model.samples import generated_photo

    sources = _source_photos()
    kinds, family = {}, {}

    def picture(i: int) -> Image.Image:
        if sources:
            return Image.open(sources[i % len(sources)]).convert("RGB")
        return generated_photo(i, (640, 480))

    for i in range(originals):
        image = picture(i)
        name = f"o{i:04d}.jpg"
        image.save(folder / name, quality=92)
        kinds[name], family[name] = "original", i
        for kind, copy in _copies(image).items():
            copy_name = f"o{i:04d} {kind}.jpg"
            copy.save(folder / copy_name, quality=90)
            kinds[copy_name], family[copy_name] = kind, i
        if i % 3 == 0:
            w, h = image.size
            view = f"o{i:04d} other view.jpg"
            image.crop((w // 4, 0, w, h * 3 // 4)).save(folder / view, quality=92)
            kinds[view], family[view] = "other view", -1 - i  # a family of its own
    for j in range(others):
        name = f"u{j:04d}.jpg"
        picture(originals + j).save(folder / name, quality=92)
        kinds[name], family[name] = "unrelated", -100_000 - j
    return kinds, family


def _pairs_of(groups: list[set[str]]) -> set[frozenset]:
    return {frozenset(p) for g in groups for p in itertools.combinations(sorted(g), 2)}


def _score(predicted: set[frozenset], truth: set[frozenset]) -> tuple[float, float]:
    hits = len(predicted & truth)
    return hits / max(len(predicted), 1), hits / max(len(truth), 1)


def child_constructed(model: str, originals: int, others: int) -> None:
    from pixseek.engine.duplicates import PHASH_BITS, hamming
    from pixseek.library import Library

    work = Path(tempfile.mkdtemp(dir=CACHE))
    try:
        photos = work / "photos"
        photos.mkdir()
        kinds, family = constructed_set(photos, originals, others)
        library = Library.open(work / "index", model=model, create=True)
        library.index([photos])
        truth = _pairs_of([{n for n, f in family.items() if f == i} for i in range(originals)])
        result = {"model": model, "photos": len(kinds), "true_pairs": len(truth), "thresholds": {}}
        for threshold in THRESHOLDS:
            start = time.perf_counter()
            groups = [{Path(p.path).name for p in g.photos} for g in library.duplicates(threshold=threshold)]
            seconds = time.perf_counter() - start
            predicted = _pairs_of(groups)
            precision, recall = _score(predicted, truth)
            per_kind = {kind: float(np.mean([frozenset((f"o{family[n]:04d}.jpg", n)) in predicted
                                             for n, k in kinds.items() if k == kind])) for kind in COPIES}
            wrong_views = sum(1 for g in groups for n in g if kinds[n] == "other view")
            result["thresholds"][str(threshold)] = {"precision": precision, "recall": recall, "seconds": seconds,
                                                    "recall_by_kind": per_kind, "other_views_grouped": wrong_views}
        # What each witness alone would decide, over every pair of photos.
        names = sorted(kinds)
        ids = {n: library._index.catalog.lookup(str(photos / n)).id for n in names}
        vectors = library._index.catalog.vectors_for([ids[n] for n in names])
        hashes = library._index.catalog.phashes(ids.values())
        cosine = vectors @ vectors.T
        all_pairs = [(a, b) for a, b in itertools.combinations(range(len(names)), 2)]
        clip_only = {}
        for threshold in THRESHOLDS:
            predicted = {frozenset((names[a], names[b])) for a, b in all_pairs if cosine[a, b] >= threshold}
            clip_only[str(threshold)] = _score(predicted, truth)
        phash_only = {frozenset((names[a], names[b])) for a, b in all_pairs
                      if hamming(hashes[ids[names[a]]], hashes[ids[names[b]]]) <= PHASH_BITS}
        result["clip_only"] = clip_only
        result["phash_only"] = _score(phash_only, truth)
        result["cosine_unrelated_median"] = float(np.median([cosine[a, b] for a, b in all_pairs
                                                            if kinds[names[a]] == kinds[names[b]] == "unrelated"]))
        library.close()
    finally:
        shutil.rmtree(work)
    emit(result)


def child_candidates(count: int, pairs: int) -> None:
    from pixseek.store.vector_index import Spec, VectorIndex

    rng = np.random.default_rng(5)
    centres, weights = datasets.centroids(count, rng)
    data = datasets.mixture(centres, weights, count, rng)
    picks = rng.choice(count, pairs, replace=False)
    near = data[picks] + rng.normal(size=(pairs, datasets.DIM)).astype(np.float32) * rng.uniform(0.005, 0.02, (pairs, 1))
    near /= np.linalg.norm(near, axis=1, keepdims=True)
    cosines = np.sum(near * data[picks], axis=1)
    vectors = np.concatenate([data, near]).astype(np.float32)
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    spec = Spec.choose(len(vectors))
    index = VectorIndex.build(datasets.DIM, spec, lambda: iter([(ids, vectors)]), len(vectors))
    # Library.duplicates asks from both sides of a pair: the copy's neighbours, and the original's.
    copies, originals = np.arange(count + 1, count + pairs + 1), picks + 1
    result = {"vectors": len(vectors), "pairs": pairs, "cosine_min": float(cosines.min()),
              "cosine_max": float(cosines.max()), "index": spec.describe(), "probes": {}}
    for nprobe in (1, 2, 4, 8):
        start = time.perf_counter()
        _, from_copy = index.neighbours(vectors[copies - 1], 16, nprobe)
        seconds = time.perf_counter() - start
        _, from_original = index.neighbours(vectors[originals - 1], 16, nprobe)
        one_side = np.array([o in row for o, row in zip(originals, from_copy)])
        either = one_side | np.array([c in row for c, row in zip(copies, from_original)])
        result["probes"][str(nprobe)] = {"recall": float(either.mean()), "recall_one_side": float(one_side.mean()),
                                         "seconds_per_million_queries": seconds / pairs * 1e6}
    emit(result)


def child_scale(size: int, sample: int) -> None:
    """`Library.duplicates` over `size` photos, or, with `sample` < size, its k-NN pass for that
    many photos against the whole index, timed and scaled up (the pass is linear in photos)."""
    from benchmarks.filters import add_metadata
    from pixseek.engine import duplicates
    from pixseek.library import Library

    add_metadata(size)
    library = Library.open(datasets.dataset_dir(size) / "index", model=MODEL)
    live = library._index.vectors()  # the benchmark looks inside: the k-NN pass alone, on a sample
    start = time.perf_counter()
    with library._index.catalog.snapshot():
        ids, copies = library._index.catalog.ids_under(), library._index.catalog.copies()
    sql_s = time.perf_counter() - start
    sample_ids = ids[:: max(1, len(ids) // sample)][:sample]
    start = time.perf_counter()
    pairs = duplicates.near_pairs(lambda q: live.neighbours(q, duplicates.K_NEIGHBOURS, duplicates.NPROBE),
                                  library._index.catalog.vectors_for, sample_ids, duplicates.DEFAULT_THRESHOLD,
                                  lambda ids: duplicates.phashes(library._index.catalog, ids))
    knn_s = time.perf_counter() - start
    emit({"size": size, "sample": len(sample_ids), "ids_and_copies_s": sql_s, "copy_groups": len(copies),
          "sample_s": knn_s, "seconds": sql_s + knn_s * len(ids) / len(sample_ids), "pairs_in_sample": len(pairs),
          "vector_index": live.index.describe(), "load_average": os.getloadavg()[0]})


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller set, 100k vectors")
    parser.add_argument("--model", default=MODEL, help="an installed model to calibrate (default: the benchmark's)")
    parser.add_argument("--sample", type=int, default=1_000_000,
                        help="time the k-NN pass for this many photos and scale up (default: all)")
    args = parser.parse_args(argv)
    originals, others, size = (40, 80, 100_000) if args.quick else (150, 300, 1_000_000)
    constructed = run_child(["benchmarks.duplicates", "constructed", args.model, str(originals), str(others)])
    candidates = run_child(["benchmarks.duplicates", "candidates", "200000", "2000"])
    run_child(["benchmarks.datasets", "child", str(size)])
    scale = run_child(["benchmarks.duplicates", "scale", str(size), str(args.sample)], timeout=7200)
    rows = []
    for threshold, r in constructed["thresholds"].items():
        clip_p, clip_r = constructed["clip_only"][threshold]
        rows.append([threshold, f"{r['precision']:.3f}", f"{r['recall']:.3f}", r["other_views_grouped"],
                     " ".join(f"{v:.2f}" for v in r["recall_by_kind"].values()), f"{clip_p:.3f} / {clip_r:.3f}",
                     r["seconds"]])
    text = table(f"Constructed set: {constructed['photos']} photos, {constructed['true_pairs']} true pairs, model "
                 f"{constructed['model']} (median cosine of unrelated photos {constructed['cosine_unrelated_median']:.3f})",
                 ["threshold", "precision", "recall", "other views grouped", "recall: " + ", ".join(COPIES),
                  "CLIP alone P / R", "seconds"], rows)
    text += (f"\nperceptual hash alone (<= 12 bits): precision {constructed['phash_only'][0]:.3f}, "
             f"recall {constructed['phash_only'][1]:.3f}")
    text += "\n\n" + table(f"Candidate search: {candidates['vectors']:,} vectors, {candidates['pairs']} injected pairs "
                           f"(cosine {candidates['cosine_min']:.3f}-{candidates['cosine_max']:.3f}), {candidates['index']}",
                           ["lists probed", "pairs found (either side asks)", "from one side", "s per 1M queries"],
                           [[n, f"{p['recall']:.4f}", f"{p['recall_one_side']:.4f}", p["seconds_per_million_queries"]]
                            for n, p in candidates["probes"].items()])
    measured = "measured" if scale["sample"] == scale["size"] else f"scaled up from {scale['sample']:,} photos' pass"
    text += (f"\n\nGrouping {scale['size']:,} photos ({scale['vector_index']}, {NPROBE_TEXT}): "
             f"{scale['seconds']:.0f} s ({scale['seconds'] / 60:.1f} min, {measured}; load average "
             f"{scale['load_average']:.1f}), peak RSS {scale['peak_rss_mib']:,.0f} MiB")
    save("duplicates", {"quick": args.quick, "constructed": constructed, "candidates": candidates, "scale": scale}, text)
    return {"constructed": constructed, "candidates": candidates, "scale": scale}


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "constructed":
        child_constructed(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif len(sys.argv) > 1 and sys.argv[1] == "candidates":
        child_candidates(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) > 1 and sys.argv[1] == "scale":
        child_scale(int(sys.argv[2]), int(sys.argv[3]))
    else:
        main()
