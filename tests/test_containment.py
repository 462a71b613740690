"""Containment on resolved paths (pixseek.containment), with real links in every position: the
folder itself, a parent, a file, a link to a link, and a link swapped after the check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import make_photo
from pixseek import containment
from pixseek.filters import SearchFilters
from pixseek.errors import FolderNotIndexed, HoldsIndexedFolders, ImageError, OutsideFolders, PixseekError
from pixseek.library import Library


@pytest.fixture
def places(tmp_path):
    """/allowed with a photo, /outside with a secret photo, and links from one to the other."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    make_photo(allowed / "mine.jpg", seed=1)
    make_photo(outside / "secret.jpg", seed=2)
    (allowed / "folder-link").symlink_to(outside)  # the folder itself is a link
    (allowed / "file-link.jpg").symlink_to(outside / "secret.jpg")  # a file is a link
    (allowed / "link-to-link").symlink_to(allowed / "folder-link")  # a link to a link
    (tmp_path / "parent-link").symlink_to(outside)  # a parent is a link
    (allowed / "inner").mkdir()
    (allowed / "inner-link").symlink_to(allowed / "inner")  # a link that stays inside
    return allowed, outside, tmp_path


def test_links_out_of_a_folder_are_outside_it(places):
    allowed, outside, tmp = places
    roots = [str(allowed)]
    for path in ("folder-link", "folder-link/secret.jpg", "file-link.jpg", "link-to-link", "link-to-link/secret.jpg"):
        assert not containment.contains(roots, allowed / path), path
    assert not containment.contains(roots, tmp / "parent-link" / "secret.jpg")
    assert not containment.contains(roots, f"{allowed}/../outside")
    for path in ("mine.jpg", "inner", "inner-link", "."):
        assert containment.contains(roots, allowed / path), path
    assert containment.contains([str(tmp / "parent-link")], outside / "secret.jpg")  # an indexed link's target


def test_indexed_form_keeps_names_inside_and_maps_links_to_a_folder(places):
    allowed, outside, tmp = places
    assert containment.indexed_form(allowed / "inner-link", [str(allowed)]) == str(allowed / "inner-link")
    assert containment.indexed_form(tmp / "parent-link", [str(outside)]) == str(outside)
    assert containment.indexed_form(allowed / "folder-link", [str(allowed)]) is None


@pytest.mark.parametrize("bad, words", [("", "empty"), ("   ", "empty"), ("a\x00b", "NUL"), ("x" * 5000, "too long")])
def test_paths_that_name_nothing_are_one_line_errors(bad, words):
    with pytest.raises(PixseekError, match=words) as caught:
        containment.absolute(bad)
    assert "\n" not in str(caught.value)


def test_open_inside_refuses_a_link_out(places):
    allowed, _, _ = places
    roots = [str(allowed)]
    with containment.open_inside(str(allowed / "mine.jpg"), roots) as opened:
        assert opened.read() == (allowed / "mine.jpg").read_bytes()
    with pytest.raises(OutsideFolders):
        containment.open_inside(str(allowed / "file-link.jpg"), roots)


def _swap_file(allowed: Path, outside: Path) -> None:
    """The photo's name becomes a link to the secret one."""
    os.rename(allowed / "album" / "photo.jpg", allowed / "moved-away.jpg")
    os.symlink(outside / "album" / "photo.jpg", allowed / "album" / "photo.jpg")


def _swap_parent(allowed: Path, outside: Path) -> None:
    """The photo's folder becomes a link to a folder outside with the same names."""
    os.rename(allowed / "album", allowed / "album-was")
    os.symlink(outside / "album", allowed / "album")


