"""Faces in video moments with the stand-in face pack (tests/face_standins.py): found in the frames
the video pass decodes, grouped into the same people as photos' faces, found by a person search
at the right second, kept through names, a face model change, a copy and a crash; forgotten."""

from __future__ import annotations

import shutil
import sqlite3
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from face_standins import draw_face, install_stand_in, photo_with_faces
from pixseek import Library
from pixseek.engine.query import build_query, image_term, text_term
from pixseek.errors import QueryError
from pixseek.filters import SearchFilters
from pixseek.signals.video import VideoRows

ROOT = Path(__file__).resolve().parents[1]
BACKGROUNDS = sorted((ROOT / "demo" / "photos").glob("*.jpg"))
SIZE = (640, 480)  # the stand-in detector's side: the moments reach it unscaled
ANNA, BEN = 1, 2
# Each scene of the clip: the (centre, person) of its faces; two seconds each.
SCENES = [[], [((320, 240), ANNA)], [((160, 160), BEN)], [((160, 160), ANNA), ((480, 320), BEN)]]
SECONDS = 2.0
VIDEO = SearchFilters.parse(media="video")


def face_clip(path: Path, scenes: list, seconds: float = SECONDS, fps: int = 6) -> list[tuple[float, float]]:
    """An H.264 clip of still scenes with stand-in faces drawn on the demo photos (a keyframe at
    each scene's start); each scene's (start, end) in seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    spans = []
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.time_base = stream.codec_context.time_base = Fraction(1, fps)
        stream.codec_context.gop_size = int(seconds * fps)
        stream.options = {"preset": "ultrafast", "crf": "10"}
        frames = int(seconds * fps)
        for n, faces in enumerate(scenes):
            picture = Image.open(BACKGROUNDS[n % len(BACKGROUNDS)]).convert("RGB").resize(SIZE)
            for centre, person in faces:
                draw_face(picture, centre, person)
            spans.append((n * seconds, (n + 1) * seconds))
            for f in range(frames):
                frame = av.VideoFrame.from_ndarray(np.asarray(picture), format="rgb24")
                frame.pts = n * frames + f
                container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return spans


@pytest.fixture
def pack(pixseek_home, tmp_path) -> Path:
    return install_stand_in(tmp_path / "packs")


@pytest.fixture
def library_folder(tmp_path) -> Path:
    folder = tmp_path / "library"
    photo_with_faces(folder / "anna.jpg", [((320, 240), ANNA)], background=BACKGROUNDS[-1])
    photo_with_faces(folder / "ben.jpg", [((320, 240), BEN)], background=BACKGROUNDS[-2])
    face_clip(folder / "clips" / "party.mp4", SCENES)
    return folder


def named(library: Library) -> None:
    """Anna and Ben named by their photos' faces."""
    for name, photo in (("Anna", "anna.jpg"), ("Ben", "ben.jpg")):
        photo_id = next(r.id for r in library.search(build_query([text_term("x")]), k=10) if r.path.endswith(photo))
        person = library.faces(photo_id)[0].person
        assert person is not None
        library.name_person(person, name)


def video_faces(library: Library) -> list[tuple[str, float, str | None]]:
    """(video file, second, person's name) of every face found in a video, in order."""
    names = {p.id: p.name for p in library.people()}
    found = []
    for person in library.people():
        found += [(Path(f.path).name, f.seconds, names[person.id]) for f in library.person_faces(person.id)
                  if f.seconds is not None]
    return sorted(found, key=lambda f: (f[0], f[1], f[2] or ""))


