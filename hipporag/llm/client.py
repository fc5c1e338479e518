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

Sending, retrying and the format step-down live in :mod:`hipporag.llm.transport`;
reading replies and telling errors apart in :mod:`hipporag.llm.replies`. This
module adds the cache, the counters and the public API.

Example:
    >>> from hipporag.config import LLMConfig
    >>> llm = OpenAIChatLLM(LLMConfig(base_url="http://127.0.0.1:8080/v1", model="m"))
    >>> llm.usage()["calls"]
    0
    >>> # llm.chat([{"role": "user", "content": "Say hi"}])  # needs a running server
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

from hipporag.config import LLMConfig
from hipporag.errors import LLMError
from hipporag.llm.cache import LLMCache
from hipporag.llm.replies import as_plain, check_messages
from hipporag.llm.transport import (  # DUMMY_API_KEY, FORMAT_MODES: re-exported, their old home
    DUMMY_API_KEY,
    FORMAT_MODES,
    ChatTransport,
)
from hipporag.redact import protect_http_logs, redact_url


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
        self._stats = UsageStats()
        self._identity: Any = _UNFETCHED
        self._url = redact_url(config.base_url)
        self._transport = ChatTransport(config, count=self._count, **self._delays)
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
        msgs = check_messages(messages)
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
            reply = self._transport.send(msgs, schema, temperature, max_tokens, params)
        except LLMError:
            self._count(failures=1)
            raise
        if key is not None and self.cache is not None:
            self.cache.put(
                key,
                reply.text,
                prompt_tokens=reply.prompt_tokens,
                completion_tokens=reply.completion_tokens,
            )
        return reply.text

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
        key = self._key(check_messages(messages), schema, temperature, max_tokens, params)
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
            client = self._transport.client().with_options(timeout=min(10.0, self.config.timeout_s))
            entries = [as_plain(m) for m in client.models.list().data]
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
        return self._transport.format_mode

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able description (never contains the API key)."""
        keys = ("model", "temperature", "max_tokens", "json_schema")
        out = {"kind": "openai-compatible", "base_url": self._url}
        return {**out, **{k: getattr(self.config, k) for k in keys}}

    def close(self) -> None:
        """Close the HTTP client and this thread's cache connection."""
        self._transport.close()
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


_UNFETCHED = object()


__all__ = ["DUMMY_API_KEY", "FORMAT_MODES", "ChatRequest", "OpenAIChatLLM", "UsageStats"]
