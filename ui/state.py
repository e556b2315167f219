"""Per-browser-session state for the Streamlit pages: one Tutor per session."""

from __future__ import annotations

import re
import uuid

import streamlit as st

from assistant.services import Tutor
from assistant.settings import load_settings


def get_tutor() -> Tutor:
    """The session's Tutor (heavy models are shared process-wide by their own caches)."""
    if "tutor" not in st.session_state:
        st.session_state.tutor = Tutor(load_settings(), session_id=session_id())
    tutor: Tutor = st.session_state.tutor
    _see_new_ingests(tutor)
    return tutor


def session_id() -> str:
    """The learner's app session, kept in the address (``?session=``) so that a reload continues it: "this
    session" on the Costs page and the session budget do not start again at zero on F5. Streamlit clears
    query parameters on every page switch, so the app puts it back on every run (``app.py``)."""
    sid = st.session_state.get("session_id") or st.query_params.get("session", "")
    if not re.fullmatch(r"[0-9a-f]{12}", sid):
        sid = uuid.uuid4().hex[:12]
    st.session_state.session_id = sid
    if st.query_params.get("session") != sid:
        st.query_params["session"] = sid
    return sid


def _see_new_ingests(tutor: Tutor) -> None:
    """After an ingest by another process (`tutor ingest`), reopen the index so this session sees it."""
    try:
        stamp = (tutor.settings.data_dir / "last-ingest.json").stat().st_mtime_ns
    except OSError:
        return
    if st.session_state.setdefault("index_stamp", stamp) != stamp:
        st.session_state.index_stamp = stamp
        tutor.refresh_index()
