"""Where indexing may go and what it counts: links never lead out of the indexed folders,
system pseudo-filesystems are refused, hidden files follow the index's policy and are counted,
very elongated photos are indexed by their middle, and the run's summary and the index's status
count the same skipped files."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from conftest import make_photo
from pixseek.errors import FolderNotFound, FolderNotIndexed
from pixseek.filters import SearchFilters
from pixseek.library import Library
from pixseek.engine.query import parse_query


@pytest.fixture
def library(pixseek_home, tmp_path):
    with Library.open(tmp_path / "index", create=True) as lib:
        yield lib


def indexed(library, root):
    return sorted(os.path.relpath(r.path, root) for r in library._index.catalog.files_under([str(root)]))


def test_links_never_lead_out_of_the_indexed_folders(library, tmp_path):
    root, outside = tmp_path / "photos", tmp_path / "outside"
    make_photo(root / "a.jpg", seed=1)
    make_photo(root / "albums" / "b.jpg", seed=2)
    make_photo(outside / "private.jpg", seed=3)
    make_photo(outside / "deep" / "private 2.jpg", seed=4)
    (root / "same album").symlink_to(root / "albums")  # inside: followed (once)
    (root / "a again.jpg").symlink_to(root / "a.jpg")  # inside: followed
    (root / "out.jpg").symlink_to(outside / "private.jpg")
    (root / "out folder").symlink_to(outside)
    (root / "albums" / "up").symlink_to(tmp_path)  # above the root: everything is outside it
    report = library.index([root])
    assert indexed(library, root) == ["a again.jpg", "a.jpg", "albums/b.jpg"]
    assert report.not_followed == 3 and "3 links out of the folders not followed" in report.describe()
    with pytest.raises(FolderNotIndexed, match="leads out"):  # decided on where it leads
        library.search("x", k=50, filters=SearchFilters(folder=str(root / "out folder")))

    library.index([root, outside])  # the same links, now into an indexed folder, are followed
    assert "out.jpg" in indexed(library, root)


def test_pseudo_filesystems_are_refused_as_folders(library):
    from pixseek.files import pseudo_filesystem

    assert pseudo_filesystem("/proc/self") == "proc" and pseudo_filesystem("/") is None
    for system in ("/proc/self/fdinfo", "/sys/kernel"):
        with pytest.raises(FolderNotFound, match="is a system folder"):
            library.index([system])


def test_hidden_files_follow_the_index_policy_and_are_counted(library, tmp_path):
    root = tmp_path / "photos"
    make_photo(root / "shown.jpg", seed=1)
    make_photo(root / ".secret.jpg", seed=2)
    make_photo(root / ".thumbnails" / "t.jpg", seed=3)
    (root / ".notes").write_text("a hidden file that is no image: not counted")

    report = library.index([root])
    assert indexed(library, root) == ["shown.jpg"] and report.hidden == 2
    assert "2 hidden left out" in report.describe() and not library.status().include_hidden

    report = library.index([root], include_hidden=True)
    assert report.indexed == 2 and report.hidden == 0 and library.status().include_hidden
    assert library.index([root]).unchanged == 3  # the policy is the index's: kept for later runs
    report = library.index([root], include_hidden=False)
    assert report.removed == 2 and indexed(library, root) == ["shown.jpg"]


def test_the_summary_and_the_status_count_the_same_skipped_files(library, tmp_path):
    root = tmp_path / "photos"
    make_photo(root / "good.jpg", seed=1)
    (root / "damaged.jpg").write_bytes(b"\xff\xd8\xff" + b"\x00" * 50)
    (root / "dangling.jpg").symlink_to(root / "deleted.jpg")
    for run in range(2):
        report = library.index([root])
        counted = len(report.skipped) + report.skipped_before
        assert counted == library.status().skipped == 2, (run, report.describe())
        assert dict(library.skipped())[str(root / "dangling.jpg")] == "broken link"
    generation = library._index.catalog.generation
    library.index([root])
    assert library._index.catalog.generation == generation  # a known broken link is not written again
    (root / "dangling.jpg").unlink()
    library.index([root])
    assert library.status().skipped == 1


@pytest.mark.parametrize("size", [(60000, 2), (3, 20000), (4000, 150)])
def test_very_elongated_photos_are_indexed_by_their_middle(library, tmp_path, size):
    """Refused as "too large" before: CLIP sees the centre square, as if all had been scaled."""
    along = np.linspace(0, 4 * np.pi, max(size))
    stripe = np.stack([127 + 120 * np.sin(along), 127 + 120 * np.cos(along / 3), np.full_like(along, 90)], axis=1)
    pixels = np.repeat(stripe[None], min(size), axis=0).astype(np.uint8)  # smooth along the strip
    if size[0] < size[1]:
        pixels = pixels.transpose(1, 0, 2)
    root = tmp_path / "photos"
    root.mkdir()
    path = root / "strip.png"
    Image.fromarray(pixels).save(path)
    report = library.index([root])
    assert report.indexed == 1 and not report.skipped, report.skipped
    assert library.search(parse_query(images=[str(path)]), k=1)[0].score == pytest.approx(1.0, abs=1e-5)
    short = min(size)
    left, top = (size[0] - short) // 2, (size[1] - short) // 2
    centre = library.encoder.encode_images([Image.fromarray(pixels[top:top + short, left:left + short])])[0]
    stored = library._index.catalog.vectors_for([library._index.catalog.lookup(str(path)).id])[0]
    assert float(np.dot(centre, stored)) > 0.99


def test_a_rebuild_for_another_model_keeps_the_policy_and_refuses_while_a_folder_is_missing(library, tmp_path,
                                                                                             pixseek_home):
    from pixseek.model.export import export_random

    export_random("tiny", pixseek_home / "models" / "other", seed=7)
    root, drive = tmp_path / "photos", tmp_path / "drive"
    make_photo(root / "a.jpg", seed=1)
    make_photo(root / ".hidden.jpg", seed=2)
    make_photo(drive / "b.jpg", seed=3)
    library.index([root, drive], include_hidden=True)
    drive.rename(tmp_path / "unmounted")
    with pytest.raises(FolderNotFound, match="missing"):
        library.reindex("other")
    (tmp_path / "unmounted").rename(drive)
    report = library.reindex("other")
    assert report.indexed == 3 and library.status().include_hidden
