"""Faces in a photo: SCRFD finds them (box, five landmarks, score), ArcFace describes each one
(a 512-d identity vector from the face cut out and aligned by its landmarks).

A *face pack* is the two ONNX graphs InsightFace publishes together (e.g. `buffalo_l`: SCRFD
det_10g and ArcFace w600k_r50), installed in `<models>/faces/<name>/` as `detection.onnx`,
`recognition.onnx` and `face-pack.json` (its id, licence, and the thresholds published for it:
model/faces_packs.py). The graphs are checked on install for what SCRFD and ArcFace take and
give (`check_graphs`): one image input; nine outputs, scores, boxes and landmarks at strides 8,
16 and 32 with two anchors a place; a 112x112 face in, one vector out.

The pipeline is pixseek's own (no insightface package: it downloads at run time and pulls in
OpenCV builds), written from the models' published pre- and post-processing: the photo scaled
to fit the pack's detection side (top-left, zero padded to a multiple of 32, or to the square a
graph fixes) in RGB normalised (x - 127.5) / 128, boxes and landmarks decoded from anchor-relative
distances, overlapping boxes merged (NMS 0.4);
each face warped to ArcFace's 112x112 template by the similarity transform that maps its five
landmarks onto the template's (least squares, Umeyama), in RGB normalised (x - 127.5) / 127.5
(NCHW float), or as uint8 NHWC for a recogniser that takes that (the normalisation in its graph).
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pixseek import paths
from pixseek.errors import PixseekError
from pixseek.model.bundle import first_line

if TYPE_CHECKING:  # imported where used: commands that find no faces do not pay for them
    import numpy as np
    from PIL import Image

PACK_CONFIG = "face-pack.json"
SIDE_ENV = "PIXSEEK_FACE_SIDE"
DETECTION_FILE = "detection.onnx"
RECOGNITION_FILE = "recognition.onnx"
DETECTION_SIDE = 640  # the longest side SCRFD sees, unless its pack publishes another (PIXSEEK_FACE_SIDE: a multiple of 32)
STRIDES = (8, 16, 32)
ANCHORS = 2  # per place, per stride (SCRFD's published graphs)
NMS_OVERLAP = 0.4
ALIGNED = 112  # ArcFace's input side
# ArcFace's template: where the eyes, nose tip and mouth corners sit in its 112x112 input.
TEMPLATE = ((38.2946, 51.6963), (73.5318, 51.5014), (56.0252, 71.7366), (41.5493, 92.3655), (70.7299, 92.2041))
GOOD_SIDE = 80  # a face at least this many pixels across has full quality on size
# What a face seen from the side keeps of its quality: half. At 0, a face turned 45 degrees or more
# was never grouped (8 of the 42 faces of 80 px buffalo_s finds in tests/fixtures/real_faces.json);
# its recogniser put each of them, changed 8 ways, into one person, and no two faces together.
SIDE_VIEW = 0.5
MAX_FACES = 50  # the largest faces described in one photo (a crowd costs a bounded time)


class FaceModelMissing(PixseekError):
    """No face pack is installed (or the one named is not)."""


@dataclass(frozen=True)
class PackConfig:
    """What `face-pack.json` says of a pack."""

    name: str
    model_id: str  # what each photo's faces record: a new id makes every photo's faces found again
    licence: str
    match_threshold: float  # cosine of two faces of one person, at least (grouping)
    min_score: float  # detection score a face needs
    detection_side: int = DETECTION_SIDE  # the longest side the detector sees, unless PIXSEEK_FACE_SIDE says

    @classmethod
    def read(cls, folder: Path) -> PackConfig:
        try:
            raw = json.loads((folder / PACK_CONFIG).read_text())
            return cls(str(raw["name"]), str(raw["model_id"]), str(raw["licence"]), float(raw["match_threshold"]),
                       float(raw["min_score"]), int(raw.get("detection_side", DETECTION_SIDE)))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise PixseekError(f"the face model at {folder} is damaged ({first_line(exc)}); install it again") from None

    def write(self, folder: Path) -> None:
        (folder / PACK_CONFIG).write_text(json.dumps(self.__dict__, indent=1))


@dataclass(frozen=True)
class Face:
    """One face found in a photo, in the photo's pixels (upright)."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    landmarks: tuple[tuple[float, float], ...]  # left eye, right eye, nose tip, mouth left, mouth right
    score: float  # the detector's, 0..1
    quality: float  # 0..1: score, size and how frontal (see `quality`)
    embedding: np.ndarray  # float32, unit length


