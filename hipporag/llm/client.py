"""A robust chat client for any OpenAI-compatible endpoint (vLLM, Ollama, llama.cpp, OpenAI).

What it adds over a bare ``openai`` client:

* retries with exponential backoff and jitter on timeouts, connection errors,
  HTTP 408, 429 and 5xx, and on replies that are not a chat completion at all
  (an HTML page with HTTP 200, ``choices`` that is not a list, null content);
  never on other 4xx (a 400 is a format rejection only when it says so);
* structured output: a JSON schema is sent as ``response_format`` and, if the
  server rejects that, the client steps down through :data:`FORMAT_MODES`
  (``json_object`` with the schema attached, as llama-cpp-python understands
  it; plain ``json_object``; nothing) and remembers the first form that works;
* a persistent response cache (:class:`~hipporag.llm.cache.LLMCache`) whose
  keys include the model's identity as the server reports it (``/v1/models``),
  and :meth:`OpenAIChatLLM.forget` for answers the caller found unusable;
* no secret in anything it writes or raises: ``base_url`` is shown through
  :func:`~hipporag.redact.redact_url`;
* bounded concurrency, a thread-pool :meth:`OpenAIChatLLM.chat_many`, and
  usage accounting (calls, cache hits, tokens, retries, failures, cost).

Example:
    >>> from hipporag.config import LLMConfig
    >>> llm = OpenAIChatLLM(LLMConfig(base_url="http://127.0.0.1:8080/v1", model="m"))
    >>> llm.usage()["calls"]
    0
    >>> # llm.chat([{"role": "user", "content": "Say hi"}])  # needs a running server
"""

from __future__ import annotations

import os
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from hipporag.config import LLMConfig
from hipporag.errors import LLMError
from hipporag.llm.cache import LLMCache
from hipporag.redact import protect_http_logs, redact_url

DUMMY_API_KEY = "sk-no-key-required"
"""Sent when the API-key variable is unset; local servers ignore the key."""

FORMAT_MODES = ("json_schema", "json_object_schema", "json_object", "none")
"""Ways of asking for JSON, strongest first; the client steps down when one is rejected."""

_HINT_SERVER = (
    "check that the server is running and reachable at llm.base_url (e.g. "
    "`python -m llama_cpp.server --model M.gguf --port 8080` with base_url "
    "http://127.0.0.1:8080/v1), or raise llm.max_retries / llm.timeout_s"
)
_HINT_ENDPOINT = "check that llm.base_url points at an OpenAI-compatible /v1 endpoint"


@dataclass(slots=True)
class UsageStats:
    """Counters of an :class:`OpenAIChatLLM` since it was created (or unpickled).

    Attributes:
        calls: HTTP requests sent (every attempt counts).
        cache_hits: Requests answered from the cache (no HTTP).
        prompt_tokens: Prompt tokens reported by the server.
        completion_tokens: Completion tokens reported by the server.
        retries: Attempts repeated after a retryable error.
        failures: ``chat`` calls that raised :class:`LLMError`.
        format_fallbacks: Times the server rejected a ``response_format``.
        truncated: Answers that stopped at ``max_tokens`` (finish reason "length").
        malformed_replies: HTTP 200 replies that were not a usable chat completion
            (HTML, ``choices`` not a list, null content); retried like a 5xx.
        forgotten: Cached answers dropped by :meth:`OpenAIChatLLM.forget`.
    """

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    retries: int = 0
    failures: int = 0
    format_fallbacks: int = 0
    truncated: int = 0
    malformed_replies: int = 0
    forgotten: int = 0


