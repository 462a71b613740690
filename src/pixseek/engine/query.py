"""Queries: text, example images, weighted mixes and negatives, as rclip does them; the one
query type every face builds, and the one place it is built and checked.

A query is a list of weighted terms. Each term is a text or an image; its vector is scaled by
its weight (negative for "not ..."), the sum is normalised, and the index returns the nearest
stored vectors by cosine similarity. A face gathers its terms with `text_term` and
`image_term` and makes the query with `build_query`; the CLI's words go through
`parse_query`, where `"2:dog" "1:snow"` weighs terms (a time such as "10:30 meeting" is text),
a term that names an existing image file is an image term, and one that looks like a file name
or path (holiday.jpg, ~/x) but names no image file is an error, not a text search for the typo.
Elsewhere text is always text: a web page or an HTTP request never makes the engine read a
file by typing its name.

A query may also name words written in the photo (`says`, see engine/text_search.py): alone,
or with terms, whose CLIP score then orders the photos whose text matches; and people
(`people`, by name or number, docs/people.md): only photos every one of them is in.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from pixseek.errors import EmptyQuery, ImageError, QueryError, UnusableUpload
from pixseek.files import BASE_EXTENSIONS, HEIF_EXTENSIONS
from pixseek.images import decode
from pixseek.signals.text_match import words_of

WEIGHT_PREFIX = re.compile(r"^\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+))\s*:(?!//|\d)(.*)$", re.DOTALL)
PATH_STARTS = ("/", "./", "../", "~/")
MAX_TEXT_CHARS = 1000
MAX_SAYS_WORDS = 20  # words a photo must say in one search
MAX_PEOPLE = 10  # people a photo must hold in one search
DEFAULT_K = 10  # results shown when the user does not say, in every face
MAX_K = 1000  # the most results one search returns
MAX_RESULTS = 50  # the most results a page of the web or desktop app shows at once
SORTS = ("score", "date")  # best first; oldest first (by the instant each photo was taken)
EMPTY = "empty query: give some words to search for, an example image, words the photo says, or a person"
EMPTY_TERM = "empty query term: give some words"


@dataclass(frozen=True)
class Term:
    weight: float
    text: str | None = None
    image: str | None = None
    moment: tuple[int, float] | None = None  # (video id, seconds): "more like this" moment of an indexed video

    def describe(self) -> str:
        subject = f"image {self.image}" if self.image else repr(self.text)
        if self.moment is not None:
            subject = f"video {self.moment[0]} at {self.moment[1]:g} s"
        if abs(self.weight) == 1:
            return subject if self.weight > 0 else f"-{subject}"
        return f"{self.weight:g} x {subject}"


@dataclass(frozen=True)
class Query:
    terms: tuple[Term, ...]
    says: str | None = None  # words written in the photo (each must be found in its text)
    people: tuple[str, ...] = ()  # people in the photo (each must be), by name or number

    def describe(self) -> str:
        said = [f"says {self.says!r}"] if self.says is not None else []
        said += [f"with {person}" for person in self.people]
        return " + ".join([t.describe() for t in self.terms] + said).replace("+ -", "- ")


def _split_weight(raw: str) -> tuple[float, str]:
    match = WEIGHT_PREFIX.match(raw)
    if match:
        weight = float(match.group(1))
        if not math.isfinite(weight):  # 400 nines parse as inf, and would make every score NaN
            raise QueryError(f"the weight {match.group(1)[:20]}... is too large")
        return weight, match.group(2)
    return 1.0, raw


def _existing_file(text: str) -> str | None:
    """The absolute path if `text` names a file; text that cannot be a path (a NUL) is not one."""
    try:
        path = os.path.abspath(os.path.expanduser(text))
        return path if os.path.isfile(path) else None
    except ValueError:
        return None


def _looks_like_path(text: str) -> bool:
    """A term meant as a file: an image file's name (holiday.jpg) or a path (/..., ./..., ~/...)."""
    return text.startswith(PATH_STARTS) or os.path.splitext(text)[1].lower() in BASE_EXTENSIONS | HEIF_EXTENSIONS


