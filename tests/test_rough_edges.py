"""Rough edges a hostile tester found (issue 24): every filter's problem said at once, copies
that share a name told apart by folder, sizes and counts written as a person reads them."""

from __future__ import annotations

import pytest

from pixseek.engine.results import DuplicateGroup, DuplicatePhoto
from pixseek.errors import QueryError
from pixseek.filters import SearchFilters
from pixseek.engine.results import human_size, plural


def test_every_bad_filter_is_named_in_one_line():
    with pytest.raises(QueryError) as refused:
        SearchFilters.parse(after="soon", year="99", near="here", radius="far", camera="x" * 500)
    message = str(refused.value)
    assert "\n" not in message
    for words in ("after 'soon'", "year must be four digits", "position 'here'", "radius 'far'", "camera"):
        assert words in message, message


def test_copies_with_one_name_are_told_apart_by_folder():
    def photo(path):
        return DuplicatePhoto(1, path, 20_000, 640, 480, None, True, 1.0)

    same = DuplicateGroup([photo("/a/000000358083.jpg"), photo("/b/000000358083.jpg")])
    assert same.describe() == "2 exact copies; keep 000000358083.jpg in /a?"
    apart = DuplicateGroup([photo("/a/x.jpg"), photo("/b/y.jpg")])
    assert apart.describe() == "2 exact copies; keep x.jpg?"


def test_sizes_and_counts_read_as_a_person_reads_them():
    assert [human_size(n) for n in (0, 512, 20 * 1024, 3_500_000, 2 * 1024**3)] == [
        "0 B", "512 B", "20 KB", "3.3 MB", "2.0 GB"]
    assert (plural(1, "group"), plural(2, "group"), plural(1200, "photo")) == ("1 group", "2 groups", "1,200 photos")
