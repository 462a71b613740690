"""The sidebar: the index's folders (their photo counts, a missing one marked, each removable),
adding folders, the indexing run as it goes, and the index's state.

The folders listed are the index's own, the ones every search covers: what is typed to add
folders is cleared once their indexing starts. The state is looked at again every IDLE_POLL_S
without a reload (a folder changed on disk shows its update button), and every POLL_S while a
run goes on (the count of photos grows with each saved batch).
"""

from __future__ import annotations

import time
from functools import partial

import streamlit as st

from pixseek.errors import PixseekError
from pixseek.engine.results import FolderInfo, Progress
from pixseek.serving.jobs import IndexJob, JobState
from pixseek.web import state
from pixseek.web.messages import escape, user_errors

POLL_S = 0.5
IDLE_POLL_S = 10
FOLDERS_KEY = "folders"
ERROR_KEY = "index_start_error"


def _typed_folders() -> list[str]:
    return [line.strip() for line in st.session_state.get(FOLDERS_KEY, "").splitlines() if line.strip()]


def _read_text(cfg: state.Config, job: IndexJob, on: bool) -> None:
    """Toggle callback: a run that keeps the new setting, and reads the photos' words when it is on."""
    job.start(partial(state.open_library, cfg), None, read_text=on)


def _start(cfg: state.Config, job: IndexJob, typed: bool) -> None:
    """Button callback: it runs before the page is drawn, so the progress bar shows at once."""
    folders = _typed_folders() if typed else None
    if typed and not folders:
        st.session_state[ERROR_KEY] = "type the folder to index (one per line)"
        return
    if job.start(partial(state.open_library, cfg), folders) and typed:
        st.session_state[FOLDERS_KEY] = ""  # from now on they are in the index's list (or the run says why not)


def _rebuild(cfg: state.Config, job: IndexJob, model: str) -> None:
    job.start(partial(state.open_library, cfg, False), None, rebuild_for=model)


def _model_mismatch(cfg: state.Config, job: IndexJob, model_id: str, running: bool) -> None:
    """The index was built with another model than the app's: say so, and offer the rebuild."""
    wanted = state.library(cfg).rebuild_for
    if wanted is None:
        return
    st.warning(f"This index was built with {escape(model_id)}; the app was started with {escape(wanted)}. "
               f"Searches use {escape(model_id)} until the index is rebuilt for {escape(wanted)}.")
    st.button(f"Rebuild for {wanted}", key="rebuild_index", disabled=running, on_click=_rebuild, args=(cfg, job, wanted),
              help="Every photo is read again; this index keeps answering searches until the new one is complete")


def _remove(cfg: state.Config, folder: str) -> None:
    try:
        removed = state.library(cfg).remove(folder)
    except PixseekError as error:
        st.session_state[ERROR_KEY] = str(error)
        return
    state.forget()
    st.toast(f"Removed {folder} from the index ({removed:,} photos)")


def _duration(seconds: float) -> str:
    seconds = int(seconds + 0.5)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def progress_text(progress: Progress | None) -> str:
    if progress is None:
        return "Looking for new and changed photos…"
    eta = progress.eta
    parts = [f"{progress.done:,} / {progress.total:,} photos", f"{progress.rate:.1f} photos/s",
             f"about {_duration(eta)} left" if eta is not None else "estimating time left"]
    if progress.skipped:
        parts.append(f"{progress.skipped:,} skipped")
    return " · ".join(parts)


@st.fragment(run_every=POLL_S)
def _while_indexing(cfg: state.Config, job: IndexJob) -> None:
    """Redrawn alone every POLL_S while a run goes on; the rest of the page stays usable."""
    current = job.state()
    if not current.running:
        st.rerun()  # the run ended: redraw the whole page with the new status
    progress = current.progress
    st.progress(progress.fraction if progress else 0.0, text=progress_text(progress))
    st.button("Stopping…" if current.cancelling else "Cancel", on_click=job.cancel, disabled=current.cancelling,
              key="cancel_index")
    _index_status(cfg, job, current)


