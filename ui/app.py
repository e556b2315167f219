"""The study app (Streamlit). Run with `tutor serve` or `make run`.

Each page is a module in ``ui/pages/``. Untrusted text (documents, model output) is shown through
``safe_markdown`` or as plain text, never as raw HTML.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="roadmap-tutor", layout="wide")
navigation = st.navigation(
    [
        st.Page(PAGES / "chat.py", title="Chat", default=True),
        st.Page(PAGES / "quiz.py", title="Quiz"),
        st.Page(PAGES / "interview.py", title="Interview"),
        st.Page(PAGES / "progress.py", title="Progress"),
        st.Page(PAGES / "costs.py", title="Costs"),
        st.Page(PAGES / "library.py", title="Library"),
        # further pages register here, one line each
    ]
)
navigation.run()
