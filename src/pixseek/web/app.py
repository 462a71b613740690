"""The page: indexing in the sidebar, search and results in the main area.

`pixseek web` runs this file with `streamlit run`; each browser session reruns it top to
bottom on every interaction, so all it holds is layout.
"""

import streamlit as st

from pixseek.web import results, searchbar, sidebar, state


def main() -> None:
    st.set_page_config(page_title="pixseek", page_icon="🔎", layout="wide")
    cfg = state.config()
    with st.sidebar:
        sidebar.render(cfg)
    st.title("pixseek")
    st.caption("Search your own photos by what they show. Everything stays on this machine.")
    results.render(cfg, searchbar.render(cfg))


if __name__ == "__main__":
    main()