def _image_path(text: str) -> str:
    """The absolute path of the image file `text` names, or a QueryError that says what it is instead."""
    try:
        path = os.path.abspath(os.path.expanduser(text))
        exists = os.path.exists(path)
    except ValueError:  # a NUL
        raise QueryError(f"not a file name: {text!r}") from None
    if not exists:
        raise QueryError(f"query image not found: {text}")
    if os.path.isdir(path):
        raise QueryError(f"{text} is a folder, not an image file")
    if not os.path.isfile(path):
        raise QueryError(f"{text} is not a regular file (a device, pipe or socket), so not an image")
    return path


def _weight(weight: float) -> float:
    if not math.isfinite(weight):  # an infinite weight would make every score NaN
        raise QueryError(f"the weight {weight} is too large")
    if weight == 0:
        raise QueryError("a term's weight must not be 0")
    return float(weight)


def text_term(text: str, weight: float = 1.0) -> Term:
    """Words to search for (or, with a negative weight, to steer away from), always as text."""
    body = text.strip()
    if not body:
        raise EmptyQuery(EMPTY_TERM)
    if len(body) > MAX_TEXT_CHARS:
        raise QueryError(f"query text is too long ({len(body)} characters; at most {MAX_TEXT_CHARS})")
    return Term(_weight(weight), text=body)


def image_term(path: str, weight: float = 1.0) -> Term:
    """An example photo: a path the engine may read (one in the index, or an upload)."""
    return Term(_weight(weight), image=path)


def moment_term(video_id: int, seconds: float, weight: float = 1.0) -> Term:
    """A moment of an indexed video (a result's id and seconds): "more like this" from it."""
    if not math.isfinite(seconds) or seconds < 0:
        raise QueryError(f"a moment's time must be a number of seconds from 0, not {seconds}")
    return Term(_weight(weight), moment=(int(video_id), float(seconds)))


def usable_photo(name: str, data: bytes) -> bytes:
    """`data` if the engine can search by it (it decodes as an image), else UnusableUpload saying why."""
    try:
        decode(data, name=name)
    except ImageError as error:
        raise UnusableUpload(f"cannot search by {name}: {error}") from None
    return data


def says_text(text: str) -> str:
    """Words written in a photo to search for, checked: some, not too many."""
    body = " ".join(text.split())
    if not body:
        raise EmptyQuery("no words to find in photos: give the words written in the photo")
    if len(body) > MAX_TEXT_CHARS:
        raise QueryError(f"the words to find are too long ({len(body)} characters; at most {MAX_TEXT_CHARS})")
    if len(words_of(body)) > MAX_SAYS_WORDS:
        raise QueryError(f"too many words to find in photos (at most {MAX_SAYS_WORDS})")
    return body


def names_typed(typed: str) -> list[str]:
    """The names typed in one field of a form, separated by commas ("Anna, Ben")."""
    return [name.strip() for name in typed.split(",") if name.strip()]


def people_names(people: Iterable[str]) -> tuple[str, ...]:
    """People to find in photos, checked: each named, not too many; each once."""
    names: list[str] = []
    for person in people:
        body = " ".join(str(person).split())
        if not body:
            raise EmptyQuery("a person to find must be named: give a name or a person's number")
        if len(body) > MAX_TEXT_CHARS:
            raise QueryError(f"a person's name is too long ({len(body)} characters; at most {MAX_TEXT_CHARS})")
        if body.casefold() not in (n.casefold() for n in names):
            names.append(body)
    if len(names) > MAX_PEOPLE:
        raise QueryError(f"too many people to find in one photo (at most {MAX_PEOPLE})")
    return tuple(names)


