"""Build the configured chat model."""

from __future__ import annotations

from assistant.llm.base import ChatModel
from assistant.llm.model_files import MODELS, ModelStore
from assistant.settings import Settings


def build_chat_model(settings: Settings, store: ModelStore | None = None) -> ChatModel:
    if settings.provider == "openai":
        from assistant.llm.openai_compat import OpenAIChatModel

        return OpenAIChatModel(
            model=settings.chat_model,
            base_url=settings.openai_base_url,
            api_key=settings.api_key,
            timeout_s=settings.llm_timeout_s,
            max_retries=settings.llm_max_retries,
            default_max_tokens=settings.max_answer_tokens,
            default_temperature=settings.temperature,
        )
    from assistant.llm.local import LocalChatModel

    spec = MODELS[settings.local_model]
    path = (store or ModelStore(settings.models_dir)).verified_path(spec)
    return LocalChatModel(
        path,
        spec.name,
        n_ctx=settings.n_ctx,
        n_threads=settings.n_threads,
        default_max_tokens=settings.max_answer_tokens,
        default_temperature=settings.temperature,
    )
