"""Errors a user can act on.

Every error that reaches the command line or the UI is a ``TutorError``: one line that says what went
wrong and how to fix it. Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class TutorError(Exception):
    """An error with a one-line message and a fix the user can apply."""

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message} Fix: {self.fix}" if self.fix else self.message


class SettingsError(TutorError):
    """A setting is missing or invalid."""


class ModelFileError(TutorError):
    """The embedded model file is missing, incomplete or fails its checksum."""


class LLMError(TutorError):
    """A chat model call failed (auth, missing model, timeout, server error)."""


class BudgetExceededError(TutorError):
    """A call was refused before it was sent because it would exceed a spending cap."""


class IndexError_(TutorError):
    """The vector index is missing, damaged, or built with another embedding model."""


class StructuredOutputError(TutorError):
    """The model did not produce output matching the requested schema after retries."""