@pytest.mark.parametrize("swap", [_swap_file, _swap_parent])
def test_a_link_swapped_in_after_the_check_is_caught_on_the_opened_file(places, monkeypatch, swap):
    allowed, outside, _ = places
    make_photo(allowed / "album" / "photo.jpg", seed=3)
    make_photo(outside / "album" / "photo.jpg", seed=4)
    checked = containment.contains
    swapped = []

    def check_then_swap(folders, path):  # the attacker wins the race right after the check
        answer = checked(folders, path)
        if not swapped:
            swap(allowed, outside)
            swapped.append(path)
        return answer

    monkeypatch.setattr(containment, "contains", check_then_swap)
    with pytest.raises((OutsideFolders, ImageError)):
        with containment.open_inside(str(allowed / "album" / "photo.jpg"), [str(allowed)]) as opened:
            pytest.fail(f"served {len(opened.read())} bytes from outside")
    assert swapped


def test_a_fifo_is_not_opened_for_serving(places):
    allowed, _, _ = places
    os.mkfifo(allowed / "pipe.jpg")
    with pytest.raises(ImageError, match="not a regular file"):
        containment.open_inside(str(allowed / "pipe.jpg"), [str(allowed)])


# -- the Library ------------------------------------------------------------------------------

@pytest.fixture
def library(pixseek_home, tmp_path):
    photos = tmp_path / "x" / "photos"
    for i in range(3):
        make_photo(photos / f"p{i}.jpg", seed=i)
    make_photo(tmp_path / "x" / "other" / "o.jpg", seed=9)
    with Library.open(tmp_path / "index", create=True) as opened:
        opened.index([photos, tmp_path / "x" / "other"])
        yield opened


def test_remove_refuses_a_folder_around_indexed_ones_and_names_them(library, tmp_path):
    with pytest.raises(HoldsIndexedFolders) as refused:
        library.remove(tmp_path)
    assert refused.value.inside == [str(tmp_path / "x" / "other"), str(tmp_path / "x" / "photos")]
    assert library.count() == 4
    with pytest.raises(FolderNotIndexed):
        library.remove(tmp_path / "elsewhere")
    assert library.remove(tmp_path / "x" / "photos") == 3


def test_search_in_a_link_that_leads_out_is_refused(library, tmp_path):
    (tmp_path / "x" / "photos" / "out").symlink_to(tmp_path / "index")
    with pytest.raises(FolderNotIndexed, match="leads out"):
        library.search("a photo", filters=SearchFilters.parse(folder=str(tmp_path / "x" / "photos" / "out")))


def test_a_link_to_an_indexed_folder_names_it(library, tmp_path):
    (tmp_path / "alias").symlink_to(tmp_path / "x" / "photos")
    found = library.search("a photo", k=10, filters=SearchFilters.parse(folder=str(tmp_path / "alias")))
    assert sorted(Path(r.path).name for r in found) == ["p0.jpg", "p1.jpg", "p2.jpg"]


def test_huge_negative_and_odd_ids_name_no_photo(library):
    for id_ in (2**63, 2**64 + 5, -1, 0, -(2**63) - 1, 1.5, True, "1"):
        assert library.file(id_) is None and library.photo_path(id_) is None


def test_an_indexed_file_swapped_for_a_link_out_is_not_served(library, tmp_path):
    secret = make_photo(tmp_path / "secret" / "s.jpg", seed=7)
    target = tmp_path / "x" / "photos" / "p1.jpg"
    library.thumbnails.folder = tmp_path / "no-cache"
    target.unlink()
    target.symlink_to(secret)
    with pytest.raises(OutsideFolders):
        library.original(str(target))
    with pytest.raises(OutsideFolders):
        library.thumbnail(str(target), 64)


@pytest.mark.parametrize("bad", ["", " "])
def test_empty_folders_are_refused_by_the_engine(library, bad):
    with pytest.raises(PixseekError, match="empty"):
        library.index([bad])
    with pytest.raises(PixseekError, match="empty"):
        library.remove(bad)
    with pytest.raises(PixseekError, match="empty"):
        library.duplicates(folder=bad)


def test_a_file_given_for_a_folder_is_named_a_file(library, tmp_path):
    with pytest.raises(PixseekError, match="is a file, not a folder"):
        library.index([tmp_path / "x" / "photos" / "p0.jpg"])
