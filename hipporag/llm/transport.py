"""Sending chat completions: the HTTP client, retries with backoff, response_format step-down.

:class:`ChatTransport` owns the ``openai`` client of one endpoint and sends one
request until it gets a usable reply (:func:`~hipporag.llm.replies.read_reply`):

* timeouts, connection errors, HTTP 408, 429 and 5xx and malformed replies are
  retried up to ``max_retries`` times, with exponential backoff and jitter
  (:func:`backoff_delay`; a numeric ``Retry-After`` is honoured up to the cap);
  other 4xx raise at once, with a hint that says what to check;
* when the server rejects a ``response_format``, the next weaker form of
  :data:`FORMAT_MODES` is tried, and the first form that works is remembered.

Counters (calls, retries, format fallbacks, malformed replies, tokens) go to
the ``count`` callback; :class:`~hipporag.llm.client.OpenAIChatLLM` keeps them.

Example:
    >>> from hipporag.config import LLMConfig
    >>> transport = ChatTransport(LLMConfig(base_url="http://127.0.0.1:8080/v1", model="m"))
    >>> transport.format_mode
    'json_schema'
    >>> response_format("json_object_schema", {"type": "object"})
    {'type': 'json_object', 'schema': {'type': 'object'}}
    >>> 1.0 <= backoff_delay(1, base=1.0, cap=30.0) <= 3.0
    True
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from hipporag.config import LLMConfig
from hipporag.errors import LLMError
from hipporag.llm.replies import MalformedReply, Reply, describe, read_reply, rejects_format
from hipporag.log import get_logger
from hipporag.redact import redact_url

logger = get_logger(__name__)

DUMMY_API_KEY = "sk-no-key-required"
"""Sent when the API-key variable is unset; local servers ignore the key."""

FORMAT_MODES = ("json_schema", "json_object_schema", "json_object", "none")
"""Ways of asking for JSON, strongest first; the client steps down when one is rejected."""

HINT_SERVER = (
    "check that the server is running and reachable at llm.base_url (e.g. "
    "`python -m llama_cpp.server --model M.gguf --port 8080` with base_url "
    "http://127.0.0.1:8080/v1), or raise llm.max_retries / llm.timeout_s"
)
HINT_ENDPOINT = "check that llm.base_url points at an OpenAI-compatible /v1 endpoint"


def _no_count(**deltas: int) -> None:
    """The default ``count`` callback: counters are not kept."""


class ChatTransport:
    """Chat completions over one OpenAI-compatible endpoint, retried and format-negotiated.

    Args:
        config: Endpoint, model, retries, timeout, concurrency and ``json_schema`` switch.
        count: Called with counter increments, e.g. ``count(calls=1)``.
        retry_base_delay: First backoff delay in seconds (doubles per retry).
        retry_max_delay: Upper bound of one backoff delay in seconds.

    Thread-safe; at most ``config.concurrency`` requests are in flight at once.
    """

    def __init__(
        self,
        config: LLMConfig,
        *,
        count: Callable[..., None] = _no_count,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 30.0,
    ) -> None:
        self.config = config
        self.url = redact_url(config.base_url)
        self.base_delay = retry_base_delay
        self.max_delay = retry_max_delay
        self._count = count
        self._lock = threading.Lock()
        self._semaphore = threading.BoundedSemaphore(config.concurrency)
        self._client: Any = None
        self._format_level = 0

    @property
    def format_mode(self) -> str:
        """The strongest structured-output form the server has not rejected so far."""
        return FORMAT_MODES[self._format_level]

    def client(self) -> Any:
        """The ``openai.OpenAI`` client, made on first use (it never retries itself)."""
        with self._lock:
            if self._client is None:
                import openai

                self._client = openai.OpenAI(
                    api_key=os.environ.get(self.config.api_key_env) or DUMMY_API_KEY,
                    base_url=self.config.base_url,
                    timeout=self.config.timeout_s,
                    max_retries=0,  # retries are ours
                )
            return self._client

    def close(self) -> None:
        """Close the HTTP client (the next request makes a new one)."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    def send(
        self,
        messages: list[dict[str, Any]],
        schema: dict[str, Any] | None,
        temperature: float,
        max_tokens: int,
        extra: dict[str, Any],
    ) -> Reply:
        """Send one chat request until a usable reply comes back.

        Args:
            messages: Checked messages (:func:`~hipporag.llm.replies.check_messages`).
            schema: JSON schema to ask for (None: plain text).
            temperature: Sampling temperature.
            max_tokens: Completion token limit.
            extra: Further request fields, sent as the request body's extras.

        Raises:
            LLMError: Retries used up (``transient`` set when a later run may succeed)
                or a non-retryable HTTP error.
        """
        import openai

        client = self.client()
        wants_format = schema is not None and self.config.json_schema
        level = self._format_level if wants_format else len(FORMAT_MODES) - 1
        attempt = 0
        while True:
            kwargs: dict[str, Any] = dict(model=self.config.model, messages=messages)
            kwargs.update(temperature=temperature, max_tokens=max_tokens)
            fmt = response_format(FORMAT_MODES[level], schema)
            if fmt is not None:
                kwargs["response_format"] = fmt
            if extra:
                kwargs["extra_body"] = dict(extra)
            self._count(calls=1)
            try:
                with self._semaphore:
                    resp = client.chat.completions.create(**kwargs)
                reply = read_reply(resp)
                break
            except openai.APIStatusError as err:
                if fmt is not None and rejects_format(err):
                    level += 1
                    self._count(format_fallbacks=1)
                    logger.debug(
                        "%s rejected response_format %r", self.url, FORMAT_MODES[level - 1]
                    )
                elif err.status_code in (408, 429) or err.status_code >= 500:
                    attempt = self._backoff(attempt, err, retry_after(err))
                else:
                    raise fatal(err, self.config, self.url) from err
            except openai.APIConnectionError as err:  # includes APITimeoutError
                transient = isinstance(err, openai.APITimeoutError)
                attempt = self._backoff(attempt, err, None, transient=transient)
            except (MalformedReply, openai.OpenAIError, ValueError, TypeError) as err:
                # HTTP 200 that is no chat completion (HTML, bad JSON, wrong shapes):
                # often a proxy or a server in trouble, so retried like a 5xx.
                bad = err if isinstance(err, MalformedReply) else MalformedReply(describe(err))
                self._count(malformed_replies=1)
                attempt = self._backoff(attempt, bad, None, hint=HINT_ENDPOINT, transient=True)
        self._count(
            prompt_tokens=reply.prompt_tokens,
            completion_tokens=reply.completion_tokens,
            truncated=int(reply.truncated),
        )
        if wants_format:
            with self._lock:
                self._format_level = max(self._format_level, level)
        return reply

    def _backoff(
        self,
        attempt: int,
        err: Exception,
        retry_after: float | None,
        *,
        hint: str = HINT_SERVER,
        transient: bool = True,
    ) -> int:
        """Sleep before the next attempt, or raise when retries are used up."""
        if attempt >= self.config.max_retries:
            failure = LLMError(
                f"LLM request to {self.url} (model {self.config.model!r}) "
                f"failed after {attempt + 1} attempts: {describe(err)}",
                hint=hint,
            )
            failure.transient = transient
            raise failure from err
        delay = backoff_delay(attempt, self.base_delay, self.max_delay, retry_after)
        self._count(retries=1)
        logger.debug("%s: %s; retry %d in %.2f s", self.url, describe(err), attempt + 1, delay)
        time.sleep(delay)
        return attempt + 1


