"""What a video's container tags become (video/info.py): the phone's own clock and offset, UTC
creation times, ISO 6709 positions, make and model; and what falls back to the file's time."""

from __future__ import annotations

from datetime import datetime, timezone

from pixseek.video.info import video_metadata

MTIME = 1_700_000_000 * 10**9


def test_apples_creation_date_keeps_the_phones_wall_clock_and_offset():
    m = video_metadata({"com.apple.quicktime.creationdate": "2023-06-01T21:15:03+0200",
                        "creation_time": "2023-06-01T19:15:04.000000Z",
                        "com.apple.quicktime.location.iso6709": "+38.7169-009.1399+010.000/",
                        "com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 15 Pro"},
                       1920, 1080, MTIME)
    assert (m.local_time, m.utc_offset_min, m.time_source) == (datetime(2023, 6, 1, 21, 15, 3), 120, "exif")
    assert (m.latitude, m.longitude) == (38.7169, -9.1399) and m.camera == "Apple iPhone 15 Pro"


def test_a_utc_creation_time_and_androids_tags():
    m = video_metadata({"creation_time": "2022-01-02T03:04:05.123456789Z", "location": "-33.8688+151.2093/",
                        "com.android.manufacturer": "Google", "com.android.model": "Pixel 7"}, 1080, 1920, MTIME)
    assert m.taken_at == datetime(2022, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc).timestamp()
    assert m.time_source == "exif-local" and (m.latitude, m.longitude) == (-33.8688, 151.2093)
    assert m.camera == "Google Pixel 7" and (m.width, m.height) == (1080, 1920)


def test_what_a_container_lacks_or_garbles_falls_back():
    for tags in ({}, {"creation_time": "1970-01-01T00:00:00.000000Z"}, {"creation_time": "yesterday"},
                 {"location": "+95.0+200.0/"}, {"location": "+00.0000+000.0000/"}, {"make": "   "}):
        m = video_metadata(tags, 640, 480, MTIME)
        assert m.time_source == "file" or "location" in tags or "make" in tags
        assert m.latitude is None and m.longitude is None and m.make is None
    assert video_metadata({}, 640, 480, MTIME).taken_at == MTIME / 1e9
