"""Photo metadata, places, filters and date sorting, on photos with EXIF made in the tests."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from conftest import TEST_MODEL, make_photo
from exif_photos import Shot, exif_bytes, shot_photo
from pixseek.errors import QueryError
from pixseek.filters import SearchFilters
from pixseek.library import Library
from pixseek.metadata import local_zone_offset_min, read_metadata
from pixseek.places import fold, name_places, names_match

LISBON, TOKYO, NEW_YORK = (38.7169, -9.1399), (35.6895, 139.6917), (40.7128, -74.0060)
# Instants in UTC: tokyo 03:00, lisbon 09:00, new_york 14:00 on 1 June; the wall clocks say otherwise.
SHOTS = {
    "lisbon.jpg": Shot("2023:06:01 10:00:00", "+01:00", "Google", "Pixel 7", "Pixel 7 back camera", LISBON),
    "tokyo.jpg": Shot("2023:06:01 12:00:00", "+09:00", "Canon", "Canon EOS R5", "RF24-105mm", TOKYO),
    "new_york.jpg": Shot("2023:06:01 10:00:00", "-04:00", "Apple", "iPhone 14", None, NEW_YORK),
    "midnight.jpg": Shot("2023:07:01 00:30:00", "+02:00", "Google", "Pixel 7"),  # July locally, June in UTC
    "old.jpg": Shot("2021:12:24 18:30:00", None, "NIKON CORPORATION", "NIKON D750"),  # no offset
    "rotated.jpg": Shot("2022:03:05 08:00:00", "+00:00", orientation=6),
}


@pytest.fixture
def shots(tmp_path) -> Path:
    root = tmp_path / "photos"
    for seed, (name, shot) in enumerate(SHOTS.items()):
        shot_photo(root / name, seed + 10, shot)
    make_photo(root / "plain.png", seed=40)  # no metadata at all
    os.utime(root / "plain.png", ns=(1_600_000_000_000_000_000,) * 2)  # 2020-09-13 12:26:40 UTC
    return root


@pytest.fixture
def library(pixseek_home, tmp_path, shots):
    with Library.open(tmp_path / "index", create=True) as lib:
        report = lib.index([shots])
        assert report.indexed == len(SHOTS) + 1 and not report.skipped
        yield lib


def names(results) -> list[str]:
    return [os.path.basename(r.path) for r in results]


def search(library, **filters) -> set[str]:
    return set(names(library.search("a photo", k=50, filters=SearchFilters.parse(**filters))))


def test_read_metadata_takes_time_offset_camera_lens_position_and_upright_size(shots):
    data = (shots / "tokyo.jpg").read_bytes()
    m = read_metadata(data, str(shots / "tokyo.jpg"), 0)
    assert (m.time_source, m.utc_offset_min) == ("exif", 540)
    assert m.local_time == datetime(2023, 6, 1, 12, 0)
    assert m.taken_at == (datetime(2023, 6, 1, 3, 0) - datetime(1970, 1, 1)).total_seconds()
    assert (m.camera, m.lens) == ("Canon EOS R5", "RF24-105mm")
    assert m.latitude == pytest.approx(TOKYO[0], abs=1e-4) and m.longitude == pytest.approx(TOKYO[1], abs=1e-4)
    assert (m.width, m.height) == (320, 240)
    rotated = read_metadata((shots / "rotated.jpg").read_bytes(), "rotated.jpg", 0)
    assert (rotated.width, rotated.height) == (240, 320)  # orientation 6: stored sideways
    assert read_metadata((shots / "old.jpg").read_bytes(), "x.jpg", 0).camera == "NIKON D750"
    assert read_metadata((shots / "lisbon.jpg").read_bytes(), "x.jpg", 0).camera == "Google Pixel 7"


def test_time_without_offset_assumes_this_computers_zone_and_says_so(shots):
    m = read_metadata((shots / "old.jpg").read_bytes(), "old.jpg", 0)
    assert m.time_source == "exif-local" and m.local_time == datetime(2021, 12, 24, 18, 30)
    assert m.taken_at == datetime(2021, 12, 24, 18, 30).timestamp()  # naive = this computer's zone
    assert m.utc_offset_min == local_zone_offset_min(datetime(2021, 12, 24, 18, 30))


def test_gps_clock_gives_the_offset_when_exif_has_none(tmp_path):
    from PIL import Image

    path = shot_photo(tmp_path / "gps.jpg", 1, Shot("2023:06:01 12:00:00", None, gps=TOKYO))
    with Image.open(path) as image:
        exif = image.getexif()
        gps = exif.get_ifd(0x8825)
        gps[29], gps[7] = "2023:06:01", (3.0, 0.0, 12.0)  # UTC
        image.save(path, exif=exif.tobytes())
    m = read_metadata(path.read_bytes(), str(path), 0)
    assert (m.time_source, m.utc_offset_min) == ("exif", 540)


def test_no_metadata_and_damaged_metadata_fall_back_to_the_file_time(shots, tmp_path):
    plain = read_metadata((shots / "plain.png").read_bytes(), "plain.png", 1_600_000_000_000_000_000)
    assert plain.time_source == "file" and plain.taken_at == 1_600_000_000.0 and plain.camera is None
    assert read_metadata(b"not an image at all", "x.jpg", 5_000_000_000).taken_at == 5.0
    broken = bytearray((shots / "lisbon.jpg").read_bytes())
    start = broken.index(b"2023:06:01")
    broken[start:start + 19] = b"0000:00:00 00:00:00"  # what some cameras write without a clock
    m = read_metadata(bytes(broken), "x.jpg", 7_000_000_000)
    assert m.time_source == "file" and m.camera == "Google Pixel 7"  # the other fields survive


def test_places_are_named_offline():
    lisbon, tokyo, sea = name_places([LISBON, TOKYO, (0.0, -30.0)])
    assert (lisbon.region, lisbon.country, lisbon.country_code) == ("Lisbon", "Portugal", "PT")
    assert all(names_match(fold(words), *lisbon.folded_names()) for words in ("lisbon", "PORTUGAL", "pt"))
    assert tokyo.city == "Tokyo" and tokyo.describe() == "Tokyo, Japan"
    assert sea is None  # the middle of the Atlantic is nowhere


def test_results_carry_metadata_and_json_has_it(library, shots):
    by_name = {os.path.basename(r.path): r for r in library.search("a photo", k=50)}
    lisbon = by_name["lisbon.jpg"]
    assert lisbon.metadata.camera == "Google Pixel 7" and lisbon.place.country == "Portugal"
    data = lisbon.to_dict()
    assert data["taken"] == "2023-06-01T10:00:00+01:00" and data["place"]["country_code"] == "PT"
    assert json.loads(json.dumps(by_name["plain.png"].to_dict()))["time_source"] == "file"
    assert by_name["plain.png"].place is None


def test_date_filters_use_the_local_calendar(library):
    assert search(library, after="2023-06", before="2023-07") == {"lisbon.jpg", "tokyo.jpg", "new_york.jpg"}
    assert search(library, after="2023-07") == {"midnight.jpg"}  # 00:30 on 1 July where it was taken
    assert search(library, year="2021") == {"old.jpg"}
    assert search(library, year=2020) == {"plain.png"}  # file time
    assert search(library, after="2023-06-01 10:00", before="2023-06-01 10:01") == {"lisbon.jpg", "new_york.jpg"}
    assert search(library, before="2021") == {"plain.png"}


def test_camera_place_and_near_filters(library):
    assert search(library, camera="pixel 7") == {"lisbon.jpg", "midnight.jpg"}
    assert search(library, camera="Canon") == {"tokyo.jpg"}
    assert search(library, camera="nikon") == {"old.jpg"}
    assert search(library, place="lisbon") == {"lisbon.jpg"}
    assert search(library, place="japan") == {"tokyo.jpg"}
    assert search(library, place="nowhere at all") == set()
    assert search(library, near="38.72,-9.14", radius="2km") == {"lisbon.jpg"}
    assert search(library, near="38.72,-9.14", radius="100m") == set()  # 360 m away
    assert search(library, near="35.0,139.0", radius="120 km") == {"tokyo.jpg"}
    assert search(library, camera="pixel", year=2023, after="2023-06-15") == {"midnight.jpg"}


def test_folder_filter_combines_with_metadata(library, shots):
    inner = shots / "inner"
    inner.mkdir()
    shutil.copy(shots / "tokyo.jpg", inner / "tokyo copy.jpg")
    library.index([shots])
    assert search(library, folder=str(inner)) == {"tokyo copy.jpg"}
    assert search(library, folder=str(shots), camera="canon") == {"tokyo.jpg", "tokyo copy.jpg"}
    assert search(library, folder=str(inner), camera="pixel") == set()


def test_sort_by_date_follows_the_instants_across_time_zones(library):
    june = SearchFilters.parse(after="2023-06-01", before="2023-06-02")
    results = library.search("a photo", k=10, filters=june, sort="date")
    # Tokyo's noon is 03:00 UTC, Lisbon's ten o'clock 09:00 UTC, New York's ten o'clock 14:00 UTC.
    assert names(results) == ["tokyo.jpg", "lisbon.jpg", "new_york.jpg"]
    everything = library.search("a photo", k=50, sort="date")
    instants = [r.metadata.taken_at for r in everything]
    assert instants == sorted(instants) and names(everything)[0] == "plain.png"
    assert names(everything)[-1] == "midnight.jpg"


def test_filtered_search_matches_brute_force_over_stored_vectors(library):
    """Filtering happens inside the vector search, so the top k of a selective filter is the
    same as scoring every matching photo."""
    query = "a red car"
    wanted = SearchFilters.parse(year=2023)
    got = library.search(query, k=3, filters=wanted)
    q = library.query_vector(library_query(query))
    matching = [r for r in library.search(query, k=50) if r.metadata.local_time.year == 2023]
    expected = sorted(matching, key=lambda r: -float(np.dot(q, library._index.catalog.vectors_for([r.id])[0])))[:3]
    assert [r.path for r in got] == [r.path for r in expected]


def library_query(text):
    from pixseek.engine.query import parse_query

    return parse_query([text])


def test_bad_filter_words_are_one_clear_error():
    for kwargs, words in (({"after": "June"}, "is not a date"), ({"year": "21"}, "four digits"),
                          ({"near": "lisbon"}, "is not LAT,LON"), ({"near": "91,0"}, "off the map"),
                          ({"near": "1,1", "radius": "far"}, "not a distance"),
                          ({"radius": "5km"}, "needs a position"),
                          ({"after": "2023-09", "before": "2023-06"}, "no date is both")):
        with pytest.raises(QueryError, match=words):
            SearchFilters.parse(**kwargs)
    assert SearchFilters.parse(after="", camera="  ") == SearchFilters()  # empty fields are not filters


def test_cli_filters_sort_and_json(pixseek_home, tmp_path, shots):
    from test_cli import pixseek

    index = tmp_path / "cli-index"
    assert pixseek("index", "--index", index, shots, "-q").returncode == 0
    out = pixseek("search", "--index", index, "a photo", "--after", "2023-06", "--before", "2023-07",
                  "--sort", "date", "--json")
    found = json.loads(out.stdout)
    assert [os.path.basename(h["path"]) for h in found] == ["tokyo.jpg", "lisbon.jpg", "new_york.jpg"]
    assert found[0]["camera"] == "Canon EOS R5" and found[0]["place"]["city"] == "Tokyo"
    text = pixseek("search", "--index", index, "a photo", "--place", "Lisbon")
    assert text.returncode == 0 and [line.split("\t")[1] for line in text.stdout.splitlines()] == [str(shots / "lisbon.jpg")]
    nothing = pixseek("search", "--index", index, "a photo", "--camera", "Leica")
    assert "no results matching camera: Leica" in nothing.stderr
    bad = pixseek("search", "--index", index, "a photo", "--after", "yesterday")
    assert bad.returncode == 1 and bad.stderr.startswith("pixseek: error: after 'yesterday' is not a date")


FIXTURE = Path(__file__).parent / "fixtures" / "index-v1"
FIXTURE_ROOT = "/tmp/pixseek-index-v1"  # where the release that wrote it found the photos


def _move_fixture(tmp_path) -> tuple[Path, Path]:
    """The schema 1 index and its photos, moved to `tmp_path` as a person moves a folder: the
    catalog's paths follow (the only change made to it), files keep their recorded times."""
    root = tmp_path / "v1"
    shutil.copytree(FIXTURE, root)
    db = sqlite3.connect(root / "index" / "catalog.sqlite3")
    old, new = FIXTURE_ROOT.encode(), str(root).encode()
    with db:
        for table in ("files", "roots"):
            db.execute(f"UPDATE {table} SET path = CAST(? || substr(path, ?) AS BLOB)", (new, len(old) + 1))
    for path, mtime in db.execute("SELECT path, mtime_ns FROM files").fetchall():
        os.utime(os.fsdecode(path), ns=(mtime, mtime))
    db.close()
    return root / "index", root / "photos"


