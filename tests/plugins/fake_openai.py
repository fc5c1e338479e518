"""A fake OpenAI-compatible server in this process, scriptable per request, for client tests.

:class:`FakeOpenAIServer` answers ``POST /v1/chat/completions`` and
``GET /v1/models`` on 127.0.0.1 from a background thread. A test scripts what
each request gets (errors, delays, malformed bodies, rejected response
formats) and reads back the requests it received. The ``fake_llm_server``
fixture of :mod:`tests.plugins.llm_server` gives a fresh one per test.

Example:
    >>> import json, urllib.request
    >>> server = FakeOpenAIServer()
    >>> server.script = [("ok", "hi", "length")]
    >>> req = urllib.request.Request(f"{server.url}/chat/completions", method="POST",
    ...     data=json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode())
    >>> reply = json.loads(urllib.request.urlopen(req).read())
    >>> reply["choices"][0]["message"]["content"], reply["choices"][0]["finish_reason"]
    ('hi', 'length')
    >>> len(server.requests)
    1
    >>> server.close()
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Action = tuple[Any, ...]


class FakeOpenAIServer:
    """A scriptable ``POST /v1/chat/completions`` endpoint on 127.0.0.1.

    ``script`` holds actions consumed one per request: ``("status", code)``,
    ``("status", code, headers)``, ``("sleep", seconds)`` (then answer),
    ``("ok", text, finish_reason)`` or ``("raw", status, content_type, body)``
    (any bytes or str, for malformed replies). ``GET /v1/models`` lists
    :attr:`models` (404 when it is None). With an empty script the last user
    message is echoed back. ``reject_formats`` lists response_format modes
    answered with ``reject_status``; ``responder`` may decide per request.
    Every answer reports 10 prompt and 5 completion tokens.

    Example:
        >>> server = FakeOpenAIServer()
        >>> server.script = [("status", 429)]  # first request: rate limited, then echo
        >>> server.url.startswith("http://127.0.0.1:")
        True
        >>> server.close()
    """

    def __init__(self) -> None:
        self.script: list[Action] = []
        self.requests: list[dict[str, Any]] = []
        self.reject_formats: set[str] = set()
        self.reject_status = 400
        self.responder: Callable[[dict[str, Any]], Action | None] | None = None
        self.delay = 0.0
        self.models: list[dict[str, Any]] | None = [
            {"id": "m", "object": "model", "created": 1, "owned_by": "test"}
        ]
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                if fake.models is None or not self.path.rstrip("/").endswith("/models"):
                    fake._send(self, 404, {"error": {"message": "not found"}})
                    return
                fake._send(self, 200, {"object": "list", "data": fake.models})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with fake._lock:
                    fake.requests.append(body)
                    fake.inflight += 1
                    fake.max_inflight = max(fake.max_inflight, fake.inflight)
                    action = fake.script.pop(0) if fake.script else None
                try:
                    fake._handle(self, body, action)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and hung up
                finally:
                    with fake._lock:
                        fake.inflight -= 1

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def _handle(
        self, h: BaseHTTPRequestHandler, body: dict[str, Any], action: Action | None
    ) -> None:
        if action is None and self.responder is not None:
            action = self.responder(body)
        fmt = body.get("response_format")
        mode = "none"
        if fmt:
            mode = fmt["type"] + ("_schema" if "schema" in fmt else "")
        if action is None and mode in self.reject_formats:
            msg = f"response_format {mode} is not supported"
            action = ("status", self.reject_status, {}, msg)
        if self.delay:
            time.sleep(self.delay)
        if action and action[0] == "sleep":
            time.sleep(action[1])
            action = None
        if action and action[0] == "raw":
            body_out = action[3].encode() if isinstance(action[3], str) else action[3]
            h.send_response(action[1])
            h.send_header("Content-Type", action[2])
            h.send_header("Content-Length", str(len(body_out)))
            h.end_headers()
            h.wfile.write(body_out)
            return
        if action and action[0] == "status":
            headers = action[2] if len(action) > 2 else {}
            msg = action[3] if len(action) > 3 else "scripted error"
            self._send(h, action[1], {"error": {"message": msg, "type": "x"}}, headers)
            return
        text = action[1] if action else body["messages"][-1]["content"]
        finish = action[2] if action and len(action) > 2 else "stop"
        self._send(h, 200, completion_payload(text, body.get("model", "m"), finish))

    @staticmethod
    def _send(
        h: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def close(self) -> None:
        """Stop serving and release the port."""
        self.httpd.shutdown()
        self.httpd.server_close()


def completion_payload(text: str, model: str = "m", finish: str = "stop") -> dict[str, Any]:
    """A minimal OpenAI chat.completion response body."""
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


__all__ = ["Action", "FakeOpenAIServer", "completion_payload"]