@st.fragment(run_every=IDLE_POLL_S)
def _while_idle(cfg: state.Config, job: IndexJob) -> None:
    current = job.state()
    if current.running:
        st.rerun()  # a run started (from another browser tab): show its progress
    _last_run(current)
    _index_status(cfg, job, current)


def _last_run(current: JobState) -> None:
    if current.error:
        st.error(current.error)
    elif current.report:
        report = current.report
        (st.warning if report.cancelled else st.success)("Last run: " + report.describe())


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "never"


def _folder_row(cfg: state.Config, folder: FolderInfo, index: int, running: bool) -> None:
    with st.container(horizontal=True, vertical_alignment="center", gap="small"):
        missing = f" · **missing**: {escape(folder.missing_note)}" if folder.missing_note else ""
        st.caption(f"{escape(folder.path)} · {folder.images:,} photos{missing}")
        st.button("Remove", key=f"remove_{index}", type="tertiary", disabled=running, on_click=_remove,
                  args=(cfg, folder.path), help="Drop this folder and its photos from the index (the files stay)")


@user_errors()
def _index_status(cfg: state.Config, job: IndexJob, current: JobState) -> None:
    if not cfg.has_index:
        st.info("No index yet: type a folder above and press **Index images**.")
        return
    library = state.library(cfg)
    if current.running:  # a cheap status, every POLL_S: the count grows with each saved batch
        status, folders = library.status(check=False), library.folder_details()
    else:
        status, folders = state.status(library, cfg.index_dir, current.runs), state.folders(library, cfg.index_dir,
                                                                                           current.runs)
    warning = f"  \n:orange[**Warning:** {escape(library.model_warning)}]" if library.model_warning else ""
    st.markdown(f"**Model:** {escape(status.model_id)}{warning}  \n**Images:** {status.images:,}  \n"
                f"**Last update:** {_when(status.last_update)}")
    _model_mismatch(cfg, job, status.model_id, current.running)
    # No key: the toggle shows the index's own setting on every draw (another tab or process may change it).
    st.toggle("Read the words in photos", value=status.reads_text, disabled=current.running, on_change=_read_text,
              args=(cfg, job, not status.reads_text),
              help="Words written in photos (signs, receipts, screenshots) become searchable under "
                   "'The photo says'. Turned off, no photo is read; words already read stay.")
    st.caption(f"Text: {status.text_read:,} photos read, {status.text_found:,} with words")
    if folders:
        st.markdown("**Folders in the index**")
        for index, folder in enumerate(folders):
            _folder_row(cfg, folder, index, current.running)
    if not status.consistent:
        st.warning("The index needs attention: " + "; ".join(status.problems))
    if status.skipped:
        with st.expander(f"Skipped files ({status.skipped:,})"):
            rows = state.skipped(library, cfg.index_dir, current.runs)
            st.dataframe({"file": [p for p, _ in rows], "reason": [r for _, r in rows]}, hide_index=True)
    if current.running or not any(f.present for f in folders):
        return
    try:
        summary = state.changes(library, cfg.index_dir, current.runs)
    except PixseekError as error:
        st.warning(str(error))
        return
    if summary.has_changes:
        st.warning(f"The folders changed since the last index: {summary.describe()}.")
        st.button("Update index", on_click=_start, args=(cfg, job, False), key="update_index")


def render(cfg: state.Config) -> None:
    job = state.index_job(cfg.index_dir)
    st.header("Index")
    st.text_area("Add folders to index", key=FOLDERS_KEY, height=80, placeholder="/home/me/Pictures",
                 help="One folder per line, searched recursively. Indexing is incremental: "
                      "only new and changed photos are read again.")
    current = job.state()
    st.button("Index images", type="primary", on_click=_start, args=(cfg, job, True), disabled=current.running,
              key="index_images")
    error = st.session_state.pop(ERROR_KEY, None)
    if error:
        st.error(error)
    if current.running:
        _while_indexing(cfg, job)
    else:
        _while_idle(cfg, job)
