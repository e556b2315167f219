"""Follow-up questions made standalone, so retrieval searches for what the learner means.

"Which of those matters most for transformers?" means nothing to a search index on its own. A cheap rule
decides first: a question that refers back (those, it, they, that one, the first, ...) with a conversation
behind it is rewritten by the chat model into a self-contained question; any other question is searched
as written, with no model call. A rewrite that comes back empty, too long, or as an answer instead of a
question falls back to the previous question followed by this one, which still carries the topic.
"""

from __future__ import annotations

import re

from assistant.llm.base import ChatModel, Completion, Message
from assistant.text import content_words

_REFERS_BACK = re.compile(
    r"\b(?:it|its|they|them|their|those|these|that|this|he|she|one|ones|former|latter|above|previous|"
    r"same|such|there|then|more|else|other|others|another|first|second|third|last)\b",
    re.IGNORECASE,
)
_FOLLOW_UP_START = re.compile(r"^\s*(?:and|but|also|so|what about|how about|why|why not|then|ok|okay)\b", re.I)
REWRITE_SYSTEM = (
    "Rewrite the learner's last question so that it can be understood without the conversation. "
    "Replace words such as it, they, those and that one with what they refer to. Keep the learner's wording "
    "otherwise. Reply with the rewritten question only, on one line; do not answer it."
)
MAX_REWRITE_CHARS = 300


def refers_back(question: str) -> bool:
    """Whether the question leans on earlier turns: a referring word, or a short "and ...?" opener."""
    return bool(_REFERS_BACK.search(question) or _FOLLOW_UP_START.search(question))


def _last_user(history: list[Message]) -> str:
    return next((m.content for m in reversed(history) if m.role == "user"), "")


_QUESTION_START = re.compile(
    r"^(?:how|what|which|why|when|where|who|whom|whose|should|shall|can|could|would|will|is|are|was|were|do|"
    r"does|did|has|have|explain|list|describe|compare|give|tell)\b",
    re.IGNORECASE,
)


def _usable(rewrite: str, question: str, history: list[Message]) -> bool:
    """A rewrite is a single question on the conversation's topic, not an answer or a refusal."""
    if not rewrite or len(rewrite) > MAX_REWRITE_CHARS or "\n" in rewrite.strip():
        return False
    if not (rewrite.rstrip().endswith("?") or _QUESTION_START.match(rewrite)):
        return False
    known = set(content_words(question + " " + " ".join(m.content for m in history)))
    return bool(known & set(content_words(rewrite)))


def standalone_question(question: str, history: list[Message] | None, llm: ChatModel) -> tuple[str, Completion | None]:
    """The question made self-contained for search (the question itself when it needs no rewrite), and the
    rewrite call's completion when one was made (its tokens count towards the answer)."""
    history = [m for m in history or [] if m.role in ("user", "assistant")]
    previous = _last_user(history)
    if not previous or not refers_back(question):
        return question, None
    turns = "\n".join(f"{m.role}: {' '.join(m.content.split())[:400]}" for m in history[-4:])
    messages = [
        Message(role="system", content=REWRITE_SYSTEM),
        Message(role="user", content=f"Conversation:\n{turns}\n\nLast question: {question}\n\nRewritten question:"),
    ]
    completion = llm.complete(messages, max_tokens=60, temperature=0.0)
    rewrite = re.sub(r"^(?:rewritten question|question)\s*:\s*", "", completion.text.strip().strip('"'), flags=re.I)
    rewrite = rewrite.strip()
    return (rewrite if _usable(rewrite, question, history) else f"{previous} {question}"), completion
