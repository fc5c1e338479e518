"""A listwise LLM reranker over any OpenAI-compatible chat endpoint.

The prompt lists the passages numbered ``[1]..[n]``; the model replies with a
JSON object ``{"ranking": [3, 1, 2]}`` (most useful first), parsed strictly
with :func:`~hipporag.llm.jsonparse.parse_json_object`. Replies go through the
client's response cache like every other LLM call. A ranking may be partial
(passages it leaves out keep their order after the ranked ones); a reply that
is not such an object, names a number that was not shown, or repeats one is
rejected: the original order is kept, the failure is counted
(:attr:`LLMReranker.failures`) and logged as a warning, and the reply is
dropped from the cache (asked again next time). A failed request (after the
client's retries) is treated the same way.

Example:
    >>> class Fake:
    ...     def chat(self, messages, json_schema=None, **params):
    ...         return '{"ranking": [2, 1]}'
    >>> LLMReranker(Fake()).order("q", ["first", "second", "third"])
    ([1, 0, 2], None)
    >>> parse_ranking('{"ranking": [1, 1]}', 2)
    Traceback (most recent call last):
    ...
    hipporag.errors.ModelOutputError: the ranking repeats passage 1
      how to fix: list each passage number at most once
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from hipporag.errors import LLMError, ModelOutputError
from hipporag.llm.jsonparse import parse_json_object
from hipporag.log import get_logger

logger = get_logger(__name__)

RANKING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"ranking": {"type": "array", "items": {"type": "integer"}}},
    "required": ["ranking"],
}


def rerank_messages(query: str, texts: Sequence[str], passage_chars: int = 400) -> list[dict]:
    """The listwise prompt: numbered passages, the question, the reply format.

    Example:
        >>> msgs = rerank_messages("Who?", ["Ann did it."])
        >>> "[1] Ann did it." in msgs[1]["content"]
        True
    """
    listed = "\n".join(f"[{i}] {t[:passage_chars]}" for i, t in enumerate(texts, 1))
    return [
        {"role": "system", "content": "You rank passages by how well they answer a question."},
        {
            "role": "user",
            "content": f"Passages:\n{listed}\n\nQuestion: {query}\n\n"
            f"Order the passages from most to least useful for answering the question. "
            f'Reply with JSON only: {{"ranking": [numbers between 1 and {len(texts)}]}}.',
        },
    ]


def parse_ranking(text: str, n: int) -> list[int]:
    """0-based positions, best first, from a reply; the unranked follow in order.

    Raises:
        ModelOutputError: Not a ranking object, a number outside ``1..n``, or a repeat.
    """
    numbers = parse_json_object(text, RANKING_SCHEMA)["ranking"]
    seen: list[int] = []
    for num in numbers:
        if not 1 <= num <= n:
            raise ModelOutputError(
                f"the ranking names passage {num}, but only 1..{n} were shown",
                hint="use a stronger model or rerank fewer passages (rerank.top_n)",
            )
        if num - 1 in seen:
            raise ModelOutputError(
                f"the ranking repeats passage {num}",
                hint="list each passage number at most once",
            )
        seen.append(num - 1)
    return seen + [i for i in range(n) if i not in seen]


class LLMReranker:
    """Asks a chat model to order the passages (one call per query, cached).

    Args:
        llm: The chat model (:class:`~hipporag.protocols.LLM`).
        passage_chars: Each passage is cut to this many characters.
        max_tokens: Completion budget of the reply.
    """

    kind = "llm"

    def __init__(self, llm: Any, *, passage_chars: int = 400, max_tokens: int = 128) -> None:
        self.llm = llm
        self.passage_chars = passage_chars
        self.max_tokens = max_tokens
        self.calls = 0
        self.failures = 0
        """Replies rejected (or requests failed): the original order was kept."""
        self._lock = threading.Lock()

    def order(self, query: str, texts: Sequence[str]) -> tuple[list[int], None]:
        """Positions of ``texts`` best first; the original order when the reply is unusable."""
        if len(texts) < 2:
            return list(range(len(texts))), None
        messages = rerank_messages(query, texts, self.passage_chars)
        with self._lock:
            self.calls += 1
        try:
            reply = self.llm.chat(messages, json_schema=RANKING_SCHEMA, max_tokens=self.max_tokens)
        except LLMError as err:
            raise self._failed(err) from err
        try:
            return parse_ranking(reply or "", len(texts)), None
        except ModelOutputError as err:
            forget = getattr(self.llm, "forget", None)
            if forget is not None:  # not served from the cache forever: asked again next time
                forget(messages, json_schema=RANKING_SCHEMA, max_tokens=self.max_tokens)
            raise self._failed(err) from err

    def _failed(self, err: Exception) -> RerankFailed:
        """Count and log a failure; the error the caller raises to keep the order."""
        with self._lock:
            self.failures += 1
        logger.warning("LLM rerank kept the original order (%d so far): %s", self.failures, err)
        return RerankFailed(str(err))

    def to_dict(self) -> dict[str, Any]:
        model = getattr(getattr(self.llm, "config", None), "model", None)
        return {"kind": self.kind, "model": model, "calls": self.calls, "failures": self.failures}


class RerankFailed(Exception):
    """The reranker could not order the passages; the caller keeps the original order."""


__all__ = ["RANKING_SCHEMA", "LLMReranker", "RerankFailed", "parse_ranking", "rerank_messages"]