def packs_dir() -> Path:
    return paths.models_dir() / "faces"


def installed_packs() -> list[Path]:
    """Folders of the face packs installed, by name."""
    root = packs_dir()
    try:
        return sorted(p for p in root.iterdir() if (p / PACK_CONFIG).is_file())
    except OSError:
        return []


def find_pack(name: str | None = None) -> Path:
    """The pack named `name`, else $PIXSEEK_FACE_MODEL's, else the only (or first) one installed."""
    name = name or os.environ.get("PIXSEEK_FACE_MODEL") or None
    packs = installed_packs()
    if name is not None:
        folder = Path(name).expanduser()
        if (folder / PACK_CONFIG).is_file():
            return folder
        found = [p for p in packs if p.name == name]
        if not found:
            raise FaceModelMissing(f"no face model named {name!r} is installed")
        return found[0]
    if not packs:
        raise FaceModelMissing("no face model is installed")
    return packs[0]


def face_model() -> FaceModel:
    """The installed pack's model (see `find_pack`), loaded once per pack, detection size and install."""
    folder = find_pack()
    try:
        installed = (folder / PACK_CONFIG).stat().st_mtime_ns
    except OSError:
        installed = 0
    return _loaded(str(folder.resolve()), os.environ.get(SIDE_ENV), installed)


@functools.lru_cache(maxsize=2)
def _loaded(folder: str, side: str | None, installed: int) -> FaceModel:
    from pixseek.model.encoder import side_by_side  # why: NumPy and Pillow load with a face model only

    return FaceModel(Path(folder), threads=side_by_side()[1])  # the face pass reads photos side by side


def detection_side(published: int = DETECTION_SIDE) -> int:
    """$PIXSEEK_FACE_SIDE, else the side the pack publishes."""
    raw = os.environ.get(SIDE_ENV, str(published))
    try:
        side = int(raw)
    except ValueError:
        side = 0
    if side < 64 or side % 32:
        raise PixseekError(f"PIXSEEK_FACE_SIDE must be a multiple of 32 from 64, not {raw!r}")
    return side


