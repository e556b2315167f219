"""Waiting for the one local model: a page shows its place in line while other sessions are served.

The embedded model answers one request at a time (``assistant.llm.worker``). Inside :func:`queue_notice`
a waiting page says how many requests are ahead of its own and offers to stop; the notice goes once
its request runs. A Streamlit stop (the Stop button, a rerun, a closed tab) raised while it waits or
streams takes the request out of the line.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from assistant.llm.worker import on_queue


def waiting_text(ahead: int) -> str:
    requests = "request" if ahead == 1 else "requests"
    return f"Waiting: {ahead} {requests} ahead of yours. The local model serves one at a time."


@contextmanager
def queue_notice(stop_key: str) -> Iterator[None]:
    """Within this block, the page shows its place in line and a Stop button while it waits or runs."""
    notice = st.empty()
    stop = st.empty()
    stop.button("Stop", key=stop_key, help="Stop this request (it leaves the line, or stops generating).")

    def show(ahead: int) -> None:
        if ahead:
            notice.info(waiting_text(ahead))
        else:
            notice.empty()

    try:
        with on_queue(show):
            yield
    finally:
        notice.empty()
        stop.empty()