@dataclass(slots=True)
class ChatRequest:
    """One request for :meth:`OpenAIChatLLM.chat_many` (a plain dict works too).

    Example:
        >>> ChatRequest.coerce({"messages": [], "max_tokens": 8}).params
        {'max_tokens': 8}
    """

    messages: Sequence[Mapping[str, str]]
    json_schema: Mapping[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def coerce(cls, request: ChatRequest | Mapping[str, Any]) -> ChatRequest:
        """Accept a ``ChatRequest`` or a dict with ``messages``, ``json_schema`` and params."""
        if isinstance(request, ChatRequest):
            return request
        data = dict(request)
        if "messages" not in data:
            raise LLMError("a chat request needs 'messages'", hint="pass {'messages': [...]}")
        return cls(data.pop("messages"), data.pop("json_schema", None), data)


class OpenAIChatLLM:
    """The :class:`~hipporag.protocols.LLM` protocol over an OpenAI-compatible API.

    Args:
        config: Endpoint, model, sampling defaults, retries and concurrency.
        cache: Response cache; None disables caching.
        retry_base_delay: First backoff delay in seconds (doubles per retry).
        retry_max_delay: Upper bound of one backoff delay in seconds.

    Thread-safe. Pickles as its configuration (and cache location) only, so
    Ray workers can hold one; usage counters start at zero in each copy.

    Example:
        >>> import pickle
        >>> from hipporag.config import LLMConfig
        >>> llm = OpenAIChatLLM(LLMConfig(base_url="http://127.0.0.1:8080/v1"))
        >>> pickle.loads(pickle.dumps(llm)).config == llm.config
        True
    """

    def __init__(
        self,
        config: LLMConfig,
        cache: LLMCache | None = None,
        *,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 30.0,
    ) -> None:
        self.config = config
        self.cache = cache
        self._delays = {"retry_base_delay": retry_base_delay, "retry_max_delay": retry_max_delay}
        self._lock = threading.Lock()
        self._semaphore = threading.BoundedSemaphore(config.concurrency)
        self._client: Any = None
        self._format_level = 0
        self._stats = UsageStats()
        self._identity: Any = _UNFETCHED
        self._url = redact_url(config.base_url)
        protect_http_logs()

    def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        json_schema: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> str:
        """Send one chat request and return the assistant's text.

        Args:
            messages: ``[{"role": ..., "content": ...}, ...]``.
            json_schema: Ask for JSON matching this schema (see module docstring);
                validate the answer with :func:`~hipporag.llm.jsonparse.parse_json_object`.
            **params: ``temperature`` and ``max_tokens`` override the config;
                anything else (``top_p``, ``seed``, ``stop``, ...) is sent as is.

        Raises:
            LLMError: After all retries failed, or at once on a non-retryable error.
        """
        msgs = _check_messages(messages)
        temperature = params.pop("temperature", self.config.temperature)
        max_tokens = params.pop("max_tokens", self.config.max_tokens)
        schema = dict(json_schema) if json_schema is not None else None
        key = None
        if self.cache is not None:
            key = self._key(msgs, schema, temperature, max_tokens, params)
            hit = self.cache.get(key)
            if hit is not None:
                self._count(cache_hits=1)
                return hit.text
        try:
            text, p_tok, c_tok = self._call(msgs, schema, temperature, max_tokens, params)
        except LLMError:
            self._count(failures=1)
            raise
        if key is not None and self.cache is not None:
            self.cache.put(key, text, prompt_tokens=p_tok, completion_tokens=c_tok)
        return text

    def forget(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        json_schema: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> bool:
        """Drop the cached answer of this request (the caller found it unusable).

        Call it with exactly the arguments given to :meth:`chat`. A malformed or
        schema-violating answer is then asked again by the next run instead of
        being served from the cache forever.

        Returns:
            True when an entry was removed.
        """
        if self.cache is None:
            return False
        temperature = params.pop("temperature", self.config.temperature)
        max_tokens = params.pop("max_tokens", self.config.max_tokens)
        schema = dict(json_schema) if json_schema is not None else None
        key = self._key(_check_messages(messages), schema, temperature, max_tokens, params)
        removed = self.cache.delete(key)
        if removed:
            self._count(forgotten=1)
        return removed

    def model_identity(self) -> dict[str, Any] | None:
        """The served model as ``GET /v1/models`` describes it, fetched once per client.

        Returns ``{"id", "created", "owned_by"}`` of the entry named ``config.model``
        (or of the only entry, as llama.cpp lists its one model under an alias), or
        None when the server does not say. Part of every cache key, so two models
        behind the same URL and name do not share answers.
        """
        with self._lock:
            if self._identity is not _UNFETCHED:
                return self._identity  # type: ignore[no-any-return]
        identity = None
        try:
            client = self._openai().with_options(timeout=min(10.0, self.config.timeout_s))
            entries = [_as_plain(m) for m in client.models.list().data]
            entries = [e for e in entries if isinstance(e, dict) and e.get("id")]
            match = [e for e in entries if e.get("id") == self.config.model] or (
                entries if len(entries) == 1 else []
            )
            if match:
                identity = {k: match[0].get(k) for k in ("id", "created", "owned_by")}
        except Exception:  # any failure just means "unknown": keys go without it
            identity = None
        with self._lock:
            self._identity = identity
        return identity

    def chat_many(
        self, requests: Sequence[ChatRequest | Mapping[str, Any]]
    ) -> list[str | Exception]:
        """Run requests concurrently (at most ``config.concurrency`` at a time).

        Returns:
            One entry per request, in order: the answer text, or the exception
            (usually :class:`LLMError`) that request raised. Nothing is raised.
        """
        reqs = [ChatRequest.coerce(r) for r in requests]

        def run(req: ChatRequest) -> str | Exception:
            try:
                return self.chat(req.messages, json_schema=req.json_schema, **req.params)
            except Exception as err:  # returned, not raised: the caller decides
                return err

        workers = max(1, min(self.config.concurrency, len(reqs)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm") as pool:
            return list(pool.map(run, reqs))

    @property
    def stats(self) -> UsageStats:
        """A snapshot of the usage counters."""
        with self._lock:
            return UsageStats(**asdict(self._stats))

    def usage(self) -> dict[str, Any]:
        """Usage counters as a dict, plus ``cost`` from the configured prices."""
        out: dict[str, Any] = asdict(self.stats)
        out["cost"] = (
            out["prompt_tokens"] / 1000.0 * self.config.price_per_1k_prompt
            + out["completion_tokens"] / 1000.0 * self.config.price_per_1k_completion
        )
        return out

    @property
    def response_format_mode(self) -> str:
        """The strongest structured-output form the server has not rejected so far."""
        return FORMAT_MODES[self._format_level]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (never contains the API key)."""
        keys = ("model", "temperature", "max_tokens", "json_schema")
        out = {"kind": "openai-compatible", "base_url": self._url}
        return {**out, **{k: getattr(self.config, k) for k in keys}}

    def close(self) -> None:
        """Close the HTTP client and this thread's cache connection."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
        if self.cache is not None:
            self.cache.close()

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config, "cache": self.cache, **self._delays}

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = dict(state)
        self.__init__(state.pop("config"), state.pop("cache"), **state)  # type: ignore[misc]

    # -- internals -------------------------------------------------------------

    def _key(
        self,
        msgs: list[dict[str, Any]],
        schema: dict[str, Any] | None,
        temperature: float,
        max_tokens: int,
        params: dict[str, Any],
    ) -> str:
        key_params = {"temperature": temperature, "max_tokens": max_tokens, **params}
        key_params["response_format"] = schema  # what was asked for, not the wire form
        return LLMCache.make_key(
            self._url, self.config.model, msgs, key_params, identity=self.model_identity()
        )

    def _count(self, **deltas: int) -> None:
        """Add to usage counters under the lock."""
        with self._lock:
            for name, delta in deltas.items():
                setattr(self._stats, name, getattr(self._stats, name) + delta)

    def _openai(self) -> Any:
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

    def _call(
        self,
        messages: list[dict[str, Any]],
        schema: dict[str, Any] | None,
        temperature: float,
        max_tokens: int,
        extra: dict[str, Any],
    ) -> tuple[str, int, int]:
        import openai

        client = self._openai()
        wants_format = schema is not None and self.config.json_schema
        level = self._format_level if wants_format else len(FORMAT_MODES) - 1
        attempt = 0
        while True:
            kwargs: dict[str, Any] = dict(model=self.config.model, messages=messages)
            kwargs.update(temperature=temperature, max_tokens=max_tokens)
            response_format = _response_format(FORMAT_MODES[level], schema)
            if response_format is not None:
                kwargs["response_format"] = response_format
            if extra:
                kwargs["extra_body"] = dict(extra)
            self._count(calls=1)
            try:
                with self._semaphore:
                    resp = client.chat.completions.create(**kwargs)
                result = self._read(resp)
                break
            except openai.APIStatusError as err:
                if response_format is not None and _rejects_format(err):
                    level += 1
                    self._count(format_fallbacks=1)
                elif err.status_code in (408, 429) or err.status_code >= 500:
                    attempt = self._backoff(attempt, err, _retry_after(err))
                else:
                    raise _fatal(err, self.config, self._url) from err
            except openai.APIConnectionError as err:  # includes APITimeoutError
                transient = isinstance(err, openai.APITimeoutError)
                attempt = self._backoff(attempt, err, None, transient=transient)
            except (_MalformedReply, openai.OpenAIError, ValueError, TypeError) as err:
                # HTTP 200 that is no chat completion (HTML, bad JSON, wrong shapes):
                # often a proxy or a server in trouble, so retried like a 5xx.
                bad = err if isinstance(err, _MalformedReply) else _MalformedReply(_describe(err))
                self._count(malformed_replies=1)
                attempt = self._backoff(attempt, bad, None, hint=_HINT_ENDPOINT, transient=True)
        if wants_format:
            with self._lock:
                self._format_level = max(self._format_level, level)
        return result

    def _read(self, resp: Any) -> tuple[str, int, int]:
        """Text and token counts of a reply, or :class:`_MalformedReply` for anything else."""
        if isinstance(resp, (str, bytes)):
            raise _MalformedReply(f"the reply is not JSON but {_snippet(resp)}")
        choices = getattr(resp, "choices", None)
        if not isinstance(choices, list) or not choices:
            raise _MalformedReply(f"'choices' is {_snippet(choices)}, not a non-empty list")
        choice, usage = choices[0], getattr(resp, "usage", None)
        message = getattr(choice, "message", None)
        text = getattr(message, "content", None)
        if not isinstance(text, str):
            raise _MalformedReply(f"the message content is {_snippet(text)}, not text")
        try:
            p_tok = max(0, int(getattr(usage, "prompt_tokens", 0) or 0))
            c_tok = max(0, int(getattr(usage, "completion_tokens", 0) or 0))
        except (TypeError, ValueError):
            p_tok = c_tok = 0
        truncated = int(getattr(choice, "finish_reason", None) == "length")
        self._count(prompt_tokens=p_tok, completion_tokens=c_tok, truncated=truncated)
        return text, p_tok, c_tok

    def _backoff(
        self,
        attempt: int,
        err: Exception,
        retry_after: float | None,
        *,
        hint: str = _HINT_SERVER,
        transient: bool = True,
    ) -> int:
        """Sleep before the next attempt, or raise when retries are used up."""
        if attempt >= self.config.max_retries:
            failure = LLMError(
                f"LLM request to {self._url} (model {self.config.model!r}) "
                f"failed after {attempt + 1} attempts: {_describe(err)}",
                hint=hint,
            )
            failure.transient = transient
            raise failure from err
        base, cap = self._delays["retry_base_delay"], self._delays["retry_max_delay"]
        delay = min(cap, base * (2**attempt)) * random.uniform(0.5, 1.5)
        if retry_after is not None:
            delay = max(delay, min(retry_after, cap))
        self._count(retries=1)
        time.sleep(delay)
        return attempt + 1


_UNFETCHED = object()


class _MalformedReply(Exception):
    """A reply with a success status that is not a usable chat completion."""


def _snippet(value: Any, n: int = 60) -> str:
    """A short, single-line, printable description of an unexpected value."""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else repr(value)
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 3] + "..."


def _as_plain(obj: Any) -> Any:
    """A pydantic model (as the openai SDK returns) or a dict as a plain dict."""
    dump = getattr(obj, "model_dump", None)
    return dump() if callable(dump) else obj


def _check_messages(messages: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    ok = not isinstance(messages, (str, bytes)) and bool(messages)
    ok = ok and all(isinstance(m, Mapping) and "role" in m and "content" in m for m in messages)
    if not ok:
        raise LLMError(
            f"messages must be a non-empty list of {{'role', 'content'}} dicts, got {messages!r:.80}",
            hint="wrap a prompt as [{'role': 'user', 'content': prompt}]",
        )
    return [dict(m) for m in messages]


def _response_format(mode: str, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None or mode == "none":
        return None
    if mode == "json_schema":
        title = str(schema.get("title", "response"))
        name = "".join(ch for ch in title if ch.isalnum() or ch in "_-")[:64] or "response"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
    if mode == "json_object_schema":
        return {"type": "json_object", "schema": schema}
    return {"type": "json_object"}


def _rejects_format(err: Any) -> bool:
    """Whether an HTTP error means "this response_format is not supported".

    OpenAI, vLLM and Ollama answer 400 or 422; llama-cpp-python answers 500
    with a validation error that names ``response_format``.
    """
    text = f"{err.message} {err.body}"
    if err.status_code in (400, 422):
        text = _error_message(err.body) or text
        # A 400 that names another cause (a too long prompt, a bad model name) is
        # final: trying weaker formats cannot fix it. Servers word format
        # rejections differently, so a 400 that names no cause still steps down.
        if _FORMAT_WORDS.search(text):
            return True
        return _OTHER_CAUSE_WORDS.search(text) is None
    return err.status_code >= 500 and "response_format" in text


_FORMAT_WORDS = re.compile(
    r"response.?format|json.?schema|json.?object|grammar|guided|structured", re.IGNORECASE
)


def _error_message(body: Any) -> str:
    """The human message inside an error body (``{"error": {"message": ...}}`` or flat)."""
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("message") or inner.get("detail") or "")
        return str(inner)
    return str(body or "")


_OTHER_CAUSE_WORDS = re.compile(
    r"context|token|too (?:long|large|many)|length|prompt|message|model|auth|api.?key|"
    r"quota|billing|policy|safety|permission",
    re.IGNORECASE,
)


def _retry_after(err: Any) -> float | None:
    """Seconds from a numeric ``Retry-After`` header (HTTP dates are ignored)."""
    headers = getattr(getattr(err, "response", None), "headers", None) or {}
    try:
        return max(0.0, float(headers.get("retry-after", "")))
    except ValueError:
        return None


def _describe(err: Exception) -> str:
    if isinstance(err, _MalformedReply):
        return f"HTTP 200 but not a chat completion: {err}"
    status, name = getattr(err, "status_code", None), type(err).__name__
    return f"HTTP {status} ({name}): {err}" if status else f"{name}: {err}"


def _fatal(err: Exception, config: LLMConfig, url: str) -> LLMError:
    status = getattr(err, "status_code", None)
    if status in (401, 403):
        hint = f"set a valid API key in the environment variable {config.api_key_env}"
    elif status == 404:
        hint = f"check llm.model ({config.model!r}) and llm.base_url (it usually ends in /v1)"
    else:
        hint = "the server rejected the request; check llm.model, llm.max_tokens and the prompt"
    return LLMError(f"LLM request to {url} failed: {_describe(err)}", hint=hint)


__all__ = ["DUMMY_API_KEY", "FORMAT_MODES", "ChatRequest", "OpenAIChatLLM", "UsageStats"]
