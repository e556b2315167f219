"""The composition root: the chat model preloaded on a thread of its own while other parts load."""

from __future__ import annotations

import threading

import pytest

import assistant.services as services
from assistant.errors import ModelFileError
from assistant.services import Tutor


def test_a_preloaded_model_is_built_once_on_its_own_thread_and_is_the_one_llm_uses(openai_settings, monkeypatch):
    built: list[tuple[object, str]] = []
    release = threading.Event()
    real = services.build_chat_model

    def slow_build(settings, store=None):
        release.wait(5)  # still loading while the caller goes on
        model = real(settings)
        built.append((model, threading.current_thread().name))
        return model

    monkeypatch.setattr(services, "build_chat_model", slow_build)
    tutor = Tutor(openai_settings)
    tutor.preload_chat_model()
    tutor.preload_chat_model()  # a second call starts nothing more
    assert built == []  # the caller was not held up
    release.set()
    llm = tutor.llm  # waits for the load, builds nothing itself
    assert len(built) == 1 and built[0][1] == "preload-chat-model"
    assert llm.inner is built[0][0]


def test_a_model_that_fails_to_load_in_the_background_fails_where_the_caller_handles_errors(make_settings, tmp_path):
    settings = make_settings(PROVIDER="local", MODEL_CACHE_DIR=tmp_path / "no-models")
    tutor = Tutor(settings)
    tutor.preload_chat_model()  # the thread's error is not raised there, nor printed as a thread traceback
    with pytest.raises(ModelFileError, match="not prepared yet") as error:
        _ = tutor.llm
    assert "tutor model prepare" in error.value.fix
