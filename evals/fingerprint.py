"""Fingerprints of what the LLM saw: the exact messages, as canonical JSON, hashed."""

from __future__ import annotations

import hashlib
import json

from assistant.llm.base import Message
from assistant.rag import prompts


def canonical(messages: list[Message]) -> str:
    return json.dumps([m.model_dump() for m in messages], sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def fingerprint(messages: list[Message]) -> str:
    """The first call's messages plus the template of the one retry an answer may need (invented figures)."""
    return hashlib.sha256((canonical(messages) + "\n" + prompts.FIGURES_RETRY).encode("utf-8")).hexdigest()


def prompt_template_hash() -> str:
    """A short hash of the answer prompt's fixed parts, recorded in run.json for the report."""
    fixed = json.dumps([prompts.ANSWER_SYSTEM, prompts.DECLINE_TEXT, prompts.FIGURES_RETRY], ensure_ascii=False)
    return hashlib.sha256(fixed.encode("utf-8")).hexdigest()[:16]
