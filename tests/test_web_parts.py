"""The web app's parts that need no page: the server command, progress text, the job."""

from __future__ import annotations

import time
from functools import partial

from pixseek.cli import build_parser
from pixseek.library import Library
from pixseek.engine.results import Progress
from pixseek.serving.jobs import IndexJob
from pixseek.web import launch
from pixseek.web.sidebar import progress_text


def _option(cmd: list[str], name: str) -> list[str]:
    return [cmd[i + 1] for i, part in enumerate(cmd) if part == name]


def test_server_binds_to_localhost_and_serves_no_static_folder():
    cmd = launch.command(build_parser().parse_args(["web"]))
    assert cmd[1:4] == ["-m", "streamlit", "run"] and cmd[4] == str(launch.APP)
    assert _option(cmd, "--server.address") == ["127.0.0.1"] and _option(cmd, "--server.port") == ["8501"]
    assert _option(cmd, "--server.enableStaticServing") == ["false"]
    assert _option(cmd, "--server.headless") == ["true"] and _option(cmd, "--browser.gatherUsageStats") == ["false"]
    assert _option(cmd, "--server.maxUploadSize") == ["50"] and _option(cmd, "--client.showErrorDetails") == ["none"]
    assert sorted(_option(cmd, "--server.allowedHosts")) == ["127.0.0.1", "::1", "localhost"]


def test_host_flag_exposes_it():
    args = build_parser().parse_args(["web", "--host", "0.0.0.0", "--port", "9000"])
    cmd = launch.command(args)
    assert _option(cmd, "--server.address") == ["0.0.0.0"] and not _option(cmd, "--server.allowedHosts")
    assert launch.url(args) == "http://localhost:9000/"


def test_index_model_and_device_reach_the_app_through_the_engines_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = launch.environment(build_parser().parse_args(["web", "--index", "idx", "--model", "m", "--device", "cpu"]))
    assert (env["PIXSEEK_INDEX"], env["PIXSEEK_MODEL"], env["PIXSEEK_DEVICE"]) == (str(tmp_path / "idx"), "m", "cpu")


def test_progress_text_shows_counts_rate_and_time_left():
    assert progress_text(Progress(30, 120, 28, 1, 1, 10.0, 3.0)) == \
        "30 / 120 photos · 3.0 photos/s · about 30 s left · 1 skipped"
    assert progress_text(Progress(0, 5000, 0, 0, 0, 0.1, 0.0)).endswith("estimating time left")
    assert "about 1 h 23 min left" in progress_text(Progress(10, 5000, 10, 0, 0, 10, 1.0))


def _finish(job: IndexJob):
    deadline = time.monotonic() + 60
    while job.state().running:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return job.state()


def test_job_indexes_in_the_background_and_cancels(pixseek_home, photo_dir):
    job = IndexJob()
    opener = partial(Library.open, create=True)
    assert job.start(opener, [str(photo_dir)]) and not job.start(opener, [str(photo_dir)])
    job.cancel()
    first = _finish(job)
    assert first.report.cancelled and first.runs == 1 and not first.cancelling
    assert job.start(opener, None)  # None: the folders already indexed
    second = _finish(job)
    assert not second.report.cancelled and second.report.indexed + second.report.unchanged == 12
    assert second.progress.done == second.progress.total and second.runs == 2 and second.error is None
