"""What a recording will cost, worked out before its first call, with the shared ``CostEstimator``.

Answers: the exact messages each item will send (retrieval already ran), counted by the accounting
layer, output at ``MAX_ANSWER_TOKENS`` (an upper bound). Judge: ragas' own prompts rendered with the
item's question, contexts and reference, and a placeholder of typical answer length for the answer
that does not exist yet; output at the judge's token limit.
"""

from __future__ import annotations

import warnings
from typing import Any

from assistant.accounting.accounted import AccountedChatModel
from assistant.accounting.estimate import CostEstimate, CostEstimator
from assistant.llm.base import Message

# Throughput of the embedded 1.5B model on an idle 2-core machine (prompt, generated tokens per second);
# only used for the displayed duration estimate of local runs.
LOCAL_PROMPT_TPS = 55.0
LOCAL_GEN_TPS = 17.0
TYPICAL_ANSWER_TOKENS = 150  # answers are usually far below MAX_ANSWER_TOKENS
TYPICAL_JUDGE_OUTPUT = 120  # a typical ragas JSON verdict


def judge_prompts(question: str, reference: str, contexts: list[str]) -> list[str]:
    """The judge calls ragas will make for one item (2 faithfulness, 1 relevancy)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ragas.metrics._answer_relevance import ResponseRelevanceInput, ResponseRelevancePrompt
        from ragas.metrics._faithfulness import (
            NLIStatementInput,
            NLIStatementPrompt,
            StatementGeneratorInput,
            StatementGeneratorPrompt,
        )
    answer = " ".join(["answer"] * TYPICAL_ANSWER_TOKENS)
    joined = "\n".join(contexts)
    return [
        StatementGeneratorPrompt().to_string(StatementGeneratorInput(question=question, answer=answer)),
        NLIStatementPrompt().to_string(NLIStatementInput(context=joined, statements=[answer])),
        ResponseRelevancePrompt().to_string(ResponseRelevanceInput(response=answer)),
    ]


class RunEstimate:
    def __init__(self, repeats: int) -> None:
        self.repeats = repeats
        self.estimator = CostEstimator("eval recording")

    def answer(self, llm: AccountedChatModel, messages: list[Message], max_tokens: int) -> None:
        self.estimator.chat(llm, messages, max_tokens, label="answers", repeat=self.repeats)

    def judged(
        self, judge: AccountedChatModel, max_tokens: int, question: str, reference: str, contexts: list[str]
    ) -> None:
        for prompt in judge_prompts(question, reference, contexts):
            messages = [Message(role="user", content=prompt)]
            self.estimator.chat(judge, messages, max_tokens, label="judge", repeat=self.repeats)

    def result(self) -> CostEstimate:
        return self.estimator.result()


def local_seconds(estimate: CostEstimate) -> float | None:
    """A rough duration for the calls that run on the embedded model (typical, not maximal, output)."""
    seconds, local = 0.0, False
    for line in estimate.lines:
        if line.provider != "local":
            continue
        local = True
        typical = TYPICAL_ANSWER_TOKENS if line.label == "answers" else TYPICAL_JUDGE_OUTPUT
        seconds += line.prompt_tokens / LOCAL_PROMPT_TPS + line.calls * typical / LOCAL_GEN_TPS
    return round(seconds, 1) if local else None


def as_dict(estimate: CostEstimate) -> dict[str, Any]:
    return {**estimate.model_dump(mode="json"), "local_seconds": local_seconds(estimate)}
