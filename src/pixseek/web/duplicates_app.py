"""The Duplicates page's script (Streamlit runs pages from files; the page lives in duplicates_page.py)."""

from pixseek.web import duplicates_page, state

duplicates_page.render(state.config())
