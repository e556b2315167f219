"""An on-disk HTTP cache for fetched pages, revalidated with ETag / Last-Modified.

One entry per requested URL (before redirects): a JSON record and the body next to it, both written
atomically. An entry younger than ``LINK_REFRESH_HOURS`` is used without asking the server; an older
one is revalidated with ``If-None-Match`` / ``If-Modified-Since`` and a 304 keeps the stored body.
Only successful, allowed responses are stored; failures are always retried on the next run.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path

from pydantic import BaseModel, ValidationError


class CacheEntry(BaseModel):
    url: str
    final_url: str
    content_type: str
    etag: str | None = None
    last_modified: str | None = None
    stored_at: float  # unix time of the last 200 or 304

    def age_s(self, now: float | None = None) -> float:
        return (now or time.time()) - self.stored_at

    def validators(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class FetchCache:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _paths(self, url: str) -> tuple[Path, Path]:
        key = hashlib.sha256(url.encode()).hexdigest()
        base = self.folder / key[:2] / key
        return base.with_suffix(".json"), base.with_suffix(".body")

    def get(self, url: str) -> tuple[CacheEntry, bytes] | None:
        meta_path, body_path = self._paths(url)
        try:
            entry = CacheEntry.model_validate_json(meta_path.read_bytes())
            body = body_path.read_bytes()
        except (OSError, ValidationError, ValueError):
            return None
        return (entry, body) if entry.url == url else None

    def put(self, entry: CacheEntry, body: bytes) -> None:
        meta_path, body_path = self._paths(entry.url)
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(body_path, body)
        _atomic_write(meta_path, entry.model_dump_json().encode())

    def touch(self, entry: CacheEntry) -> None:
        """Record a successful revalidation (304): the stored body is current as of now."""
        meta_path, _ = self._paths(entry.url)
        entry.stored_at = time.time()
        _atomic_write(meta_path, entry.model_dump_json().encode())


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
