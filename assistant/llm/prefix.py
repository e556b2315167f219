"""The system prompt evaluated once and kept: llama.cpp's prompt-prefix reuse, made reproducible.

Every answer starts with the same system turn (and every quiz draft with its own). Evaluating it costs about a
fifth of the time to first token on two cores. llama-cpp-python already skips the part of a prompt that matches
what its context holds, but the result then depends on what came before: a prompt evaluated in two batches
(prefix earlier, the rest now) gives slightly different numbers than in one, and a small model's greedy text can
change with them (measured: 3 of 8 golden prompts continued differently, bench/prefix_bench.py).

So the split is made the same every time: the system turn is always evaluated as its own batch first, from the
cache when the context still holds it, afresh otherwise, and the rest of the prompt after it. A reply then
depends only on its messages, never on the call before, and the answers evals record are the answers a learner
gets. Runs on the model's worker thread only (a llama.cpp context is not thread-safe).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from assistant.llm.base import Message


@lru_cache(maxsize=4)
def _formatter(template: str, eos: str, bos: str, generation: bool) -> Any:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos, add_generation_prompt=generation)


def _render(llm: Any, messages: list[Message], *, generation: bool) -> str | None:
    """The prompt text the model's own chat template makes of ``messages`` (None: the model has no template)."""
    template = llm.metadata.get("tokenizer.chat_template")
    if not template:
        return None
    eos = llm.detokenize([llm.token_eos()], special=True).decode("utf-8", errors="ignore")
    bos = llm.detokenize([llm.token_bos()], special=True).decode("utf-8", errors="ignore")
    formatter = _formatter(template, eos, bos, generation)
    return str(formatter(messages=[m.model_dump() for m in messages]).prompt)


def system_prefix(llm: Any, messages: list[Message]) -> list[int]:
    """The tokens of the system turn when the whole prompt starts with them, else [] (nothing to reuse)."""
    if len(messages) < 2 or messages[0].role != "system":
        return []
    head = _render(llm, messages[:1], generation=False)
    whole = _render(llm, messages, generation=True)
    if not head or not whole or not whole.startswith(head):
        return []
    prefix = [int(t) for t in llm.tokenize(head.encode("utf-8"), special=True)]
    full = [int(t) for t in llm.tokenize(whole.encode("utf-8"), special=True)]
    # The rest must leave at least one token to evaluate, and tokenising must not merge across the boundary.
    return prefix if len(full) > len(prefix) and full[: len(prefix)] == prefix else []


def prepare_context(llm: Any, messages: list[Message]) -> bool:
    """Leave the context holding exactly the system turn (kept if it is already there, evaluated if not), so the
    completion that follows evaluates only the rest; with no usable prefix, an empty context. Whether the
    system turn came from the cache."""
    prefix = system_prefix(llm, messages)
    if not prefix:
        llm.reset()
        return False
    held = int(llm.n_tokens)
    if held >= len(prefix) and [int(t) for t in llm.input_ids[: len(prefix)]] == prefix:
        llm.n_tokens = len(prefix)  # the completion drops what the context holds beyond this
        return True
    llm.reset()
    llm.eval(prefix)
    return False
