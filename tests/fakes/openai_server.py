"""A fake OpenAI-compatible HTTP server on 127.0.0.1 for tests.

It speaks the real wire format (JSON and server-sent-event streams with a final usage chunk), so
the ``openai`` client and our provider run unmodified against it. Tests script behaviours per
request (``fail_next``) and read what arrived (``requests``).

``fault`` makes every chat request (after the key and model checks) misbehave the way broken or
half-compatible servers do; ``None`` (the default) is a well-behaved server. See :data:`FAULTS`.

``formats`` says which forms of structured output (``response_format``) the server takes: ``"any"``
(the default), ``"llama_cpp"`` (llama-cpp-python's ``python -m llama_cpp.server``) or ``"text_only"``.
See :data:`FORMATS`.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Responder = Callable[[dict[str, Any]], str]

FAULTS: dict[str, str] = {
    "cut": "the body stops mid-chunk and the connection closes (an incomplete chunked / sized body)",
    "close_before_headers": "the request is read, then the connection closes with no response at all",
    "html_500": "HTTP 500 with an HTML error page",
    "html_200": "HTTP 200 with an HTML page (a proxy's or web UI's page, not the API)",
    "empty_200": "HTTP 200 with an empty body (a stream: the event-stream headers, then nothing)",
    "bad_json": "JSON cut short: the body (a stream: one `data:` line after the first content chunk)",
    "payload": "the body (a stream: one `data:` line after the first content chunk) is ``payload`` verbatim",
    "no_done": "a stream of content chunks that closes with no finish_reason, no usage and no [DONE]",
    "no_done_after_stop": "a complete stream (finish_reason, usage) that closes without [DONE]",
    "no_content": "no text: a stream of only the role, finish and usage chunks; a body with content ''",
    "stall": "a stream that sends two chunks, then waits ``stall_s`` before the rest",
}

FORMATS: dict[str, str] = {
    "any": "every response_format is taken (OpenAI, vLLM, llama.cpp's llama-server)",
    "llama_cpp": "llama-cpp-python's server: a `json_schema` response_format gets HTTP 500 with its validation"
    " error as the message; `text` and `json_object` (with a `schema`) are taken",
    "text_only": "a server without structured output: any response_format but `text` gets HTTP 400",
}
# What llama-cpp-python's server answers (HTTP 500) for a response_format type it does not know: the
# FastAPI validation error, with the place it was raised, as the error message.
LLAMA_CPP_REFUSAL = (
    "1 validation error:\n  {{'type': 'literal_error', 'loc': ('body', 'response_format', 'type'), 'msg': "
    "\"Input should be 'text' or 'json_object'\", 'input': '{kind}', 'ctx': {{'expected': \"'text' or "
    '\'json_object\'"}}}}\n\n  File "/llama_cpp/server/app.py", line 470, in create_chat_completion\n'
    "    POST /v1/chat/completions"
)


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
    fault: str | None = None  # one of FAULTS, for every chat request until set back to None
    payload: str = '{"foo": 1}'  # what the "payload" fault sends
    stall_s: float = 2.0  # how long the "stall" fault waits mid-stream
    formats: str = "any"  # one of FORMATS: which response_format types are taken
    _failures: list[tuple[int, float, str | None]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def fail_next(self, status: int, times: int = 1, delay_s: float = 0.0, message: str | None = None) -> None:
        """The next ``times`` requests answer ``status`` (0 means: hang for ``delay_s``, then 500), with
        ``message`` as the error's message (default ``fake error <status>``)."""
        self._failures.extend([(status, delay_s, message)] * times)

    def refusal(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]] | None:
        """The status and error body for a response_format this server does not take (see ``formats``)."""
        if self.formats not in FORMATS:
            raise ValueError(f"unknown formats {self.formats!r}; known: {sorted(FORMATS)}")
        kind = (body.get("response_format") or {}).get("type", "text")
        if self.formats == "llama_cpp" and kind not in ("text", "json_object"):
            error = {"message": LLAMA_CPP_REFUSAL.format(kind=kind), "type": "internal_server_error"}
            return 500, {"error": {**error, "param": None, "code": None}}
        if self.formats == "text_only" and kind != "text":
            message = f"response_format of type '{kind}' is not supported by this server"
            return 400, {"error": {"message": message, "type": "invalid_request_error", "param": "response_format"}}
        return None

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
                    status, delay, message = fake._failures.pop(0)
                    if status == 0:
                        time.sleep(delay)
                        status = 500
                    error = {"message": message or f"fake error {status}", "type": "fake", "code": status}
                    self._send(status, {"error": error})
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
                refused = fake.refusal(body)
                if refused is not None:
                    self._send(*refused)
                    return
                text = fake.responder(body)
                if fake.fault is not None:
                    self._fault(fake.fault, body, text)
                    return
                if body.get("stream"):
                    self._stream(body, text)
                else:
                    self._send(200, self._completion(body, text))

            def _completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
                return {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                    ],
                    "usage": fake.usage_for(body, text),
                }

            def _chunks(self, body: dict[str, Any], text: str) -> tuple[list[str], list[str]]:
                """The `data:` payloads of a well-behaved stream: the content chunks, then the finish chunk
                and (when asked for) the usage chunk; [DONE] follows them."""
                base = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": body["model"],
                }
                pieces = [w + " " for w in text.split(" ")]
                pieces[-1] = pieces[-1].rstrip(" ")
                content = [
                    json.dumps({**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]})
                    for p in pieces
                ]
                tail = [json.dumps({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})]
                if (body.get("stream_options") or {}).get("include_usage"):
                    tail.append(json.dumps({**base, "choices": [], "usage": fake.usage_for(body, text)}))
                return content, tail

            def _write_events(self, events: list[str]) -> None:
                for event in events:
                    self.wfile.write(f"data: {event}\n\n".encode())
                self.wfile.flush()

            def _stream(self, body: dict[str, Any], text: str) -> None:
                self._start_stream()
                content, tail = self._chunks(body, text)
                self._write_events([*content, *tail, "[DONE]"])
                self.close_connection = True

            def _start_stream(self, chunked: bool = False) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

            def _hang_up(self) -> None:
                """Close the socket now: the client sees the body end wherever it is."""
                with contextlib.suppress(OSError):
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

            def _send_raw(self, status: int, content_type: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _fault(self, fault: str, body: dict[str, Any], text: str) -> None:
                if fault not in FAULTS:
                    raise ValueError(f"unknown fault {fault!r}; known: {sorted(FAULTS)}")
                if fault == "close_before_headers":
                    self._hang_up()
                elif fault in ("html_500", "html_200"):
                    page = b"<html><body><h1>Internal Server Error</h1><p>nginx</p></body></html>"
                    self._send_raw(500 if fault == "html_500" else 200, "text/html; charset=utf-8", page)
                elif body.get("stream"):
                    self._stream_fault(fault, body, text)
                elif fault == "empty_200":
                    self._send_raw(200, "application/json", b"")
                elif fault == "bad_json":
                    self._send_raw(200, "application/json", json.dumps(self._completion(body, text)).encode()[:40])
                elif fault == "payload":
                    self._send_raw(200, "application/json", fake.payload.encode())
                elif fault == "cut":
                    data = json.dumps(self._completion(body, text)).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self._hang_up()
                elif fault == "no_content":
                    self._send(200, self._completion(body, ""))
                else:  # the stream-only faults leave a plain request alone
                    self._send(200, self._completion(body, text))

            def _stream_fault(self, fault: str, body: dict[str, Any], text: str) -> None:
                content, tail = self._chunks(body, text)
                if fault == "cut":  # chunked framing, so the cut is a protocol error, not just an early end
                    self._start_stream(chunked=True)
                    lines = [f"data: {event}\n\n".encode() for event in content[:3]]
                    for line in lines[:-1]:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                    self.wfile.write(b"%x\r\n%s" % (len(lines[-1]), lines[-1][: len(lines[-1]) // 2]))
                    self._hang_up()
                    return
                events = {
                    "empty_200": [],
                    "bad_json": [content[0], content[-1][: len(content[-1]) // 2], *content[1:], *tail, "[DONE]"],
                    "payload": [content[0], fake.payload, *content[1:], *tail, "[DONE]"],
                    "no_done": content,
                    "no_done_after_stop": [*content, *tail],
                    "no_content": [*self._chunks(body, "")[1], "[DONE]"],
                    "stall": [*content, *tail, "[DONE]"],
                }[fault]
                self._start_stream()
                if fault == "stall":
                    self._write_events(events[:2])
                    time.sleep(fake.stall_s)
                    events = events[2:]
                self._write_events(events)
                self._hang_up()

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
