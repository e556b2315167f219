"""The study app (Streamlit). Run with `tutor serve` or `make run`.

Each page is a module in ``ui/pages/``. Untrusted text (documents, model output) is shown through
``safe_markdown`` or as plain text, never as raw HTML.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from assistant.errors import TutorError
from ui.state import get_tutor, session_id

PAGES = Path(__file__).parent / "pages"


def review_title() -> str:
    """The Review page's name, with how many items are due today (a badge in the sidebar)."""
    try:
        due = len(get_tutor().progress.due())
    except TutorError:
        return "Review"
    return f"Review ({due} due)" if due else "Review"


st.set_page_config(page_title="roadmap-tutor", layout="wide")
session_id()  # before the pages: a reload continues this session
navigation = st.navigation(
    [
        st.Page(PAGES / "chat.py", title="Chat", default=True),
        st.Page(PAGES / "quiz.py", title="Quiz"),
        st.Page(PAGES / "interview.py", title="Interview"),
        st.Page(PAGES / "review.py", title=review_title()),
        st.Page(PAGES / "progress.py", title="Progress"),
        st.Page(PAGES / "costs.py", title="Costs"),
        st.Page(PAGES / "library.py", title="Library"),
        # further pages register here, one line each
    ]
)
navigation.run()
