"""One way to open our SQLite files (the cost ledger, the learner's progress): WAL, a busy timeout, and
database errors turned into one line that names the file and the fix, never a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.errors import TutorError

DAMAGE = ("file is not a database", "malformed", "disk image", "file is encrypted")


@contextmanager
def connect(path: Path, what: str, *, synchronous: str = "NORMAL") -> Iterator[sqlite3.Connection]:
    """A connection to ``path`` (``what`` names it in errors: "cost ledger", "progress store")."""
    try:
        db = sqlite3.connect(path, timeout=30, isolation_level=None)
    except sqlite3.Error as exc:
        raise _error(path, what, exc) from None
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(f"PRAGMA synchronous={synchronous}")
        db.execute("PRAGMA busy_timeout=30000")
        yield db
    except sqlite3.DatabaseError as exc:
        raise _error(path, what, exc) from None
    finally:
        db.close()


def _error(path: Path, what: str, exc: sqlite3.Error) -> TutorError:
    reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
    if any(mark in reason for mark in DAMAGE):
        return TutorError(
            f"The {what} at {path} is damaged ({reason}).",
            f"move it aside (`mv {path} {path}.damaged`); a new, empty one is started on the next run.",
        )
    if "locked" in reason or "busy" in reason:
        return TutorError(f"The {what} at {path} is busy ({reason}).", "wait for the other process, then retry.")
    return TutorError(
        f"The {what} at {path} could not be used ({reason}).", "check the folder's permissions and free space."
    )