def test_a_person_in_a_video_is_found_at_the_second_they_appear(pack, library_folder, tmp_path):
    with Library.open(tmp_path / "index", create=True) as library:
        report = library.index([library_folder])
        assert report.videos_indexed == 1 and (report.faces_found, report.video_faces_found) == (2, 4), \
            report.describe()
        named(library)
        assert len(library.people()) == 2  # the faces in the video joined the photos' people
        empty_scene = tmp_path / "empty scene.jpg"  # the first scene's picture, with nobody in it
        Image.open(BACKGROUNDS[0]).convert("RGB").resize(SIZE).save(empty_scene)
        assert library.search(build_query([image_term(str(empty_scene))]), filters=VIDEO)[0].seconds < SECONDS
        assert [(s // SECONDS, n) for _, s, n in video_faces(library)] == [
            (1, "Anna"), (2, "Ben"), (3, "Anna"), (3, "Ben")]
        for person, scenes in (("Anna", {1, 3}), ("Ben", {2, 3})):
            found = library.search(build_query([], people=[person]), filters=VIDEO)
            assert [Path(r.path).name for r in found] == ["party.mp4"]  # one result per video
            assert found[0].seconds // SECONDS in scenes and found[0].people == ("Anna", "Ben")
            assert {s // SECONDS for s, _ in found[0].moments} <= scenes
            mixed = library.search(build_query([], people=[person]))
            assert {Path(r.path).name for r in mixed} == {f"{person.lower()}.jpg", "party.mp4"}
            for terms in ([text_term("a party")], [image_term(str(empty_scene))]):  # the best moment with them
                with_terms = library.search(build_query(terms, people=[person]), filters=VIDEO)
                assert [r.seconds // SECONDS in scenes for r in with_terms] == [True]
        both = library.search(build_query([], people=["Anna", "Ben"]))
        assert [(Path(r.path).name, r.seconds // SECONDS) for r in both] == [("party.mp4", 3)]  # together: scene 3
        only_photos = library.search(build_query([], people=["Anna"]), filters=SearchFilters.parse(media="photo"))
        assert [Path(r.path).name for r in only_photos] == ["anna.jpg"]
        assert library.search(build_query([], people=["Anna"]),
                              filters=SearchFilters.parse(media="video", year=1990)) == []
        face = next(f for f in library.person_faces("Anna") if f.seconds is not None)
        x1, y1, x2, y2 = face.box
        assert (round((x1 + x2) / 2), round((y1 + y2) / 2)) in {(320, 240), (160, 160)}  # in the video's pixels
        assert library.face_thumbnail(face.id)[:2] == b"\xff\xd8"  # a JPEG of the moment's frame
        status = library.status()
        assert (status.faces, status.photos_with_faces, status.videos_with_faces) == (6, 2, 1)


def test_a_copy_takes_the_faces_and_names_survive_a_face_model_change(pack, library_folder, tmp_path, monkeypatch):
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([library_folder])
        named(library)
        before = video_faces(library)
        shutil.copy(library_folder / "clips" / "party.mp4", library_folder / "party copy.mp4")
        report = library.index()
        assert report.videos_reused == 1 and report.videos_indexed == 0
        assert {Path(r.path).name for r in library.search(build_query([], people=["Ben"]), filters=VIDEO)} == {
            "party.mp4", "party copy.mp4"}
        moments = library._index.catalog.connection.execute("SELECT vector FROM moments ORDER BY id").fetchall()
        other = install_stand_in(tmp_path / "packs2", name="stand-in-b", seed=7)
        monkeypatch.setenv("PIXSEEK_FACE_MODEL", other.name)
        again = library.index()
        assert again.videos_indexed == 0 and again.video_faces_found == 2 * 4  # faces only, found anew
        assert library._index.catalog.connection.execute("SELECT vector FROM moments ORDER BY id").fetchall() == moments
        assert [f for f in video_faces(library) if f[0] == "party.mp4"] == before  # the names stayed on them


def test_a_correction_of_a_face_in_a_video_survives_a_reindex(pack, library_folder, tmp_path):
    from conftest import TEST_MODEL

    with Library.open(tmp_path / "index", create=True) as library:
        library.index([library_folder])
        named(library)
        face = next(f for f in library.person_faces("Ben") if f.seconds is not None and f.seconds // SECONDS == 2)
        library.name_person(library.split_face(face.id).id, "Bob")  # Ben's look-alike, in that scene only
        before = video_faces(library)
        assert ("party.mp4", face.seconds, "Bob") in before and ("party.mp4", face.seconds, "Ben") not in before
        library.reindex(TEST_MODEL)  # a new catalog: every moment and face found anew
        assert video_faces(library) == before


def test_forget_removes_the_faces_of_videos_too(pack, library_folder, tmp_path):
    with Library.open(tmp_path / "index", create=True) as library:
        library.index([library_folder])
        assert library.forget_faces() == 6
        db = library._index.catalog.connection
        for table in ("faces", "face_moments", "moment_faces_read", "people"):
            assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table
        with pytest.raises(QueryError, match="no person"):
            library.search(build_query([], people=["1"]), filters=VIDEO)
        library.index()  # finding faces is off now: the video is not looked at again
        assert db.execute("SELECT COUNT(*) FROM faces").fetchone()[0] == 0
        assert library.search("x", filters=VIDEO)  # the moments stay


def test_a_crash_mid_video_keeps_the_faces_of_the_parts_committed_and_resumes(pack, tmp_path, monkeypatch):
    folder = tmp_path / "library"
    face_clip(folder / "long.mp4", SCENES * 2)
    monkeypatch.setenv("PIXSEEK_VIDEO_PART", "3")
    with Library.open(tmp_path / "clean", create=True) as library:
        library.index([folder])
        clean = faces_by_moment(library._index.catalog.connection)
    real = VideoRows.progress
    parts: list[float] = []

    def crash_on_the_third_part(self, video, done, complete, generation):
        parts.append(done)
        if len(parts) == 3:
            raise KeyboardInterrupt  # as Ctrl-C inside the part's transaction
        real(self, video, done, complete, generation)

    with Library.open(tmp_path / "crashed", create=True) as library:
        monkeypatch.setattr(VideoRows, "progress", crash_on_the_third_part)
        with pytest.raises(KeyboardInterrupt):
            library.index([folder])
        monkeypatch.setattr(VideoRows, "progress", real)
        db = library._index.catalog.connection
        kept = faces_by_moment(db)
        stored = [round(s, 3) for (s,) in db.execute("SELECT seconds FROM moments ORDER BY seconds")]
        looked = [round(s, 3) for (s,) in db.execute("SELECT seconds FROM moment_faces_read ORDER BY seconds")]
        assert looked == stored and kept == {s: f for s, f in clean.items() if s <= stored[-1]} != clean
        resumed = library.index()
        assert resumed.videos_indexed == 1
        assert faces_by_moment(db) == clean
        assert len(library.people()) == 2


def faces_by_moment(db: sqlite3.Connection) -> dict[float, list[tuple[int, int]]]:
    """Second -> the rounded centres of the faces found there."""
    found: dict[float, list[tuple[int, int]]] = {}
    for seconds, x1, y1, x2, y2 in db.execute("SELECT m.seconds, g.x1, g.y1, g.x2, g.y2 FROM faces g "
                                              "JOIN face_moments m ON m.face = g.face ORDER BY m.seconds, g.x1"):
        found.setdefault(round(seconds, 3), []).append((round((x1 + x2) / 2), round((y1 + y2) / 2)))
    return found
