"""Word recall and precision of text search, per condition, and the text pass's speed.

The set: COCO photos of ../shared with words drawn on them in real fonts (DejaVu Sans, Serif,
Mono, bold) under one condition each (sizes, an angle, perspective, blur, low contrast, accents
and digits), photos left as they are (for precision and for the speed on photos without text),
and the COCO photos whose human captions say they show a stop sign (real signs: "STOP").

The set is written as JPEG files and indexed by a Library (the benchmark's random-weight
ViT-B/32, text on); each word is searched through `Library.search` with `says=word` (the index's
FTS5 search: case and accents folded, one OCR slip forgiven in long words). Recall: drawn words
of 4+ characters whose search returns their photo; precision: of all photos returned by the
searches, those that carry the word. Speed, same run: indexing a mix where one photo in ten has
text, text off then on, and the text pass alone over photos without text.

`--sides 640,960` instead runs the reader alone at each detection size (a word search there is
the word, case-folded, inside the read text, case-folded), for choosing the size.

    python -m benchmarks.ocr_words [--per-condition 12] [--plain 40] [--sides 640,960]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from benchmarks.common import CACHE, MODEL, SHARED_PHOTOS, bench_models, save, table

FONTS = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf"]
WORDS = ["garage", "receipt", "invoice", "total", "parking", "station", "market", "bakery", "pharmacy", "museum",
         "ticket", "platform", "exit", "hotel", "coffee", "street", "avenue", "closed", "open", "sale", "price",
         "menu", "dinner", "lunch", "wifi", "password", "booking", "flight", "gate", "train", "school", "library",
         "garden", "beach", "north", "south", "river", "bridge", "tower", "castle", "harbour", "airport", "bank",
         "office", "private", "danger", "police", "taxi", "pizza", "bread"]
ACCENTED = ["café", "crème", "größe", "señal", "façade", "über", "déjà", "piñata", "straße", "naïve"]
NUMBERED = ["2023", "4711", "A380", "Q3-2024", "B12", "19:45", "EUR 42", "1984", "7300", "98.6"]
CONDITIONS = {  # name -> how the words are drawn (size in px on a ~640 px photo)
    "large (48 px)": {"size": 48},
    "medium (28 px)": {"size": 28},
    "small (16 px)": {"size": 16},
    "angle 20 deg": {"size": 32, "angle": 20},
    "perspective": {"size": 32, "perspective": True},
    "blur (radius 1.5)": {"size": 28, "blur": 1.5},
    "low contrast (20%)": {"size": 32, "contrast": 0.2},
    "accents": {"size": 32, "words": ACCENTED},
    "digits": {"size": 32, "words": NUMBERED},
}
STOP_SIGNS = ["000000252332.jpg", "000000460229.jpg", "000000525891.jpg"]  # captions: "a stop sign"


@dataclass
class Sample:
    name: str
    condition: str
    image: Image.Image
    words: list[str]


def _draw(photo: Image.Image, words: list[str], spec: dict, rng: random.Random) -> Image.Image:
    """`words` on one line over `photo`, under the condition `spec`."""
    font = ImageFont.truetype(str(FONTS / rng.choice(FONT_FILES)), spec["size"])
    text = " ".join(words)
    left, top, right, bottom = font.getbbox(text)
    layer = Image.new("RGBA", (right + 8, bottom + 8), (0, 0, 0, 0))
    ink = _ink(photo, spec.get("contrast"))
    outline = {} if "contrast" in spec else {"stroke_width": max(1, spec["size"] // 14),
                                             "stroke_fill": (255 - ink[0], 255 - ink[1], 255 - ink[2], 255)}
    ImageDraw.Draw(layer).text((4, 4), text, font=font, fill=ink, **outline)
    if "angle" in spec:
        layer = layer.rotate(spec["angle"], expand=True, resample=Image.BICUBIC)
    if spec.get("perspective"):
        w, h = layer.size
        layer = layer.transform((w, h), Image.QUAD, (0, 0, 0, h, w, int(h * 0.8), w, int(h * 0.2)), Image.BICUBIC)
    if layer.width > photo.width - 8:
        layer = layer.resize((photo.width - 8, max(1, layer.height * (photo.width - 8) // layer.width)))
    x = rng.randint(4, max(4, photo.width - layer.width - 4))
    y = rng.randint(4, max(4, photo.height - layer.height - 4))
    out = photo.copy()
    if spec.get("contrast") is not None:  # a plain patch, text in a shade close to it: a faded label
        ImageDraw.Draw(out).rectangle((x, y, x + layer.width, y + layer.height), fill=_patch(photo))
    out.paste(layer, (x, y), layer)
    return out.filter(ImageFilter.GaussianBlur(spec["blur"])) if "blur" in spec else out


def _patch(photo: Image.Image) -> tuple[int, int, int]:
    grey = int(photo.convert("L").resize((1, 1)).getpixel((0, 0)) or 128)
    return (grey, grey, grey)


def _ink(photo: Image.Image, contrast: float | None) -> tuple[int, int, int, int]:
    if contrast is None:
        return (255, 255, 255, 255) if sum(_patch(photo)) < 380 else (0, 0, 0, 255)
    grey = _patch(photo)[0]
    shade = int(grey + (255 * contrast if grey < 128 else -255 * contrast))
    return (shade, shade, shade, 255)


def build_set(per_condition: int, plain: int) -> list[Sample]:
    rng = random.Random(0)
    photos = sorted((SHARED_PHOTOS / "coco-mini").glob("*.jpg"))
    photos = [p for p in photos if p.name not in STOP_SIGNS]
    rng.shuffle(photos)
    samples = []
    for index, (condition, spec) in enumerate(CONDITIONS.items()):
        for path in photos[index * per_condition:(index + 1) * per_condition]:
            words = rng.sample(spec.get("words", WORDS), 2)
            samples.append(Sample(path.name, condition, _draw(Image.open(path).convert("RGB"), words, spec, rng), words))
    rest = photos[len(CONDITIONS) * per_condition:][:plain]
    samples += [Sample(p.name, "no text drawn", Image.open(p).convert("RGB"), []) for p in rest]
    samples += [Sample(n, "real stop signs", Image.open(SHARED_PHOTOS / "coco-mini" / n).convert("RGB"), ["stop"])
                for n in STOP_SIGNS]
    return samples


def queries(samples: list[Sample]) -> list[str]:
    return sorted({w for s in samples for w in s.words if len(w) >= 4})


def score(samples: list[Sample], hits: dict[str, set[int]]) -> dict[str, dict]:
    """Per condition: recall of its words of 4+ characters; precision of every word's search
    (`hits`: the samples each word's search returned)."""
    per: dict[str, dict] = {}
    for i, sample in enumerate(samples):
        row = per.setdefault(sample.condition, {"photos": 0, "words": 0, "found": 0, "returned": 0, "right": 0})
        row["photos"] += 1
        for word in (w for w in sample.words if len(w) >= 4):
            row["words"] += 1
            row["found"] += i in hits[word]
    for query, returned in hits.items():
        for i in returned:
            row = per[samples[i].condition]
            row["returned"] += 1
            row["right"] += query in samples[i].words
    for row in per.values():
        row["recall"] = row["found"] / row["words"] if row["words"] else None
        row["precision"] = row["right"] / row["returned"] if row["returned"] else None
    return per


def _totals(per: dict[str, dict]) -> dict:
    drawn = [r for c, r in per.items() if c in CONDITIONS]
    return {"photos": sum(r["photos"] for r in drawn), "recall": sum(r["found"] for r in drawn) / sum(r["words"] for r in drawn),
            "precision": sum(r["right"] for r in drawn) / max(1, sum(r["returned"] for r in drawn))}


def _show(title: str, per: dict[str, dict], speed: bool) -> None:
    header = ["condition", "photos", "words", "recall", "precision"] + (["photos/s", "CPU ms/photo"] if speed else [])
    rows = [[c, r["photos"], r.get("words", "-"), r["recall"] if r["recall"] is not None else "-",
             r["precision"] if r["precision"] is not None else "-"] + ([r["photos_per_s"], r["cpu_ms"]] if speed else [])
            for c, r in per.items()]
    print(table(title, header, rows) + "\n", flush=True)


def reader_alone(samples: list[Sample], sides: list[int]) -> dict:
    """The reader at each detection size, on the images in memory."""
    from pixseek.model.ocr import TextReader, models_folder

    results = {}
    for side in sides:
        reader = TextReader(models_folder(), detection_side=side)
        reader.read(samples[0].image)  # warm
        texts, seconds, cpu = [], {}, {}
        for sample in samples:
            start, start_cpu = time.perf_counter(), time.process_time()
            lines = reader.read(sample.image)
            seconds.setdefault(sample.condition, []).append(time.perf_counter() - start)
            cpu.setdefault(sample.condition, []).append(time.process_time() - start_cpu)
            texts.append(" ".join(line.text for line in lines).casefold())
        per = score(samples, {q: {i for i, t in enumerate(texts) if q.casefold() in t} for q in queries(samples)})
        for condition, row in per.items():
            row["photos_per_s"] = len(seconds[condition]) / sum(seconds[condition])
            row["cpu_ms"] = 1000 * sum(cpu[condition]) / len(cpu[condition])
        per["all drawn"] = {**_totals(per), "photos_per_s": 0.0, "cpu_ms": 0.0}
        results[str(side)] = per
        _show(f"reader alone, detection at {side} px (images in memory)", per, speed=True)
    return results


def _library(home: Path):
    """A new Library in `home` on the benchmark's model."""
    from pixseek.library import Library

    shutil.rmtree(home, ignore_errors=True)
    os.environ.update(PIXSEEK_HOME=str(home), PIXSEEK_MODELS=str(bench_models()), PIXSEEK_MODEL=MODEL)
    os.environ.pop("PIXSEEK_INDEX", None)
    return Library.open(create=True)


def _timed_index(home: Path, folder: Path, read_text: bool) -> tuple[float, object]:
    library = _library(home)
    start = time.perf_counter()
    report = library.index([folder], read_text=read_text)
    return time.perf_counter() - start, (library, report)


def through_library(samples: list[Sample], work: Path) -> dict:
    """The set indexed with text on; each word searched with `says`."""
    from pixseek.engine.query import MAX_K, build_query

    folder = work / "set"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for i, sample in enumerate(samples):
        sample.image.save(folder / f"{i:04d}.jpg", quality=95)
    wall, (library, report) = _timed_index(work / "home-set", folder, read_text=True)
    print(f"set indexed with text on: {report.describe()}", flush=True)
    hits = {q: {int(Path(r.path).stem) for r in library.search(build_query([], says=q), k=MAX_K)}
            for q in queries(samples)}
    library.close()
    per = score(samples, hits)
    per["all drawn"] = _totals(per)
    _show("through Library.search(says=word), the set indexed with text on", per, speed=False)
    misses = [(s.condition, w) for i, s in enumerate(samples) for w in s.words if len(w) >= 4 and i not in hits[w]]
    wrong = [(w, samples[i].name, samples[i].condition) for w, found in hits.items() for i in found
             if w not in samples[i].words]
    print("missed (condition, word):", json.dumps(misses, ensure_ascii=False))
    print("returned without the word drawn (word, photo, condition):", json.dumps(wrong, ensure_ascii=False), "\n")
    return {"per_condition": per, "index_wall_s": wall}


def speed(work: Path, photos: int) -> dict:
    """Indexing a mix (one photo in ten with text) with text off, then on; and the text pass
    alone (the vectors indexed first, then text turned on) over the mix and over its photos
    without text (the bar's case). The reader's sessions are made before any clock starts, as
    the encoder's are in the indexing benchmarks: a process pays that once (~0.3 s)."""
    from pixseek.model.ocr import text_reader

    rng = random.Random(1)
    plain = sorted((SHARED_PHOTOS / "coco-mini").glob("*.jpg"))[-photos:]
    mix, without_text = work / "mix", work / "without-text"
    for folder in (mix, without_text):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    for i, path in enumerate(plain):
        if i % 10 == 0:
            words = rng.sample(WORDS, 2)
            _draw(Image.open(path).convert("RGB"), words, CONDITIONS["medium (28 px)"], rng).save(mix / path.name, quality=92)
        else:
            shutil.copy(path, mix / path.name)
            shutil.copy(path, without_text / path.name)
    text_reader()
    passes = {}
    for name, folder in (("mix", mix), ("without text", without_text)):
        _, (library, _) = _timed_index(work / f"home-pass-{name}", folder, read_text=False)
        start = time.perf_counter()
        report = library.index(read_text=True)  # the vectors are in: the text pass alone
        passes[name] = report.text_read / (time.perf_counter() - start)
        library.close()
    off, (library, _) = _timed_index(work / "home-off", mix, read_text=False)
    library.close()
    on, (library, _) = _timed_index(work / "home-on", mix, read_text=True)
    library.close()
    result = {"photos": len(plain), "with_text": len(plain[::10]), "index_text_off_per_s": len(plain) / off,
              "index_text_on_per_s": len(plain) / on, "ratio_on_off": off / on,
              "text_pass_per_s": passes["mix"], "text_pass_without_text_per_s": passes["without text"]}
    print(table(f"speed: {len(plain)} COCO photos, one in ten with words drawn (same run)", ["measure", "value"],
                [[k, v] for k, v in result.items()]) + "\n", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-condition", type=int, default=12)
    parser.add_argument("--plain", type=int, default=40)
    parser.add_argument("--mix", type=int, default=100, help="photos in the speed mix (one in ten with text)")
    parser.add_argument("--sides", default="", help="run the reader alone at these detection sizes instead")
    parser.add_argument("--speed-only", action="store_true", help="only the speed figures (results/ocr_words_speed.json)")
    args = parser.parse_args()
    samples = build_set(args.per_condition, args.plain)
    if args.sides:
        save("ocr_words_sides", {"sides": reader_alone(samples, [int(s) for s in args.sides.split(",")])}, "")
        return
    work = CACHE / "ocr_words"
    if args.speed_only:
        save("ocr_words_speed", {"speed": speed(work, args.mix)}, "")
        return
    found = through_library(samples, work)
    save("ocr_words", {"search": found, "speed": speed(work, args.mix)}, "")


if __name__ == "__main__":
    main()