def build_query(terms: Iterable[Term], says: str | None = None, people: Iterable[str] = ()) -> Query:
    """The query of `terms`, in their order, of the words the photo `says` and of the `people`
    in it; EmptyQuery unless one term is sought (a positive weight), words or a person are:
    words to steer away from alone find nothing."""
    terms = tuple(terms)
    said = None if says is None else says_text(says)
    named = people_names(people)
    if said is None and not named and not any(t.weight > 0 for t in terms):
        raise EmptyQuery(EMPTY)
    if terms and not any(t.weight > 0 for t in terms):
        raise EmptyQuery("empty query: only words to steer away from; add something to search for")
    return Query(terms, said, named)


def _term(raw: str, sign: float, force_image: bool = False) -> Term:
    weight, body = _split_weight(raw)
    body = body.strip()
    if not body:
        raise EmptyQuery(EMPTY)
    if force_image or _existing_file(body) or _looks_like_path(body):
        return image_term(_image_path(body), sign * weight)
    return text_term(body, sign * weight)


def parse_query(texts: Iterable[str | None] = (), images: Iterable[str] = (),
                negatives: Iterable[str] = (), says: str | None = None, people: Iterable[str] = ()) -> Query:
    """Build a query from CLI-style arguments; raises QueryError for an empty or bad query."""
    terms = [_term(t, 1.0) for t in texts if t is not None]
    terms += [_term(i, 1.0, force_image=True) for i in images]
    terms += [_term(n, -1.0) for n in negatives]
    return build_query(terms, says, people)


def check_options(k: int, min_score: float | None, sort: str) -> None:
    """The search options every face passes, checked in one place."""
    if not 1 <= k <= MAX_K:
        raise QueryError(f"the number of results must be between 1 and {MAX_K}")
    if sort not in SORTS:
        raise QueryError(f"unknown sort order {sort!r}; use one of {', '.join(SORTS)}")
    if min_score is not None and not -1 <= min_score <= 1:  # a cosine; NaN fails the test too
        raise QueryError(min_score_error(min_score))


def combine(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The unit query vector for weighted term vectors."""
    weights = np.asarray(weights, dtype=np.float64)
    scale = float(np.abs(weights).max(initial=0.0))  # ratios are what count: scaled, nothing overflows
    mixed = (weights[:, None] / max(scale, 1e-300) * vectors).sum(axis=0)
    norm = float(np.linalg.norm(mixed))
    if norm < 1e-6:
        raise QueryError("the query's terms cancel each other out; change the weights")
    unit: np.ndarray = (mixed / norm).astype(np.float32)
    return unit


# Requests written where no control checks them (a web page's address, a bookmark): what each
# asks for, kept within what a face offers, and a note whenever that is not what was written.

def shown(written: str, most: int = 40) -> str:
    """`written` quoted for a note, cut short when long."""
    return repr(written if len(written) <= most else written[:most] + "…")


def read_count(written: str, most: int) -> tuple[int, str | None]:
    """The number of results `written` asks for, within 1..`most`; DEFAULT_K for no number."""
    try:
        value = float(written.strip())
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        return DEFAULT_K, f"{shown(written)} is not a number of results: showing {DEFAULT_K}"
    count = min(max(int(value), 1), most)
    if value > most:
        return most, f"at most {most} results at a time, not {shown(written)}: showing {most}"
    if value < 1:
        return 1, f"at least 1 result, not {shown(written)}: showing 1"
    if written != str(count):
        return count, f"{shown(written)} is read as {count}"
    return count, None


def min_score_error(score: object) -> str:
    return f"the minimum score must be a number from -1 to 1, not {score}"


def read_min_score(written: str) -> tuple[float | None, str | None]:
    """The minimum score `written` asks for; None (no minimum) for anything but a cosine."""
    try:
        value = float(written.strip())
    except ValueError:
        value = math.nan
    if not -1 <= value <= 1:  # NaN fails the test too
        return None, f"{min_score_error(shown(written))}: no minimum"
    return value, None


def cut_note(text: str, what: str, most: int) -> str | None:
    """Said of a text longer than a face takes: only its first `most` characters are used."""
    if len(text) <= most:
        return None
    return f"the {what} is too long ({len(text):,} characters; at most {most:,}): only the first {most:,} are used"
