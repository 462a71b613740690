"""The sidebar: which folders to index, the indexing run as it goes, and the index's state."""

from __future__ import annotations

import time
from functools import partial

import streamlit as st

from pixseek.errors import PixseekError
from pixseek.reports import Progress
from pixseek.web import settings, state
from pixseek.jobs import IndexJob, JobState
from pixseek.web.messages import escape, user_errors

POLL_S = 0.5
FOLDERS_KEY = "folders"
START_ERROR_KEY = "index_start_error"


def _typed_folders() -> list[str]:
    return [line.strip() for line in st.session_state.get(FOLDERS_KEY, "").splitlines() if line.strip()]


def _start(cfg: state.Config, job: IndexJob, typed: bool) -> None:
    """Button callback: it runs before the page is drawn, so the progress bar shows at once."""
    folders = _typed_folders() if typed else None
    if typed and not folders:
        st.session_state[START_ERROR_KEY] = "type the folder to index (one per line)"
        return
    if folders:
        settings.save_folders(folders)
    job.start(partial(state.open_library, cfg), folders)


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


def _last_run(current: JobState) -> None:
    if current.error:
        st.error(current.error)
    elif current.report:
        report = current.report
        (st.warning if report.cancelled else st.success)("Last run: " + report.describe())


def _when(timestamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp)) if timestamp else "never"


@user_errors()
def _index_status(cfg: state.Config, job: IndexJob, current: JobState) -> None:
    if not cfg.has_index:
        st.info("No index yet: type a folder above and press **Index images**.")
        return
    library = state.library(cfg)
    status = state.status(library, cfg.index_dir, current.runs)
    st.markdown(f"**Model:** {escape(status.model_id)}  \n**Images:** {status.images:,}  \n"
                f"**Last update:** {_when(status.last_update)}")
    if status.folders:
        st.caption("Folders: " + ", ".join(escape(f) for f in status.folders))
    if not status.consistent:
        st.warning("The index needs attention: " + "; ".join(status.problems))
    if status.skipped:
        with st.expander(f"Skipped files ({status.skipped:,})"):
            rows = state.skipped(library, cfg.index_dir, current.runs)
            st.dataframe({"file": [p for p, _ in rows], "reason": [r for _, r in rows]}, hide_index=True)
    if current.running or not status.folders:
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
    if FOLDERS_KEY not in st.session_state:
        st.session_state[FOLDERS_KEY] = "\n".join(settings.load_folders())
    st.text_area("Folders to index", key=FOLDERS_KEY, height=80, placeholder="/home/me/Pictures",
                 help="One folder per line, searched recursively. Indexing is incremental: "
                      "only new and changed photos are read again.")
    current = job.state()
    st.button("Index images", type="primary", on_click=_start, args=(cfg, job, True), disabled=current.running,
              key="index_images")
    error = st.session_state.pop(START_ERROR_KEY, None)
    if error:
        st.error(error)
    if current.running:
        _while_indexing(cfg, job)
    else:
        _last_run(current)
        _index_status(cfg, job, current)
