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
    _see_new_ingests(tutor)
    return tutor


def _see_new_ingests(tutor: Tutor) -> None:
    """After an ingest by another process (`tutor ingest`), reopen the index so this session sees it."""
    try:
        stamp = (tutor.settings.data_dir / "last-ingest.json").stat().st_mtime_ns
    except OSError:
        return
    if st.session_state.setdefault("index_stamp", stamp) != stamp:
        st.session_state.index_stamp = stamp
        tutor.refresh_index()
