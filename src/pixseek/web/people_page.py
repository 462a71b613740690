"""The People page: a grid of the people the faces are grouped into, each shown by its best face,
named in place; each person's faces on demand, where a wrong one is split out or marked "not a
face"; two people merged. Everything it does is one Library call (names and corrections are the
engine's; see docs/people.md)."""

from __future__ import annotations

import html
import os
import urllib.parse

import streamlit as st

from pixseek.engine.results import plural
from pixseek.errors import PixseekError
from pixseek.library import Library
from pixseek.people.store import Person
from pixseek.web import state
from pixseek.web.messages import escape, user_errors

MAX_PEOPLE = 60  # shown at once, those in the most photos first
MAX_FACES = 24  # of one person, the best first
COLUMNS = 6
FACE_PX = 160
OPEN_KEY = "people_open"  # the person whose faces are shown


def _face(library: Library, face_id: int | None) -> bytes | None:
    if face_id is None:
        return None
    return _face_jpeg(library, face_id)


@st.cache_data(max_entries=2000, show_spinner=False, hash_funcs={Library: id})
def _face_jpeg(library: Library, face_id: int) -> bytes | None:
    """A face's picture, made once per Library and face, since every rerun of the page would
    decode its photos again. Within one catalog a face id is never reused (a changed photo's
    faces get new ones); a catalog replaced (a reindex) is read by a new Library."""
    try:
        return library.face_thumbnail(face_id, FACE_PX)
    except PixseekError:
        return None  # the photo moved or changed since: the tile says so


def _title(person: Person) -> str:
    return person.name or f"person {person.id}"


def _name(library: Library, person: Person) -> None:
    with user_errors():
        library.name_person(person.id, st.session_state.get(f"name_{person.id}", ""))
        st.toast(f"Named {st.session_state.get(f'name_{person.id}')}")


def _tile(library: Library, person: Person) -> None:
    picture = _face(library, person.cover)
    if picture:
        st.image(picture, width="stretch")
    else:
        st.caption("no preview: the photo has moved or changed")
    st.caption(f"**{escape(_title(person))}** · {plural(person.photos, 'photo')}")
    with st.form(f"person_{person.id}", border=False):
        st.text_input("Name", value=person.name or "", key=f"name_{person.id}", label_visibility="collapsed",
                      placeholder="Add a name")
        if st.form_submit_button("Save name"):
            _name(library, person)
            st.rerun()
    with st.container(horizontal=True):
        if st.button("Faces", key=f"open_{person.id}"):
            st.session_state[OPEN_KEY] = person.id
        search = "/?" + urllib.parse.urlencode({"person": person.name or str(person.id)})
        st.html(f'<a href="{html.escape(search)}" target="_self">Photos</a>')


def _faces(library: Library, person_id: int) -> None:
    with user_errors():
        person = library.person(person_id)
        faces = library.person_faces(person_id, MAX_FACES)
        st.subheader(f"{_title(person)}: {plural(person.faces, 'face')} in {plural(person.photos, 'photo')}")
        for start in range(0, len(faces), COLUMNS):
            for column, face in zip(st.columns(COLUMNS), faces[start:start + COLUMNS]):
                with column:
                    picture = _face(library, face.id)
                    if picture:
                        st.image(picture, width="stretch")
                    at = f" at {face.seconds:.0f} s" if face.seconds is not None else ""  # a face in a video
                    st.caption(escape(os.path.basename(face.path)) + at)
                    if st.button("Not this person", key=f"split_{face.id}"):
                        library.split_face(face.id)
                        st.rerun()
                    if st.button("Not a face", key=f"notface_{face.id}"):
                        library.not_a_face(face.id)
                        st.rerun()


def _merge(library: Library, people: list[Person]) -> None:
    if len(people) < 2:
        return
    with st.expander("Merge two people who are one"), st.form("merge", border=False):
        titles = {f"{_title(p)} (#{p.id})": p.id for p in people}
        keep = st.selectbox("Keep", list(titles))
        other = st.selectbox("and give it every face of", list(titles), index=1)
        if st.form_submit_button("Merge"):
            with user_errors():
                library.merge_people(titles[keep], titles[other])
                st.rerun()


def render(cfg: state.Config) -> None:
    st.title("People")
    st.caption("The faces in your photos, grouped into people. Name a person to search for them "
               "(`pixseek search --person NAME`). Face data never leaves this machine.")
    if not cfg.has_index:
        st.info("No index yet: type a folder in the sidebar and press **Index images**.")
        return
    library = state.library(cfg)
    with user_errors():
        people = library.people()
        if not people:
            found = library.status(check=False)
            st.info("No people yet." + ("" if found.finds_faces else
                                        " Finding faces is off: install a face model (`pixseek people install`), "
                                        "then index again."))
            return
        st.caption(f"{plural(len(people), 'person', 'people')}"
                   + (f"; the {MAX_PEOPLE} in the most photos are shown" if len(people) > MAX_PEOPLE else ""))
        _merge(library, people)
        shown = people[:MAX_PEOPLE]
        for start in range(0, len(shown), COLUMNS):
            for column, person in zip(st.columns(COLUMNS), shown[start:start + COLUMNS]):
                with column:
                    _tile(library, person)
        opened = st.session_state.get(OPEN_KEY)
        if opened is not None:
            _faces(library, opened)
