"""Per-browser-session state for the Streamlit pages: one Tutor per session."""

from __future__ import annotations

import streamlit as st

from assistant.services import Tutor
from assistant.settings import load_settings


def get_tutor() -> Tutor:
    """The session's Tutor (heavy models are shared process-wide by their own caches)."""
    if "tutor" not in st.session_state:
        st.session_state.tutor = Tutor(load_settings())
    tutor: Tutor = st.session_state.tutor
    return tutor