def _vectors(catalog_path: Path) -> dict[bytes, bytes]:
    db = sqlite3.connect(catalog_path)
    try:
        return dict(db.execute("SELECT f.path, v.vector FROM files f JOIN vectors v ON v.id = f.id"))
    finally:
        db.close()


def test_index_from_the_previous_release_gains_metadata_without_embedding_again(pixseek_home, tmp_path,
                                                                                  tiny_bundle_dir):
    index, photos = _move_fixture(tmp_path)
    before = _vectors(index / "catalog.sqlite3")
    assert len(before) == 5
    with Library.open(index) as library:  # opening adds the (empty) metadata tables
        assert library._index.catalog.meta("schema_version") == "2"
        assert library.changes().undescribed == 5
        assert library.search("x", k=10, filters=SearchFilters.parse(year=2023)) == []  # not read yet
    shutil.rmtree(pixseek_home / "models")  # no model at all: indexing must not need one
    with Library.open(index, create=True) as library:
        report = library.index()
        assert (report.indexed, report.reused, report.described, report.unchanged) == (0, 0, 5, 5)
        assert library.status().consistent
    assert _vectors(index / "catalog.sqlite3") == before  # every vector kept, byte for byte
    shutil.copytree(tiny_bundle_dir, pixseek_home / "models" / TEST_MODEL)  # searching by words needs it
    with Library.open(index) as library:
        june = library.search("x", k=10, filters=SearchFilters.parse(after="2023-06", before="2023-07"), sort="date")
        assert names(june) == ["tokyo.jpg", "lisbon.jpg", "lisbon.jpg"]
        assert {r.place.country for r in june} == {"Japan", "Portugal"}
        assert names(library.search("x", k=10, filters=SearchFilters.parse(camera="nikon"))) == ["no-offset.jpg"]
        assert library.index().described == 0  # read once


def test_exif_helper_writes_what_pillow_reads_back():
    """The test photos' EXIF is real EXIF: Pillow reads back what the helper wrote."""
    from PIL import Image

    exif = Image.Exif()
    exif.load(exif_bytes(SHOTS["tokyo.jpg"]))
    assert exif.get_ifd(0x8769)[0x9011] == "+09:00" and exif[0x0110] == "Canon EOS R5"
