"""Indexing videos end to end: video seconds indexed per wall second, and peak memory.

Clips are made once with PyAV (cached under .cache/bench): phone-like 1080p H.264 at 30 fps
(a keyframe every second, as phones write them; a slow pan over a photo with sensor-like
noise, at a phone's bitrate, 16 Mbit/s), and 4K HEVC (libx265, 40 Mbit/s) where
PyAV can encode it. A child process opens an index with the benchmark model (a random-weight ViT-B/32,
int8 image tower: the real model's cost) and times `Library.index` on the folder: scan, hash,
keyframe decoding, moments embedded and committed. Bars (issue #23, 2 cores): 1080p H.264
>= 20x real time, 4K HEVC >= 5x; peak RSS printed.

Photos beside videos: 240 ~640 px photos indexed alone, then the same photos with the 1080p
clips in one folder (hard links), taking turns; the photos' rate in the mixed run is counted up
to the video pass's first progress (the photos are indexed first). Bar: they keep their rate.

Faces in moments (`--faces`): the 1080p clips indexed with finding faces on (the stand-in face
pack of tests/face_standins.py, installed in a models folder of its own: its graphs cost almost
nothing, so this measures pixseek's part: moments decoded large enough for the detector, the
detector's canvas, storage, grouping) and off, taking turns; the ratio of their speeds.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmarks.common import (CACHE, MODEL, Meter, bench_env, emit, peak_rss_mib, photo_corpus, run_child, save,
                               table)

KINDS = {  # name -> (codec, width, height, clips, seconds each, bar)
    "1080p H.264": ("libx264", 1920, 1080, 4, 30, 20.0),
    "4K HEVC": ("libx265", 3840, 2160, 1, 20, 5.0),
}
FPS = 30
BITRATE = {"libx264": 16_000_000, "libx265": 40_000_000}  # what phones write: ~16 Mbit/s 1080p, ~40 4K HEVC


def _source() -> np.ndarray:
    """A large picture to pan over: a real photo when ../shared is here, else a generated one."""
    from PIL import Image

    from benchmarks.common import SHARED_PHOTOS

    found = sorted((SHARED_PHOTOS / "coco-mini").glob("*.jpg"))
    if found:
        image = Image.open(found[0]).convert("RGB")
    else:
        from pixseek.model.samples import generated_photo

        image = generated_photo(0, (640, 480))
    return np.asarray(image.resize((4400, 2600), Image.Resampling.BICUBIC))


def make_clips(name: str) -> Path | None:
    """The folder of clips of this kind (made once), or None where PyAV cannot encode them."""
    import av

    codec, width, height, count, seconds, _ = KINDS[name]
    folder = CACHE / f"videos-{codec}-{height}p-{count}x{seconds}s-{BITRATE[codec] // 10**6}mbit"
    done = folder / ".complete"
    if done.is_file():
        return folder
    if codec not in av.codecs_available:
        return None
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    picture = _source()
    rng = np.random.default_rng(0)
    for c in range(count):
        with av.open(str(folder / f"clip-{c}.mp4"), "w") as container:
            stream = container.add_stream(codec, rate=FPS)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            stream.time_base = Fraction(1, FPS)
            stream.codec_context.gop_size = FPS  # a keyframe every second
            stream.bit_rate = BITRATE[codec]
            stream.options = {"preset": "ultrafast"}
            if codec == "libx265":
                stream.options["x265-params"] = f"keyint={FPS}:min-keyint={FPS}:log-level=error"
            for f in range(seconds * FPS):
                x = int((picture.shape[1] - width) * ((f + c * 97) % (seconds * FPS)) / (seconds * FPS))
                y = (c * 53) % max(picture.shape[0] - height, 1)
                frame = picture[y:y + height, x:x + width]
                noise = rng.integers(-6, 7, frame.shape, dtype=np.int16)
                pixels = np.clip(frame.astype(np.int16) + noise, 0, 255).astype(np.uint8)
                video = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                video.pts = f
                container.mux(stream.encode(video))
            container.mux(stream.encode(None))
    done.write_text("ok")
    return folder


def child(folder: str, faces: bool = False) -> None:
    from pixseek.library import Library

    out = Path(tempfile.mkdtemp(dir=CACHE))
    library = Library.open(out / "index", model=MODEL, create=True)
    library.encoder.encode_pixels(np.zeros((1, 3, library.encoder.image_size, library.encoder.image_size),
                                           np.float32))  # the session loaded before the clock starts
    with Meter() as meter:
        report = library.index([folder], find_faces=faces)
    peak = peak_rss_mib()  # indexing's own (a search would load the text tower too)
    library.close()
    with sqlite3.connect(out / "index" / "catalog.sqlite3") as db:
        moments = db.execute("SELECT COUNT(*) FROM moments").fetchone()[0]
        looked = db.execute("SELECT COUNT(*) FROM moment_faces_read").fetchone()[0]
    shutil.rmtree(out)
    if report.skipped:
        sys.exit(f"skipped: {report.skipped}")
    emit({"videos": report.videos_indexed, "video_seconds": report.video_seconds, "moments": moments,
          "megabytes": sum(p.stat().st_size for p in Path(folder).glob("*.mp4")) / 1e6, **meter.as_dict(),
          "peak_rss_mib": peak, "faces_found": report.video_faces_found,
          "moments_looked_at": looked, "faces_note": report.faces_note})


MIXED_PHOTOS = 240
INSTALL_STAND_IN = ("import sys; from pathlib import Path; from pixseek.model.faces_packs import install; "
                    "install('stand-in', Path(sys.argv[1]), model_id='random/faces-stand-in', licence='test stand-in', "
                    "min_score=0.5, match_threshold=0.8)")  # as tests/face_standins.py's install_stand_in does


def stand_in_pack() -> Path:
    """The stand-in face pack, installed once in a models folder of its own (the benchmark
    models' folder holds none: no other benchmark finds faces)."""
    models = CACHE / "face-models"
    pack = models / "faces" / "stand-in"
    if not pack.is_dir():
        # why: the stand-in's maker lives with the tests (it needs the onnx package, a test dependency)
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from face_standins import make_pack_source

        env = bench_env(PIXSEEK_MODELS=str(models))
        source = make_pack_source(Path(tempfile.mkdtemp(dir=CACHE)) / "stand-in-source")
        try:
            subprocess.run([sys.executable, "-c", INSTALL_STAND_IN, str(source)], env=env, check=True)
        finally:
            shutil.rmtree(source.parent)
    return pack


def faces_on_off(clips: Path, repeats: int) -> dict:
    """The 1080p clips indexed with faces found in their moments and without, taking turns."""
    on_env = bench_env(PIXSEEK_FACE_MODEL=str(stand_in_pack()), PIXSEEK_READ_TEXT="no")
    off_env = bench_env(PIXSEEK_FIND_FACES="no", PIXSEEK_READ_TEXT="no")
    on, off = [], []
    for _ in range(repeats):
        off.append(run_child(["benchmarks.video", "child", str(clips)], off_env))
        on.append(run_child(["benchmarks.video", "child", str(clips), "faces"], on_env))
    best_on, best_off = (min(runs, key=lambda r: r["wall_s"]) for runs in (on, off))
    speed_on, speed_off = (r["video_seconds"] / r["wall_s"] for r in (best_on, best_off))
    if best_on["moments_looked_at"] != best_on["moments"]:
        sys.exit(f"faces were not looked for in every moment: {best_on}")
    return {"moments": best_on["moments"], "faces_found": best_on["faces_found"], "off_x_real_time": speed_off,
            "on_x_real_time": speed_on, "ratio": speed_on / speed_off,
            "all_off": [r["video_seconds"] / r["wall_s"] for r in off],
            "all_on": [r["video_seconds"] / r["wall_s"] for r in on],
            "peak_rss_mib_off": best_off["peak_rss_mib"], "peak_rss_mib_on": best_on["peak_rss_mib"]}


def mixed_folder(clips: Path) -> tuple[Path, Path]:
    """(the photos alone, the same photos with `clips` beside them), made once, by hard links."""
    photos, _kind = photo_corpus(MIXED_PHOTOS)
    mixed = CACHE / "video-bench" / "mixed"
    if not (mixed / ".complete").is_file():
        shutil.rmtree(mixed, ignore_errors=True)
        mixed.mkdir(parents=True)
        for source in [*photos.glob("*.jpg"), *clips.glob("*.mp4")]:
            (mixed / source.name).hardlink_to(source)
        (mixed / ".complete").write_text("ok")
    return photos, mixed


def photo_rate_child(folder: str) -> None:
    """Photos per second until the video pass starts (or to the end, where there is none)."""
    from pixseek.engine.video_pass import STAGE
    from pixseek.library import Library

    out = Path(tempfile.mkdtemp(dir=CACHE))
    library = Library.open(out / "index", model=MODEL, create=True)
    library.encoder.encode_pixels(np.zeros((1, 3, library.encoder.image_size, library.encoder.image_size),
                                           np.float32))
    videos_from: list[float] = []
    start = time.perf_counter()

    def progress(p) -> None:
        if p.stage == STAGE and not videos_from:
            videos_from.append(time.perf_counter() - start)

    report = library.index([folder], progress=progress)
    photos_s = videos_from[0] if videos_from else time.perf_counter() - start
    library.close()
    shutil.rmtree(out)
    emit({"photos": report.indexed, "photos_s": photos_s, "photos_per_s": report.indexed / photos_s,
          "videos": report.videos_indexed})


def photos_beside_videos(clips: Path, repeats: int) -> dict:
    alone_folder, mixed = mixed_folder(clips)
    alone, together = [], []
    env = bench_env(PIXSEEK_READ_TEXT="no", PIXSEEK_FIND_FACES="no")  # the photos' own rate, no later pass
    run_child(["benchmarks.video", "photos", str(alone_folder)], env)  # a first run builds caches: not counted
    for _ in range(repeats):  # taking turns: the machine's load falls on both alike
        alone.append(run_child(["benchmarks.video", "photos", str(alone_folder)], env))
        together.append(run_child(["benchmarks.video", "photos", str(mixed)], env))
    best_alone = max(r["photos_per_s"] for r in alone)
    best_together = max(r["photos_per_s"] for r in together)
    return {"photos": MIXED_PHOTOS, "alone_per_s": best_alone, "beside_videos_per_s": best_together,
            "ratio": best_together / best_alone, "videos": together[0]["videos"]}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run each (default: best of two)")
    parser.add_argument("--only", choices=list(KINDS), help="one kind of clip")
    parser.add_argument("--faces", action="store_true", help="only the 1080p clips with faces found and without")
    parser.add_argument("--repeats", type=int, help="runs of each (default: 2, 1 with --quick)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 2)
    if args.faces:
        return faces_main(repeats, args.quick)
    results, rows = {}, []
    for name in [args.only] if args.only else list(KINDS):
        folder = make_clips(name)
        bar = KINDS[name][5]
        if folder is None:
            results[name] = {"skipped": f"PyAV here cannot encode {KINDS[name][0]}"}
            rows.append([name, "-", "-", "-", "-", "-", results[name]["skipped"]])
            continue
        runs = [run_child(["benchmarks.video", "child", str(folder)]) for _ in range(repeats)]
        best = min(runs, key=lambda r: r["wall_s"])
        speed = best["video_seconds"] / best["wall_s"]
        results[name] = {**best, "x_real_time": speed, "peak_rss_mib": max(r["peak_rss_mib"] for r in runs),
                         "all_x_real_time": [r["video_seconds"] / r["wall_s"] for r in runs]}
        rows.append([name, f"{best['videos']} x {best['video_seconds'] / max(best['videos'], 1):.0f} s, "
                           f"{best['megabytes'] * 8 / best['video_seconds']:.0f} Mbit/s",
                     best["moments"], f"{speed:.1f}x (bar {bar:g}x)", best["cores_busy"],
                     results[name]["peak_rss_mib"], ""])
    text = table("Video indexing, end to end (best of runs)",
                 ["clips", "videos", "moments", "video s / wall s", "cores busy", "peak RSS MiB", "note"], rows)
    clips = make_clips("1080p H.264") if not args.only or args.only == "1080p H.264" else None
    if clips is not None:
        mixed = results["photos beside videos"] = photos_beside_videos(clips, repeats)
        text += "\n" + table("Photos in the same run as videos (best of runs)",
                             ["photos", "alone photos/s", "beside videos photos/s", "ratio"],
                             [[mixed["photos"], f"{mixed['alone_per_s']:.1f}", f"{mixed['beside_videos_per_s']:.1f}",
                               f"{mixed['ratio']:.2f}"]])
    save("video", {"quick": args.quick, "repeats": repeats, "results": results}, text)
    return results


def faces_main(repeats: int, quick: bool) -> dict:
    clips = make_clips("1080p H.264")
    assert clips is not None  # PyAV's wheel has libx264
    found = faces_on_off(clips, repeats)
    text = table("Faces in video moments: 1080p H.264 indexed with faces on (stand-in pack) and off, taking turns "
                 "(best of runs)",
                 ["moments", "faces found", "off: video s / wall s", "on: video s / wall s", "on / off",
                  "peak RSS MiB off / on"],
                 [[found["moments"], found["faces_found"], f"{found['off_x_real_time']:.1f}x",
                   f"{found['on_x_real_time']:.1f}x", f"{found['ratio']:.2f}",
                   f"{found['peak_rss_mib_off']:.0f} / {found['peak_rss_mib_on']:.0f}"]])
    save("video_faces", {"quick": quick, "repeats": repeats, "results": found}, text)
    return found


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        child(sys.argv[2], faces=sys.argv[3:] == ["faces"])
    elif len(sys.argv) > 1 and sys.argv[1] == "photos":
        photo_rate_child(sys.argv[2])
    else:
        main()
