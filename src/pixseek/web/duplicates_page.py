"""The Duplicates page: groups of exact copies and near-duplicates side by side, the copy worth
keeping first. It only shows: deleting is left to the person, in their own file manager."""

from __future__ import annotations

import os

import streamlit as st

from pixseek.engine.results import DEFAULT_THRESHOLD, DuplicateGroup
from pixseek.engine.results import human_size, plural
from pixseek.web import state
from pixseek.web.messages import escape, user_errors
from pixseek.web.results import THUMBNAIL_PX, thumbnail_or_none

GROUPS_KEY = "duplicate_groups"
MAX_GROUPS = 100
COLUMNS = 4


def _find(cfg: state.Config) -> None:
    with user_errors():
        st.session_state[GROUPS_KEY] = state.library(cfg).duplicates(
            threshold=st.session_state.get("dup_threshold"), folder=(st.session_state.get("dup_folder") or "").strip()
            or None)


def _group(cfg: state.Config, number: int, group: DuplicateGroup) -> None:
    library = state.library(cfg)
    kind = "exact copies" if group.exact else "near-duplicates"
    st.subheader(f"Group {number}: {len(group.photos)} {kind}")
    for start in range(0, len(group.photos), COLUMNS):
        for column, photo in zip(st.columns(COLUMNS), group.photos[start:start + COLUMNS]):
            with column:
                thumbnail = thumbnail_or_none(library, photo.path, THUMBNAIL_PX)
                if thumbnail:
                    st.image(thumbnail, width="stretch", alt=os.path.basename(photo.path))
                badge = "**best copy** · " if photo is group.photos[0] else (
                    "exact copy · " if photo.same_as_best else f"similarity {photo.similarity:.3f} · ")
                st.caption(badge + escape(os.path.basename(photo.path)))
                st.caption(escape(f"{photo.width}x{photo.height} px · {human_size(photo.size)}"
                                  + (f" · {photo.metadata.local_time:%Y-%m-%d %H:%M}" if photo.metadata else "")))
                st.code(photo.path, language=None, wrap_lines=True)


def render(cfg: state.Config) -> None:
    st.title("Duplicates")
    st.caption("Exact copies (the same bytes) and near-duplicates (resized, recompressed, lightly cropped or "
               "edited copies; a RAW photo and its JPEG). The best copy comes first: the most pixels, then the "
               "largest file, then the oldest. Nothing is deleted here.")
    if not cfg.has_index:
        st.info("No index yet: type a folder in the sidebar and press **Index images**.")
        return
    with st.form("duplicates", border=False):
        left, right = st.columns([3, 2])
        left.text_input("Only in this folder", key="dup_folder", placeholder="all indexed folders")
        right.slider("Similarity threshold (CLIP cosine)", 0.5, 1.0, DEFAULT_THRESHOLD, 0.01, key="dup_threshold",
                     help="Near-duplicates also need perceptual hashes that agree; see docs/duplicates.md")
        if st.form_submit_button("Find duplicates", type="primary"):
            _find(cfg)
    groups = st.session_state.get(GROUPS_KEY)
    if groups is None:
        return
    if not groups:
        st.success("No duplicates found.")
        return
    extra = len(groups) - MAX_GROUPS
    st.caption(f"{plural(len(groups), 'group')}, {plural(sum(len(g.photos) for g in groups), 'photo')}"
               + (f"; the first {MAX_GROUPS} are shown" if extra > 0 else ""))
    for number, group in enumerate(groups[:MAX_GROUPS], 1):
        _group(cfg, number, group)
