"""One typed settings object, read from the environment and ``.env``.

Build it once at the edge (CLI, UI, tests) with :func:`load_settings` and pass it in; library code
never reads the environment itself. Every variable is documented in ``.env.example``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from assistant.errors import SettingsError
from assistant.text import strip_credentials

LocalModelName = Literal["qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b"]
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"


# Chroma's rules for a collection name, with a shorter limit: the name is also a folder under DATA_DIR/lexical
# and gets a "-rebuild" suffix during `tutor ingest --rebuild`.
MAX_COLLECTION_CHARS = 200
_COLLECTION = re.compile(rf"[a-zA-Z0-9][a-zA-Z0-9._-]{{1,{MAX_COLLECTION_CHARS - 2}}}[a-zA-Z0-9]")
_IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")


def folder_problem(path: Path) -> str | None:
    """Why ``path`` cannot be (or become) a folder: it, or a folder above it, is a file. None when it can."""
    try:
        for above in (path, *path.parents):
            if above.is_dir():
                return None
            if above.exists() or above.is_symlink():
                kind = "a file" if above.is_file() else "not a folder"
                return f"{'it' if above == path else above} is {kind}; point it at a folder"
    except OSError:
        return None  # not ours to judge (permissions): the first write says what is wrong
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
        populate_by_name=True,
        allow_inf_nan=False,  # inf or nan in any number (a timeout, a budget, a weight) is refused
    )

    # --- chat model -------------------------------------------------------------------------
    provider: Literal["local", "openai"] = Field("local", alias="PROVIDER")
    local_model: LocalModelName = Field("qwen2.5-coder-1.5b", alias="LOCAL_MODEL")
    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str = Field(OPENAI_DEFAULT_BASE_URL, alias="OPENAI_BASE_URL")
    chat_model: str = Field("gpt-4o-mini", alias="CHAT_MODEL")
    llm_timeout_s: float = Field(60.0, gt=0, le=86400, alias="LLM_TIMEOUT_S")
    llm_max_retries: int = Field(3, ge=0, le=10, alias="LLM_MAX_RETRIES")
    temperature: float = Field(0.1, ge=0, le=2, alias="TEMPERATURE")
    max_answer_tokens: int = Field(320, ge=16, le=8192, alias="MAX_ANSWER_TOKENS")
    n_ctx: int = Field(4096, ge=512, le=32768, alias="LOCAL_N_CTX")
    n_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=1024, alias="LOCAL_N_THREADS")

    # --- embeddings and retrieval -----------------------------------------------------------
    embedding_model: Literal["all-MiniLM-L6-v2"] = Field("all-MiniLM-L6-v2", alias="EMBEDDING_MODEL")
    top_k: int = Field(4, ge=1, le=50, alias="TOP_K")
    min_relevance: float = Field(0.25, ge=-1, le=1, alias="MIN_RELEVANCE")
    retrieval_candidates: int = Field(20, ge=1, le=200, alias="RETRIEVAL_CANDIDATES")
    rrf_k: int = Field(60, ge=1, le=1000, alias="RRF_K")
    vector_weight: float = Field(1.0, ge=0, le=1000, alias="VECTOR_WEIGHT")
    lexical_weight: float = Field(1.0, ge=0, le=1000, alias="LEXICAL_WEIGHT")
    section_priors: bool = Field(True, alias="SECTION_PRIORS")  # study plans and resource lists as asked for
    evidence_tokens: int = Field(250, ge=50, le=8000, alias="EVIDENCE_TOKENS")
    key_points: int = Field(3, ge=0, le=10, alias="KEY_POINTS")  # evidence sentences quoted after an answer
    chunk_size: int = Field(200, ge=64, le=4096, alias="CHUNK_SIZE")
    chunk_overlap: int = Field(30, ge=0, le=1024, alias="CHUNK_OVERLAP")

    # --- storage ----------------------------------------------------------------------------
    data_dir: Path = Field(Path("data"), alias="DATA_DIR")
    model_cache_dir: Path | None = Field(None, alias="MODEL_CACHE_DIR")
    chroma_path: Path | None = Field(None, alias="CHROMA_PATH")
    chroma_host: str | None = Field(None, alias="CHROMA_HOST")
    chroma_port: int = Field(8000, ge=1, le=65535, alias="CHROMA_PORT")
    collection: str = Field("roadmap", alias="CHROMA_COLLECTION")
    knowledge_dir: Path = Field(Path("knowledge"), alias="KNOWLEDGE_DIR")

    # --- ingestion and link fetching -------------------------------------------------------
    ingest_max_file_mb: float = Field(20.0, gt=0, le=1024, alias="INGEST_MAX_FILE_MB")
    link_depth: int = Field(1, ge=0, le=3, alias="LINK_DEPTH")
    knowledge_links: bool = Field(False, alias="KNOWLEDGE_LINKS")
    link_max_pages: int = Field(100, ge=0, le=10000, alias="LINK_MAX_PAGES")
    link_max_chars: int = Field(40000, ge=1000, le=10_000_000, alias="LINK_MAX_CHARS")
    link_refresh_hours: float = Field(24.0, ge=0, le=87600, alias="LINK_REFRESH_HOURS")
    fetch_timeout_s: float = Field(10.0, gt=0, le=3600, alias="FETCH_TIMEOUT_S")
    fetch_connect_timeout_s: float = Field(3.0, gt=0, le=600, alias="FETCH_CONNECT_TIMEOUT_S")
    fetch_max_mb: float = Field(5.0, gt=0, le=1024, alias="FETCH_MAX_MB")
    fetch_max_redirects: int = Field(5, ge=0, le=20, alias="FETCH_MAX_REDIRECTS")
    fetch_concurrency: int = Field(8, ge=1, le=64, alias="FETCH_CONCURRENCY")
    fetch_host_interval_s: float = Field(1.0, ge=0, le=3600, alias="FETCH_HOST_INTERVAL_S")
    fetch_allow_loopback: bool = Field(False, alias="FETCH_ALLOW_LOOPBACK")

    # --- learner and spending ---------------------------------------------------------------
    learner_id: str = Field("default", min_length=1, max_length=64, alias="LEARNER_ID")
    session_budget_usd: float | None = Field(None, ge=0, alias="SESSION_BUDGET_USD")
    daily_budget_usd: float | None = Field(None, ge=0, alias="DAILY_BUDGET_USD")
    price_file: Path | None = Field(None, alias="PRICE_FILE")

    # --- evals (tutor evals record) -----------------------------------------------------------
    judge_provider: Literal["local", "openai"] = Field("local", alias="JUDGE_PROVIDER")
    judge_model: str | None = Field(None, alias="JUDGE_MODEL")  # OpenAI-compatible judge; empty: CHAT_MODEL

    @field_validator(
        "openai_api_key",
        "chroma_host",
        "model_cache_dir",
        "chroma_path",
        "price_file",
        "judge_model",
        "session_budget_usd",
        "daily_budget_usd",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("data_dir", mode="before")
    @classmethod
    def _data_dir_given(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            raise ValueError("it is empty; name a folder (default: data)")
        return value

    @field_validator("data_dir", "model_cache_dir", "chroma_path")
    @classmethod
    def _folder(cls, value: Path | None) -> Path | None:
        problem = folder_problem(value) if value is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("openai_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        try:
            parts.port  # noqa: B018 - raises on a port out of range
        except ValueError:
            raise ValueError("its port is not a number from 1 to 65535") from None
        if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in value.strip()):
            raise ValueError("give the server's http(s) URL, e.g. http://localhost:8000/v1")
        return value.strip()

    @field_validator("collection")
    @classmethod
    def _collection_name(cls, value: str) -> str:
        if not _COLLECTION.fullmatch(value) or ".." in value or _IPV4.fullmatch(value):
            raise ValueError(
                f"a collection name is 3-{MAX_COLLECTION_CHARS} characters of letters, digits, '.', '_' and '-', "
                "starting and ending with a letter or digit, with no '..' (like roadmap or my-notes_v2)"
            )
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.provider == "local" and self.max_answer_tokens >= self.n_ctx:
            raise ValueError("MAX_ANSWER_TOKENS must be smaller than LOCAL_N_CTX (the prompt needs room too)")
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("CHUNK_OVERLAP must be smaller than CHUNK_SIZE")
        if self.vector_weight == 0 and self.lexical_weight == 0:
            raise ValueError("VECTOR_WEIGHT and LEXICAL_WEIGHT cannot both be 0")
        if (
            self.provider == "openai"
            and self.openai_api_key is None
            and self.openai_base_url.rstrip("/") == OPENAI_DEFAULT_BASE_URL
        ):
            raise ValueError("OPENAI_API_KEY is required when PROVIDER=openai talks to api.openai.com")
        return self

    # --- derived paths ----------------------------------------------------------------------
    @property
    def models_dir(self) -> Path:
        return self.model_cache_dir or self.data_dir / "models"

    @property
    def chroma_dir(self) -> Path:
        return self.chroma_path or self.data_dir / "chroma"

    @property
    def lexical_dir(self) -> Path:
        """The BM25 keyword index of the collection (rebuilt from Chroma when missing or stale)."""
        return self.data_dir / "lexical" / self.collection

    @property
    def http_cache_dir(self) -> Path:
        return self.data_dir / "http-cache"

    @property
    def ledger_path(self) -> Path:
        return self.data_dir / "ledger.sqlite3"

    @property
    def progress_path(self) -> Path:
        return self.data_dir / "progress.sqlite3"

    @property
    def chats_path(self) -> Path:
        return self.data_dir / "chats.sqlite3"

    @property
    def api_key(self) -> str:
        """The key sent to the server; local OpenAI-compatible servers accept any value."""
        return self.openai_api_key.get_secret_value() if self.openai_api_key else "not-needed"


def _alias_of(field: str) -> str:
    info = Settings.model_fields.get(field)
    return (info.alias if info and info.alias else field).upper()


def load_settings(env_file: str | Path | None = ".env", **overrides: object) -> Settings:
    """Build settings, turning validation errors into one line that names the variable and the fix."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg, arg-type]
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = err.get("loc") or ()
        name = _alias_of(str(loc[0])) if loc else "settings"
        value = err.get("input")
        value = str(value) if isinstance(value, Path) else value
        if isinstance(value, str):  # a password in a URL is never echoed
            value = strip_credentials(value)
        shown = "" if name == "OPENAI_API_KEY" or isinstance(value, dict) else f"={value!r}"
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        if not loc:  # a rule across variables: the message names them
            raise SettingsError(f"Invalid settings: {msg}.", "check .env against .env.example.") from None
        raise SettingsError(
            f"Invalid setting {name}{shown[:120]}: {msg}.", f"set {name} in .env or the environment (see .env.example)."
        ) from None
