"""The page: indexing in the sidebar; search and results, duplicates, or people in the main area.

`pixseek web` runs this file with `streamlit run`; each browser session reruns it top to
bottom on every interaction, so all it holds is layout.
"""

import streamlit as st

from pathlib import Path

from pixseek.web import address, results, searchbar, sidebar, state

DUPLICATES_PAGE = Path(__file__).with_name("duplicates_app.py")
PEOPLE_PAGE = Path(__file__).with_name("people_app.py")


def search_page() -> None:
    cfg = state.config()
    st.title("pixseek")
    st.caption("Search your own photos by what they show. Everything stays on this machine.")
    fresh = address.fresh()  # what the address brings that the last run did not leave there
    results.render(cfg, searchbar.render(cfg, fresh), fresh)
    address.remember()


def main() -> None:
    st.set_page_config(page_title="pixseek", page_icon="🔎", layout="wide")
    page = st.navigation([st.Page(search_page, title="Search", icon=":material/search:", default=True),
                          st.Page(DUPLICATES_PAGE, title="Duplicates", icon=":material/content_copy:", url_path="duplicates"),
                          st.Page(PEOPLE_PAGE, title="People", icon=":material/group:", url_path="people")])
    with st.sidebar:
        sidebar.render(state.config())
    page.run()


if __name__ == "__main__":
    main()