def backoff_delay(attempt: int, base: float, cap: float, retry_after: float | None = None) -> float:
    """Seconds to wait before retry ``attempt + 1``: ``base * 2**attempt`` (capped), ±50% jitter.

    A server's ``Retry-After`` raises the delay to that value, at most ``cap``.

    Example:
        >>> backoff_delay(0, base=0.5, cap=30.0, retry_after=60.0)
        30.0
    """
    delay = min(cap, base * (2**attempt)) * random.uniform(0.5, 1.5)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay


def response_format(mode: str, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """The ``response_format`` field asking for ``schema`` in form ``mode`` (None: leave out).

    Example:
        >>> response_format("json_schema", {"title": "NER list", "type": "object"})["json_schema"]
        {'name': 'NERlist', 'schema': {'title': 'NER list', 'type': 'object'}}
    """
    if schema is None or mode == "none":
        return None
    if mode == "json_schema":
        title = str(schema.get("title", "response"))
        name = "".join(ch for ch in title if ch.isalnum() or ch in "_-")[:64] or "response"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_object"}


def retry_after(err: Any) -> float | None:
    """Seconds from a numeric ``Retry-After`` header (HTTP dates are ignored)."""
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    try:
        return max(0.0, float(headers.get("retry-after", "")))
    except ValueError:
        return None


def fatal(err: Exception, config: LLMConfig, url: str) -> LLMError:
    """The :class:`LLMError` of a non-retryable HTTP error, with what to check."""
    status = getattr(err, "status_code", None)
    if status in (401, 403):
        hint = f"set a valid API key in the environment variable {config.api_key_env}"
    elif status == 404:
        hint = f"check llm.model ({config.model!r}) and llm.base_url (it usually ends in /v1)"
    else:
        hint = "the server rejected the request; check llm.model, llm.max_tokens and the prompt"
    return LLMError(f"LLM request to {url} failed: {describe(err)}", hint=hint)


__all__ = [
    "DUMMY_API_KEY",
    "FORMAT_MODES",
    "ChatTransport",
    "backoff_delay",
    "fatal",
    "response_format",
    "retry_after",
]
