"""What an OpenAI-compatible server sends back: chat completions read, errors told apart.

:func:`read_reply` turns a chat completion into its text and token counts, or
raises :class:`MalformedReply` for an HTTP 200 that is no chat completion (an
HTML page, ``choices`` that is not a list, null content), which the transport
retries like a 5xx. :func:`rejects_format` tells a rejected ``response_format``
from other HTTP errors, :func:`describe` words any failure for an error
message, and :func:`check_messages` checks the messages of a request.

Example:
    >>> from types import SimpleNamespace as NS
    >>> completion = NS(choices=[NS(message=NS(content="hi"), finish_reason="length")],
    ...                 usage=NS(prompt_tokens=5, completion_tokens=1))
    >>> read_reply(completion)
    Reply(text='hi', prompt_tokens=5, completion_tokens=1, truncated=True)
    >>> read_reply("<html>busy</html>")
    Traceback (most recent call last):
    ...
    hipporag.llm.replies.MalformedReply: the reply is not JSON but '<html>busy</html>'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from hipporag.errors import LLMError


class MalformedReply(Exception):
    """A reply with a success status that is not a usable chat completion."""


class Reply(NamedTuple):
    """The usable part of a chat completion."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    truncated: bool  # stopped at max_tokens (finish reason "length")


def read_reply(resp: Any) -> Reply:
    """Text and token counts of a chat completion; :class:`MalformedReply` for anything else.

    Token counts the server leaves out or garbles count as 0.
    """
    if isinstance(resp, (str, bytes)):
        raise MalformedReply(f"the reply is not JSON but {snippet(resp)}")
    choices = getattr(resp, "choices", None)
    if not isinstance(choices, list) or not choices:
        raise MalformedReply(f"'choices' is {snippet(choices)}, not a non-empty list")
    choice, usage = choices[0], getattr(resp, "usage", None)
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None)
    if not isinstance(text, str):
        raise MalformedReply(f"the message content is {snippet(text)}, not text")
    try:
        p_tok = max(0, int(getattr(usage, "prompt_tokens", 0) or 0))
        c_tok = max(0, int(getattr(usage, "completion_tokens", 0) or 0))
    except (TypeError, ValueError):
        p_tok = c_tok = 0
    return Reply(text, p_tok, c_tok, getattr(choice, "finish_reason", None) == "length")


def snippet(value: Any, n: int = 60) -> str:
    """A short, single-line, printable description of an unexpected value.

    Example:
        >>> snippet(b"<html>\\n  <body>Bad gateway</body>\\n</html>", n=24)
        '<html> <body>Bad gate...'
    """
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def as_plain(obj: Any) -> Any:
    """A pydantic model (as the openai SDK returns) or a dict as a plain dict."""
    dump = getattr(obj, "model_dump", None)
    return dump() if callable(dump) else obj


def check_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The messages as plain dicts; raise unless a non-empty list of role/content dicts.

    Example:
        >>> check_messages([{"role": "user", "content": "hi"}])
        [{'role': 'user', 'content': 'hi'}]
    """
    ok = not isinstance(messages, (str, bytes)) and bool(messages)
    ok = ok and all(isinstance(m, Mapping) and "role" in m and "content" in m for m in messages)
    if not ok:
        raise LLMError(
            f"messages must be a non-empty list of {{'role', 'content'}} dicts, got {messages!r:.80}",
            hint="wrap a prompt as [{'role': 'user', 'content': prompt}]",
        )
    return [dict(m) for m in messages]


def describe(err: Exception) -> str:
    """One line naming the failure: HTTP status and exception type, or the malformed reply.

    Example:
        >>> describe(MalformedReply("'choices' is None, not a non-empty list"))
        "HTTP 200 but not a chat completion: 'choices' is None, not a non-empty list"
    """
    if isinstance(err, MalformedReply):
        return f"HTTP 200 but not a chat completion: {err}"
    status, name = getattr(err, "status_code", None), type(err).__name__
    return f"HTTP {status} ({name}): {err}" if status else f"{name}: {err}"


_FORMAT_WORDS = re.compile(
    r"response.?format|json.?schema|json.?object|grammar|guided|structured", re.IGNORECASE
)
_OTHER_CAUSE_WORDS = re.compile(
    r"context|token|too (?:long|large|many)|length|prompt|message|model|auth|api.?key|"
    r"quota|billing|policy|safety|permission",
    re.IGNORECASE,
)


def rejects_format(err: Any) -> bool:
    """Whether an HTTP error means "this response_format is not supported".

    OpenAI, vLLM and Ollama answer 400 or 422; llama-cpp-python answers 500
    with a validation error that names ``response_format``.
    """
    text = f"{err.message} {err.body}"
    if err.status_code in (400, 422):
        text = error_message(err.body) or text
        # A 400 that names another cause (a too long prompt, a bad model name) is
        # final: trying weaker formats cannot fix it. Servers word format
        # rejections differently, so a 400 that names no cause still steps down.
        if _FORMAT_WORDS.search(text):
            return True
        return _OTHER_CAUSE_WORDS.search(text) is None
    return err.status_code >= 500 and "response_format" in text


def error_message(body: Any) -> str:
    """The human message inside an error body (``{"error": {"message": ...}}`` or flat).

    Example:
        >>> error_message({"error": {"message": "context length exceeded"}})
        'context length exceeded'
    """
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner.get("detail") or "")
        return str(inner)
    return str(body or "")


__all__ = [
    "MalformedReply",
    "Reply",
    "as_plain",
    "check_messages",
    "describe",
    "error_message",
    "read_reply",
    "rejects_format",
    "snippet",
]