def check_graphs(detection: Path, recognition: Path) -> None:
    """Refuse graphs that are not SCRFD with landmarks and an ArcFace-style recogniser."""
    import onnx

    try:
        det = onnx.load(str(detection), load_external_data=False).graph
        rec = onnx.load(str(recognition), load_external_data=False).graph
    except Exception as exc:  # onnx raises its own DecodeError and OSError alike
        raise PixseekError(f"not an ONNX face model ({first_line(exc)})") from None
    if len([i for i in det.input if i.name not in {t.name for t in det.initializer}]) != 1 or len(det.output) != 9:
        raise PixseekError(f"{detection.name} is not an SCRFD detector with landmarks (one image in, 9 outputs: "
                           f"scores, boxes and landmarks at 3 strides); it has {len(det.output)} outputs")
    dims = [d.dim_value for d in rec.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[1:] not in ([3, ALIGNED, ALIGNED], [ALIGNED, ALIGNED, 3]) or len(rec.output) != 1:
        raise PixseekError(f"{recognition.name} is not a face recogniser taking {ALIGNED}x{ALIGNED} RGB faces "
                           f"(it takes {dims})")


class FaceModel:
    """Finds and describes the faces in upright RGB photos; `name` is stored with each photo's
    faces, so another pack or detection size makes the index find faces again."""

    def __init__(self, folder: Path, threads: int | None = None):
        # why: ONNX Runtime loads only where faces are found
        from pixseek.model.encoder import usable_cores
        from pixseek.model.sessions import CPU_ONLY, create_session, runtime

        runtime()  # telemetry off before any session
        self.config = PackConfig.read(folder)
        self.side = detection_side(self.config.detection_side)
        self.name = f"{self.config.model_id} det{self.side}"
        threads = threads or usable_cores()
        try:
            self._detector = create_session(folder / DETECTION_FILE, CPU_ONLY, threads, spin=False)
            self._recogniser = create_session(folder / RECOGNITION_FILE, CPU_ONLY, threads, spin=False)
        except Exception as exc:  # ONNX Runtime's own errors: a damaged or missing file
            raise PixseekError(f"cannot load the face model at {folder} ({first_line(exc)}); install it again") from None
        det_input = self._detector.get_inputs()[0]
        self._det_input = det_input.name
        # a graph that fixes its input's height and width gets the square it wants; the others a
        # canvas the photo's shape (SCRFD is convolutional: a 4:3 photo costs 3/4 of the square)
        self._det_square = all(isinstance(d, int) and d > 0 for d in det_input.shape[2:])
        rec_input = self._recogniser.get_inputs()[0]
        self._rec_input = rec_input.name
        # Immich's newer exports take uint8 NHWC faces, the normalisation folded into the graph
        self._rec_raw = rec_input.type == "tensor(uint8)" or rec_input.shape[-1] == 3

    def find(self, image: Image.Image) -> list[Face]:
        """The faces in `image` (upright RGB) scoring at least the pack's min_score, largest first."""
        found = self.detect(image)
        if not found:
            return []
        embeddings = self.describe(image, [landmarks for _, landmarks, _ in found])
        return [Face(box, landmarks, score, quality(box, landmarks, score), vector)
                for (box, landmarks, score), vector in zip(found, embeddings)]

    def detect(self, image: Image.Image) -> list[tuple[tuple[float, float, float, float],
                                                       tuple[tuple[float, float], ...], float]]:
        """(box, landmarks, score) of each face, largest first, at most MAX_FACES."""
        import numpy as np

        scale = self.side / max(image.width, image.height)
        width, height = max(1, round(image.width * scale)), max(1, round(image.height * scale))
        size = (self.side, self.side) if self._det_square else (-(-width // STRIDES[-1]) * STRIDES[-1],
                                                                   -(-height // STRIDES[-1]) * STRIDES[-1])
        canvas = np.zeros((size[1], size[0], 3), dtype=np.float32)
        canvas[:height, :width] = np.asarray(image.resize((width, height), resample=2), dtype=np.float32)  # bilinear
        blob = ((canvas - 127.5) / 128.0).transpose(2, 0, 1)[None]
        outputs = self._detector.run(None, {self._det_input: blob})
        boxes, points, scores = decode(outputs, size, self.config.min_score)
        keep = nms(boxes, scores, NMS_OVERLAP)
        boxes, points, scores = boxes[keep] / scale, points[keep] / scale, scores[keep]
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        order = np.argsort(-area, kind="stable")[:MAX_FACES]
        limit = np.array([image.width, image.height, image.width, image.height], dtype=np.float32)
        return [(tuple(float(v) for v in np.clip(boxes[i], 0, limit)),  # type: ignore[misc]
                 tuple((float(x), float(y)) for x, y in points[i]), float(scores[i])) for i in order]

    def describe(self, image: Image.Image, landmarks: list[tuple[tuple[float, float], ...]]) -> np.ndarray:
        """The unit identity vector of each face, cut out by its landmarks."""
        import numpy as np

        crops = np.stack([np.asarray(aligned(image, points)) for points in landmarks])
        batch = crops if self._rec_raw else ((crops.astype(np.float32) - 127.5) / 127.5).transpose(0, 3, 1, 2)
        vectors = np.concatenate([self._recogniser.run(None, {self._rec_input: batch[i:i + 1]})[0]
                                  for i in range(len(batch))])  # one by one: some exports fix the batch at 1
        vectors = vectors.reshape(len(batch), -1).astype(np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: np.ndarray = vectors / np.maximum(norms, 1e-12)
        return unit


def decode(outputs: list[Any], size: tuple[int, int], min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes [N,4], landmarks [N,5,2] and scores [N] in the detector's input pixels (`size`: its
    width and height), from SCRFD's nine outputs (scores, box distances, landmark offsets; each at
    strides 8, 16, 32: `by_level`)."""
    import numpy as np

    levels = by_level(outputs)
    boxes, points, scores = [], [], []
    for stride, (score, box, kps) in zip(STRIDES, levels):
        rows, columns = np.mgrid[:size[1] // stride, :size[0] // stride]
        grid = np.stack([columns, rows], axis=-1).reshape(-1, 2).astype(np.float32) * stride  # (x, y) a place
        centres = np.repeat(grid, ANCHORS, axis=0)
        if len(centres) != len(score):
            raise PixseekError(f"the face detector gave {len(score)} scores at stride {stride} for a "
                               f"{size[0]}x{size[1]} px input, not {len(centres)}: not an SCRFD graph")
        keep = score.reshape(-1) >= min_score
        c, d, k = centres[keep], box.reshape(-1, 4)[keep] * stride, kps.reshape(-1, 10)[keep] * stride
        boxes.append(np.concatenate([c - d[:, :2], c + d[:, 2:]], axis=1))
        points.append(c[:, None, :] + k.reshape(-1, 5, 2))
        scores.append(score.reshape(-1)[keep])
    return np.concatenate(boxes), np.concatenate(points), np.concatenate(scores)


def by_level(outputs: list[Any]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(scores, box distances, landmark offsets) at each stride, finest first, whatever order the
    export gives its nine outputs in (InsightFace's det_10g: the scores of the 3 strides, then
    the boxes, then the landmarks; other exports interleave them): told apart by their last axis
    (1, 4, 10 numbers a place) and their length (the finest stride has the most places)."""
    import numpy as np

    kinds: dict[int, list[np.ndarray]] = {1: [], 4: [], 10: []}
    for output in outputs:
        array = np.asarray(output, dtype=np.float32)
        array = array[0] if array.ndim == 3 else array  # a leading batch axis of 1, where the export has one
        if array.ndim != 2 or array.shape[1] not in kinds:
            raise PixseekError(f"the face detector gave an output of shape {list(np.shape(output))}: not an SCRFD graph")
        kinds[array.shape[1]].append(array)
    if any(len(found) != len(STRIDES) for found in kinds.values()):
        raise PixseekError("the face detector's outputs are not scores, boxes and landmarks at 3 strides: "
                           "not an SCRFD graph with landmarks")
    ordered = [sorted(kinds[width], key=len, reverse=True) for width in (1, 4, 10)]
    return list(zip(*ordered))


def nms(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> list[int]:
    """Indices of the boxes kept, best first: each drops the later ones it overlaps by more than
    `overlap` (intersection over union)."""
    import numpy as np

    order = list(np.argsort(-scores, kind="stable"))
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    kept: list[int] = []
    while order:
        best, rest = order[0], np.array(order[1:], dtype=np.int64)
        kept.append(int(best))
        if not len(rest):
            break
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        union = area[best] + area[rest] - inter
        order = list(rest[inter <= overlap * np.maximum(union, 1e-9)])
    return kept


def similarity(points: np.ndarray, template: np.ndarray) -> np.ndarray:
    """The 2x3 similarity transform (scale, rotation, shift) mapping `points` onto `template`
    with the least squared error (Umeyama's method, as InsightFace aligns faces)."""
    import numpy as np

    mean_p, mean_t = points.mean(axis=0), template.mean(axis=0)
    p, t = points - mean_p, template - mean_t
    cov = t.T @ p / len(points)
    u, s, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    scale = float(np.trace(np.diag(s) @ sign) / max(p.var(axis=0).sum(), 1e-12))
    matrix = np.zeros((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mean_t - scale * rotation @ mean_p
    return matrix


def aligned(image: Image.Image, landmarks: tuple[tuple[float, float], ...]) -> Image.Image:
    """The face cut out of `image` as ArcFace's 112x112 template places it."""
    import numpy as np
    from PIL import Image

    forward = np.vstack([similarity(np.array(landmarks, dtype=np.float64), np.array(TEMPLATE)), [0, 0, 1]])
    inverse = np.linalg.inv(forward)  # PIL maps each output pixel back into the photo
    return image.transform((ALIGNED, ALIGNED), Image.Transform.AFFINE, tuple(inverse[:2].reshape(-1)),
                           resample=Image.Resampling.BILINEAR, fillcolor=(0, 0, 0))


def quality(box: tuple[float, float, float, float], landmarks: tuple[tuple[float, float], ...], score: float) -> float:
    """0..1: the detector's score, times the share of GOOD_SIDE the face's smaller side reaches,
    times how frontal it is (the nose tip between the eyes: 1; over one of them or beyond, a face
    seen from the side: SIDE_VIEW), measured across the face's own up-down line (the eyes' middle
    to the mouth's), so that a tilted head counts as frontal as an upright one."""
    side = min(box[2] - box[0], box[3] - box[1])
    (lx, ly), (rx, ry), (nx, ny), (ax, ay), (bx, by) = landmarks[:5]
    down_x, down_y = (ax + bx - lx - rx) / 2, (ay + by - ly - ry) / 2  # eyes' middle to the mouth's
    length = (down_x ** 2 + down_y ** 2) ** 0.5 or 1.0

    def across(x: float, y: float) -> float:  # the point's distance across the face from the eyes' middle
        return ((x - (lx + rx) / 2) * down_y - (y - (ly + ry) / 2) * down_x) / length

    half = abs(across(rx, ry) - across(lx, ly)) / 2
    frontal = 1 - min(1.0, abs(across(nx, ny)) / half) if half > 0 else 0.0
    turned = SIDE_VIEW + (1 - SIDE_VIEW) * frontal
    return round(max(0.0, min(1.0, score)) * min(1.0, max(side, 0) / GOOD_SIDE) * turned, 4)
