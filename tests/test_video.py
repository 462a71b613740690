"""Videos end to end through the Library, on clips made at test time with PyAV (tests/video_kit.py)
from the demo photos (and ../shared/data's when present): moments found inside the right scene,
one result per clip, filters and --type, reuse by content hash, resuming after a crash, odd files
skipped with a reason, rotation, and the CLI's `score<TAB>path<TAB>seconds`."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
from PIL import Image

from conftest import SHARED_PHOTOS, TEST_MODEL, make_photo
from pixseek import Library
from pixseek.engine.query import build_query, image_term, moment_term
from pixseek.filters import SearchFilters
from pixseek.signals.video import VIDEO_IDS, VideoRows
from video_kit import make_clip, scene_photos

SCENES_PER_CLIP = 3
CLIPS = 5


@pytest.fixture(scope="module")
def home(tmp_path_factory, tiny_bundle_dir):
    home = tmp_path_factory.mktemp("video") / "home"
    shutil.copytree(tiny_bundle_dir, home / "models" / TEST_MODEL)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PIXSEEK_HOME", str(home))
        patch.setenv("PIXSEEK_MODEL", TEST_MODEL)
        patch.delenv("PIXSEEK_INDEX", raising=False)
        yield home


def opened(home, index=None):
    return Library.open(index, create=True)


def sources(count: int, folder) -> list:
    """`count` distinct photos: the demo's, ../shared/data's when present, then generated ones."""
    shared = sorted((SHARED_PHOTOS / "coco-mini").glob("*.jpg"))[:count] if SHARED_PHOTOS.exists() else []
    found = scene_photos(min(count, 7), shared)
    return found + [make_photo(folder / f"generated {i}.png", seed=1000 + i, size=(480, 360))
                    for i in range(count - len(found))]


@pytest.fixture(scope="module")
def collection(home):
    """CLIPS clips of SCENES_PER_CLIP scenes each, a few photos beside them, indexed."""
    library_folder = home.parent / "library"
    scenes = sources(CLIPS * SCENES_PER_CLIP, home.parent / "sources")
    truth = {}  # source photo -> (clip, (start, end))
    for c in range(CLIPS):
        chosen = scenes[c * SCENES_PER_CLIP:(c + 1) * SCENES_PER_CLIP]
        clip = library_folder / ("phone" if c % 2 else "camera") / f"clip {c}{['.mp4', '.MOV', '.mkv', '.M4V', '.webm'][c]}"
        codec = "libvpx-vp9" if clip.suffix == ".webm" else "libx264"
        spans = make_clip(clip, [Image.open(p) for p in chosen], codec=codec)
        truth.update({p: (str(clip), span) for p, span in zip(chosen, spans)})
    for i in range(4):
        make_photo(library_folder / "photos" / f"photo {i}.jpg", seed=i)
    library = opened(home)
    report = library.index([library_folder])
    yield library, truth, report, library_folder
    library.close()


def test_a_search_by_a_scenes_photo_lands_in_that_scene_and_a_clip_takes_one_place(collection):
    library, truth, report, _ = collection
    assert report.videos_indexed == CLIPS and report.indexed == 4, report.describe()
    status = library.status()
    assert (status.videos, status.images) == (CLIPS, 4) and status.video_seconds == pytest.approx(CLIPS * 9, abs=1)
    assert status.video_moments >= CLIPS * SCENES_PER_CLIP and status.consistent
    right = 0
    for photo, (clip, (start, end)) in truth.items():
        results = library.search(build_query([image_term(str(photo))]), k=10)
        paths = [r.path for r in results]
        assert len(paths) == len(set(paths)), "a clip took more than one place"
        best = results[0]
        right += best.path == clip and start <= best.seconds < end
        assert all(r.seconds is None for r in results if r.id < VIDEO_IDS)
    assert right >= 0.95 * len(truth), f"{right} of {len(truth)} scenes found"


def test_a_video_result_carries_its_moment_and_other_moments_by_time(collection):
    library, truth, _, _ = collection
    photo, (clip, _) = next(iter(truth.items()))
    best = library.search(build_query([image_term(str(photo))]), k=1)[0]
    assert best.is_video and best.metadata is not None
    assert [s for s, _ in best.moments] == sorted(s for s, _ in best.moments)
    assert all(score <= best.score + 1e-6 for _, score in best.moments)
    found = best.to_dict()
    assert found["type"] == "video" and found["seconds"] == round(best.seconds, 3) and found["path"] == clip


def test_type_filter_keeps_photos_or_videos(collection):
    library, _, _, _ = collection
    assert all(r.is_video for r in library.search("a photo", k=50, filters=SearchFilters.parse(media="video")))
    photos = library.search("a photo", k=50, filters=SearchFilters.parse(media="photo"))
    assert photos and not any(r.is_video for r in photos)
    both = library.search("a photo", k=50)
    assert {r.is_video for r in both} == {True, False} and len(both) == CLIPS + 4
    with pytest.raises(Exception, match="photo or video"):
        SearchFilters.parse(media="audio")


def test_folder_filter_applies_to_videos(collection):
    library, _, _, folder = collection
    found = library.search("x", k=50, filters=SearchFilters.parse(folder=str(folder / "phone")))
    assert found and all(r.path.startswith(str(folder / "phone") + os.sep) for r in found)


def test_more_like_this_from_a_moment_finds_that_moment_first(collection):
    library, truth, _, _ = collection
    photo, (clip, _) = list(truth.items())[4]
    best = library.search(build_query([image_term(str(photo))]), k=1)[0]
    again = library.search(build_query([moment_term(best.id, best.seconds)]), k=3)
    assert again[0].id == best.id and again[0].seconds == best.seconds and again[0].score > 0.999
    with pytest.raises(Exception, match="no indexed video"):
        library.search(build_query([moment_term(VIDEO_IDS + 999, 0.0)]))


def test_a_moments_thumbnail_shows_that_scene(collection):
    library, truth, _, _ = collection
    photo, (clip, (start, end)) = list(truth.items())[1]
    video = next(r for r in library.search("x", k=50) if r.path == clip)
    details = library.video(video.id)
    assert details is not None and details.complete and details.path == clip and details.moments >= 3
    picture = Image.open(io.BytesIO(library.video_thumbnail(video.id, (start + end) / 2, 128))).convert("RGB")
    wanted = Image.open(photo).convert("RGB").resize(picture.size)
    other = Image.open(list(truth)[0]).convert("RGB").resize(picture.size)
    distance = lambda a, b: np.abs(np.asarray(a, float) - np.asarray(b, float)).mean()  # noqa: E731
    assert picture.format is None and max(picture.size) == 128
    assert distance(picture, wanted) < distance(picture, other)
    assert library.video(1) is None and library.video(VIDEO_IDS + 10**6) is None


def test_unchanged_moved_copied_and_deleted_videos(home, tmp_path):
    folder = tmp_path / "lib"
    clip = folder / "a.mp4"
    make_clip(clip, [Image.open(p) for p in scene_photos(2)])
    with opened(home, tmp_path / "index") as library:
        assert library.index([folder]).videos_indexed == 1
        again = library.index([folder])
        assert (again.videos_indexed, again.videos_reused) == (0, 0)
        (folder / "sub").mkdir()
        clip.rename(folder / "sub" / "b.mp4")
        shutil.copy(folder / "sub" / "b.mp4", folder / "copy.MP4")
        moved = library.index([folder])
        assert (moved.videos_indexed, moved.videos_reused, moved.removed) == (0, 2, 1), moved.describe()
        found = {r.path: r for r in library.search("x", k=10, filters=SearchFilters.parse(media="video"))}
        assert set(found) == {str(folder / "sub" / "b.mp4"), str(folder / "copy.MP4")}
        a, b = found.values()
        assert a.score == pytest.approx(b.score) and a.seconds == b.seconds
        (folder / "copy.MP4").unlink()
        assert library.index([folder]).removed == 1
        assert [r.path for r in library.search("x", k=10)] == [str(folder / "sub" / "b.mp4")]
        assert library.remove(folder / "sub") == 1
        assert library.search("x", k=10) == []


def test_odd_files_are_skipped_with_a_reason_and_nothing_indexed_is_lost(home, tmp_path):
    folder = tmp_path / "lib"
    good = folder / "good.mp4"
    make_clip(good, [Image.open(p) for p in scene_photos(2)])
    with opened(home, tmp_path / "index") as library:
        library.index([folder])
        data = good.read_bytes()
        (folder / "truncated.mp4").write_bytes(data[:len(data) // 3])
        (folder / "garbage.MOV").write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(5000))
        (folder / "empty.mkv").write_bytes(b"")
        (folder / "notes.avi").write_text("not a video")
        audio_only(folder / "song.mp4")
        (folder / "dangling.mp4").symlink_to(tmp_path / "nowhere.mp4")
        report = library.index([folder])
        reasons = dict(report.skipped)
        assert reasons[str(folder / "dangling.mp4")] == "broken link"
        for name in ("garbage.MOV", "empty.mkv", "notes.avi", "song.mp4"):
            reason = reasons[str(folder / name)]
            assert reason and "\n" not in reason and len(reason) < 300, reason
        assert "no video stream" in reasons[str(folder / "song.mp4")]
        # a truncated file keeps what decodes before the damage, or is skipped: never an error
        videos = {r.path for r in library.search("x", k=20, filters=SearchFilters.parse(media="video"))}
        assert str(good) in videos
        assert (str(folder / "truncated.mp4") in videos) != (str(folder / "truncated.mp4") in reasons)
        again = library.index([folder])
        assert again.skipped_before >= 4 and again.videos_indexed == 0  # remembered until they change


def audio_only(path):
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 16000, i * 1024
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))


def test_a_crash_mid_video_loses_one_part_at_most_and_the_next_run_resumes(home, tmp_path, monkeypatch):
    folder = tmp_path / "lib"
    photos = [Image.open(p) for p in scene_photos(6)]
    make_clip(folder / "long.mp4", photos, seconds=4.0)
    monkeypatch.setenv("PIXSEEK_VIDEO_PART", "5")
    with opened(home, tmp_path / "clean") as library:
        library.index([folder])
        clean = moments_of(library)
    parts = []
    real = VideoRows.progress

    def crash_on_the_third_part(self, video, done, complete, generation):
        parts.append(done)
        if len(parts) == 3:
            raise KeyboardInterrupt  # as Ctrl-C inside the part's transaction
        real(self, video, done, complete, generation)

    with opened(home, tmp_path / "crashed") as library:
        monkeypatch.setattr(VideoRows, "progress", crash_on_the_third_part)
        with pytest.raises(KeyboardInterrupt):
            library.index([folder])
        monkeypatch.setattr(VideoRows, "progress", real)
        kept = moments_of(library)
        assert kept and kept == clean[:len(kept)] and len(kept) < len(clean)
        assert library.search("x", filters=SearchFilters.parse(media="video"))  # searchable meanwhile
        resumed = library.index([folder])
        assert resumed.videos_indexed == 1
        assert moments_of(library) == clean


def moments_of(library) -> list[float]:
    found = library.search("x", k=5, filters=SearchFilters.parse(media="video"))
    if not found:
        return []
    video = found[0].id
    return [round(s, 3) for s in library._index.catalog.values("video", [video])[video]]


def test_cancelling_keeps_the_parts_read(home, tmp_path, monkeypatch):
    folder = tmp_path / "lib"
    make_clip(folder / "long.mp4", [Image.open(p) for p in scene_photos(5)], seconds=4.0)
    monkeypatch.setenv("PIXSEEK_VIDEO_PART", "3")
    cancel = threading.Event()
    real = VideoRows.progress

    def cancel_after_a_part(self, *args):
        real(self, *args)
        cancel.set()

    monkeypatch.setattr(VideoRows, "progress", cancel_after_a_part)
    with opened(home, tmp_path / "index") as library:
        report = library.index([folder], cancel=cancel)
        assert report.cancelled
        monkeypatch.setattr(VideoRows, "progress", real)
        cancel.clear()
        assert library.video(library.search("x")[0].id).complete is False
        assert library.index([folder]).videos_indexed == 1
        assert library.video(library.search("x")[0].id).complete


def test_rotation_and_container_tags_become_the_metadata_filters_read(home, tmp_path):
    folder = tmp_path / "lib"
    tags = {"creation_time": "2021-07-04T18:30:00.000000Z", "location": "+38.7169-009.1399/",
            "com.apple.quicktime.make": "Apple", "com.apple.quicktime.model": "iPhone 15"}
    make_clip(folder / "portrait.mov", [Image.open(p) for p in scene_photos(2)], rotation=90, tags=tags)
    make_clip(folder / "plain.mp4", [Image.open(p) for p in scene_photos(2)])
    with opened(home, tmp_path / "index") as library:
        library.index([folder])

        def names(**filters):
            return sorted(os.path.basename(r.path) for r in library.search("x", k=9, filters=SearchFilters.parse(**filters)))

        assert names(year="2021") == ["portrait.mov"]
        assert names(camera="iphone") == ["portrait.mov"]
        assert names(near="38.72,-9.14", radius="5km") == ["portrait.mov"]
        assert names(place="Lisbon") == ["portrait.mov"]
        assert "plain.mp4" in names(after="2025")  # no tags: the file's time
        portrait = next(r for r in library.search("x", k=9) if r.path.endswith("portrait.mov"))
        assert (portrait.metadata.width, portrait.metadata.height) == (240, 320)
        thumb = Image.open(io.BytesIO(library.video_thumbnail(portrait.id, 1.0, 160)))
        assert thumb.height > thumb.width  # turned upright, as a phone shows it
        scene = Image.open(scene_photos(1)[0]).convert("RGB").resize((320, 240))
        shown = np.asarray(thumb.convert("RGB").resize((240, 320)), float)
        # the display matrix's 90 degrees counterclockwise, as FFmpeg's players turn it
        ccw, cw = (np.abs(np.asarray(scene.rotate(a, expand=True), float) - shown).mean() for a in (90, -90))
        assert ccw < cw


def test_the_cli_prints_the_second_of_a_videos_moment(home, tmp_path, collection):
    _, truth, _, _ = collection
    library = collection[0]
    photo, (clip, (start, end)) = next(iter(truth.items()))
    env = dict(os.environ, PIXSEEK_HOME=str(home), PIXSEEK_MODEL=TEST_MODEL, PIXSEEK_INDEX=str(library.index_dir))
    run = subprocess.run([sys.executable, "-m", "pixseek.cli", "search", str(photo), "-k", "3", "--type", "video"],
                         capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert run.returncode == 0, run.stderr
    score, path, seconds = run.stdout.splitlines()[0].split("\t")
    assert path == clip and start <= float(seconds) < end and float(score) > 0
    like = subprocess.run([sys.executable, "-m", "pixseek.cli", "search", "--moment", f"{clip}@{seconds}", "-k", "1"],
                          capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert like.returncode == 0 and like.stdout.split("\t")[1:] == [clip, f"{float(seconds):.1f}\n"], like
    assert float(like.stdout.split("\t")[0]) > 0.999
    unknown = subprocess.run([sys.executable, "-m", "pixseek.cli", "search", "--moment", "nope.mp4@3"],
                             capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert unknown.returncode == 1 and unknown.stderr.strip().endswith("like clip.mp4@42"), unknown.stderr
    wrong = subprocess.run([sys.executable, "-m", "pixseek.cli", "search", "x", "--type", "audio"],
                           capture_output=True, text=True, env=env, timeout=120, stdin=subprocess.DEVNULL)
    assert wrong.returncode == 2 and "photo" in wrong.stderr


def test_the_desktop_results_page_plays_a_video_from_its_moment(collection, tmp_path):
    from html.parser import HTMLParser

    from pixseek.desktop import results_page

    library, truth, _, _ = collection
    photo, (clip, _) = next(iter(truth.items()))
    query = build_query([image_term(str(photo))])
    results = library.search(query, k=10)
    page = results_page.write(tmp_path, query, results, SearchFilters(), library.thumbnail, library.video_thumbnail)

    class Videos(HTMLParser):
        found: list[dict] = []

        def handle_starttag(self, tag, attrs):
            if tag == "video":
                self.found.append(dict(attrs))

    parser = Videos()
    parser.feed(page.read_text(encoding="utf-8"))
    videos = [r for r in results if r.is_video]
    assert len(parser.found) == len(videos) == CLIPS
    first = parser.found[0]
    assert first["src"] == f"{results_page.file_uri(videos[0].path)}#t={videos[0].seconds:.1f}"
    assert first["poster"].startswith("data:image/jpeg;base64,")


def test_unusual_but_valid_videos_are_indexed_in_the_right_scenes(home, tmp_path):
    """Variable frame rate, 10-bit HEVC, one keyframe only (every frame decoded), MPEG-4 in AVI and 3GP."""
    import av

    folder = tmp_path / "lib"
    photos = [Image.open(p) for p in scene_photos(3)]
    spans = {
        "ten-bit.mkv": make_clip(folder / "ten-bit.mkv", photos, codec="libx265", pix_fmt="yuv420p10le"),
        "one-keyframe.mp4": make_clip(folder / "one-keyframe.mp4", photos, gop=10_000, seconds=6.0),
        "old.avi": make_clip(folder / "old.avi", photos, codec="mpeg4"),
        "phone.3gp": make_clip(folder / "phone.3gp", photos, codec="mpeg4", size=(176, 144)),
        "vfr.mp4": make_clip(folder / "vfr.mp4", photos, variable=True),
    }
    with opened(home, tmp_path / "index") as library:
        report = library.index([folder])
        assert report.videos_indexed == len(spans) and not report.skipped, report.describe()
        for name, clip_spans in spans.items():
            for photo, (start, end) in zip(scene_photos(3), clip_spans):
                found = library.search(build_query([image_term(str(photo))]), k=1,
                                       filters=SearchFilters.parse(folder=str(folder)))
                hits = [r for r in library.search(build_query([image_term(str(photo))]), k=10) if r.path.endswith(name)]
                assert hits and start <= hits[0].seconds < end, (name, start, end, hits[0].seconds if hits else None)
                assert found
    assert av  # the codecs came from PyAV's own FFmpeg


def test_duplicates_know_a_video_its_copy_and_its_trimmed_copy(home, tmp_path):
    folder = tmp_path / "lib"
    scenes = [Image.open(p) for p in scene_photos(7)]
    make_clip(folder / "original.mp4", scenes[:4])
    make_clip(folder / "trimmed.mp4", scenes[1:4], size=(256, 192))  # cut and re-encoded smaller
    make_clip(folder / "other.mp4", scenes[4:7])
    (folder / "backup").mkdir()
    shutil.copy(folder / "original.mp4", folder / "backup" / "original.mp4")
    with opened(home, tmp_path / "index") as library:
        library.index([folder])
        groups = [g for g in library.duplicates() if g.photos[0].path.endswith(".mp4")]
        assert len(groups) == 1, [g.describe() for g in groups]
        names = [os.path.relpath(p.path, folder) for p in groups[0].photos]
        assert sorted(names[:2]) == ["backup/original.mp4", "original.mp4"] and names[2] == "trimmed.mp4"
        exact = [p.same_as_best for p in groups[0].photos]
        assert exact == [True, True, False] and 0.6 <= groups[0].photos[2].similarity <= 1


def test_a_video_past_its_decoding_budget_keeps_what_it_found(home, tmp_path, monkeypatch):
    folder = tmp_path / "lib"
    make_clip(folder / "long.mp4", [Image.open(p) for p in scene_photos(4)])
    monkeypatch.setenv("PIXSEEK_VIDEO_BUDGET", "0")
    with opened(home, tmp_path / "index") as library:
        report = library.index([folder])
        assert "decoding stopped after 0 s" in dict(report.skipped)[str(folder / "long.mp4")]
        found = library.search("x", filters=SearchFilters.parse(media="video"))
        assert [r.seconds for r in found] == [0.0] and library.video(found[0].id).moments == 1
        monkeypatch.setenv("PIXSEEK_VIDEO_BUDGET", "abc")
        (folder / "new").mkdir()
        with pytest.raises(Exception, match="PIXSEEK_VIDEO_BUDGET='abc' is not a number"):
            library.index([folder / "new"])


def test_the_mcp_search_tool_returns_a_videos_moment(collection):
    from test_mcp import call, data, error, tool

    library, truth, _, _ = collection
    found = data(call(library.index_dir, tool("search", text="x", k=20, type="video")))["results"]
    assert len(found) == CLIPS and all(r["type"] == "video" and r["seconds"] >= 0 for r in found)
    photos = data(call(library.index_dir, tool("search", text="x", k=20, type="photo")))["results"]
    assert len(photos) == 4 and not any("seconds" in r for r in photos)
    assert "type" in error(call(library.index_dir, tool("search", text="x", type="audio")))


def test_large_videos_decode_keyframes_two_seconds_apart_and_still_land_in_each_scene(home, tmp_path, monkeypatch):
    from pixseek.video import frames

    folder = tmp_path / "lib"
    photos = scene_photos(4)
    spans = make_clip(folder / "big.mp4", [Image.open(p) for p in photos], gop=6)  # a keyframe every 0.5 s
    monkeypatch.setattr(frames, "LARGE", 0)  # these small frames count as 4K
    decoded = []
    real = frames._Sampler.offer
    monkeypatch.setattr(frames._Sampler, "offer", lambda self, t, frame: decoded.append(t) or real(self, t, frame))
    with opened(home, tmp_path / "index") as library:
        library.index([folder])
        assert decoded == [2.0 * i for i in range(6)]  # 24 keyframes, 6 decoded
        for photo, (start, end) in zip(photos, spans):
            best = library.search(build_query([image_term(str(photo))]), k=1)[0]
            assert start <= best.seconds < end


def test_an_update_for_changed_paths_brings_videos_in_and_takes_them_out(home, tmp_path):
    folder = tmp_path / "lib"
    make_photo(folder / "photo.jpg", seed=1)
    with opened(home, tmp_path / "index") as library:
        library.index([folder])
        clip = folder / "later" / "new.mp4"
        make_clip(clip, [Image.open(p) for p in scene_photos(2)])
        assert library.update([clip]).videos_indexed == 1  # what a watcher saw
        assert [r.path for r in library.search("x", filters=SearchFilters.parse(media="video"))] == [str(clip)]
        clip.unlink()
        assert library.update([clip]).removed == 1
        assert library.search("x", filters=SearchFilters.parse(media="video")) == []
        assert [r.path for r in library.search("x")] == [str(folder / "photo.jpg")]
