"""A fake OpenAI-compatible HTTP server on 127.0.0.1 for tests.

It speaks the real wire format (JSON and server-sent-event streams with a final usage chunk), so
the ``openai`` client and our provider run unmodified against it. Tests script behaviours per
request (``fail_next``) and read what arrived (``requests``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]


def words(text: str) -> int:
    return max(1, len(text.split()))


@dataclass
class FakeOpenAI:
    responder: Responder = lambda body: "A grounded answer [1]."
    model_name: str = "gpt-4o-mini"
    known_models: set[str] = field(default_factory=lambda: {"gpt-4o-mini", "gpt-4o", "test-model"})
    api_key: str = "sk-test-key"
    prompt_tokens: int | None = None  # fixed usage to report; None: count words
    cached_tokens: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    _failures: list[tuple[int, float]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def fail_next(self, status: int, times: int = 1, delay_s: float = 0.0) -> None:
        """The next ``times`` requests answer ``status`` (0 means: hang for ``delay_s``)."""
        self._failures.extend([(status, delay_s)] * times)

    def usage_for(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        prompt = self.prompt_tokens or sum(words(m["content"]) for m in body.get("messages", []))
        return {
            "prompt_tokens": prompt,
            "completion_tokens": words(text),
            "total_tokens": prompt + words(text),
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }

    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                return None

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in fake.known_models]})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                fake.requests.append(body)
                fake.headers.append(dict(self.headers))
                if fake._failures:
                    status, delay = fake._failures.pop(0)
                    if status == 0:
                        time.sleep(delay)
                        status = 500
                    self._send(status, {"error": {"message": f"fake error {status}", "type": "fake", "code": status}})
                    return
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._send(
                        401,
                        {
                            "error": {
                                "message": "Incorrect API key provided",
                                "type": "invalid_request_error",
                                "code": "invalid_api_key",
                            }
                        },
                    )
                    return
                if body.get("model") not in fake.known_models:
                    self._send(
                        404,
                        {
                            "error": {
                                "message": "model not found",
                                "type": "invalid_request_error",
                                "code": "model_not_found",
                            }
                        },
                    )
                    return
                text = fake.responder(body)
                if body.get("stream"):
                    self._stream(body, text)
                else:
                    self._send(
                        200,
                        {
                            "id": "chatcmpl-fake",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": body["model"],
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": fake.usage_for(body, text),
                        },
                    )

            def _stream(self, body: dict[str, Any], text: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                base = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body["model"],
                }
                pieces = [w + " " for w in text.split(" ")]
                pieces[-1] = pieces[-1].rstrip(" ")
                for piece in pieces:
                    chunk = {
                        **base,
                        "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}],
                    }
                    self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                final = {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
                self.wfile.write(f"data: {json.dumps(final)}\n\n".encode())
                if (body.get("stream_options") or {}).get("include_usage"):
                    usage = {**base, "choices": [], "usage": fake.usage_for(body, text)}
                    self.wfile.write(f"data: {json.dumps(usage)}\n\n".encode())
                self.wfile.write(b"data: [DONE]\n\n")
                self.wfile.flush()
                self.close_connection = True

        self._server = QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # clients that time out and hang up are expected in tests
