"""The People page's script (Streamlit runs pages from files; the page lives in people_page.py)."""

from pixseek.web import people_page, state

people_page.render(state.config())
