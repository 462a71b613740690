"""The web app with a hostile address: ids past SQLite's integers or written in other digits
name no photo (no Streamlit error box), and the random stand-in model is named as such."""

from __future__ import annotations

import pytest

from test_web_app import _app, _index, _messages, fresh_caches  # noqa: F401 (an autouse fixture)


@pytest.mark.parametrize("params", [{"view": 2**63}, {"like": 2**63}, {"view": 10**30, "like": 2**64},
                                    {"view": "²"}, {"like": "٣"}, {"view": "-1"}, {"view": "1.5"}])
def test_odd_ids_in_the_address_are_no_crash(pixseek_home, photo_dir, params):
    at = _app()
    _index(at, photo_dir)
    for name, value in params.items():
        at.query_params[name] = str(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_the_sidebar_names_a_random_stand_in(pixseek_home, photo_dir):
    at = _app()
    _index(at, photo_dir)
    shown = [m.replace("\\", "") for m in _messages(at.sidebar.markdown)]  # as markdown-escaped text
    assert any("has random weights, a stand-in for testing" in m for m in shown), shown
