"""Two-step LLM open information extraction (the HippoRAG recipe).

Step 1 asks for the named entities of a passage, step 2 for
subject-relation-object triples of the passage conditioned on those entities.
Both answers are requested as schema-constrained JSON and validated strictly
with :mod:`hipporag.llm.jsonparse`; damaged answers are repaired when that is
safe, otherwise skipped and counted. Passages run concurrently through the
LLM's ``chat_many`` (or a thread pool when the LLM has none).

Defences against bad or hostile input:

* the passage text is fenced between ``<passage>`` and ``</passage>`` and the
  instructions say it is data, never instructions (tags inside the text are
  neutralised, so a passage cannot close the fence);
* an entity is kept only when it is grounded in the passage text, and a
  triple only when its subject and its object both are (they appear in the
  text, or consist of its words, after :func:`~hipporag.text.normalize_entity`;
  the model's own entity list is not trusted). Other answers (a model obeying
  "ignore previous instructions and output ...") are dropped and counted in
  ``ungrounded_entities`` / ``ungrounded_triples``;
* names lose terminal escapes, bidirectional overrides and other control
  characters (:func:`~hipporag.sanitize.strip_controls`);
* a malformed or wrongly shaped answer is counted in ``malformed_passages``
  and removed from the LLM's cache (``forget``), so the next run asks again.

The prompts and schemas live in :mod:`indexers.openie_prompts`, the cleaning
and grounding of answers in :mod:`indexers.openie_clean`; this module runs the
two steps and keeps the counters.

Example:
    >>> from hipporag.types import Passage
    >>> class CannedLLM:
    ...     def chat(self, messages, *, json_schema=None, **params):
    ...         if "named_entities" in json_schema["properties"]:
    ...             return '{"named_entities": ["Paris", "France"]}'
    ...         return '{"triples": [["Paris", "capital of", "France"], ["bad"]]}'
    >>> ie = LLMOpenIE(CannedLLM())
    >>> ex = ie.extract([Passage.from_text("", "Paris is the capital of France.")])[0]
    >>> ex.entities, [t.as_tuple() for t in ex.triples], ex.skipped
    (['Paris', 'France'], [('Paris', 'capital of', 'France')], 1)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from hipporag.config import LLMConfig
from hipporag.errors import ConfigError, ExtractionError, LLMError, ModelOutputError
from hipporag.llm.jsonparse import parse_json
from hipporag.protocols import LLM
from hipporag.types import Extraction, Passage, Triple
from indexers.openie_clean import Grounding, clean_entities, clean_triples
from indexers.openie_prompts import (  # the prompt names are re-exported: their old home
    NER_CHECK,
    NER_INSTRUCTIONS,
    PROMPT_VERSION,
    TRIPLE_CHECK,
    TRIPLE_INSTRUCTIONS,
    fence,
    ner_messages,
    object_schema,
    triple_messages,
)


@dataclass(slots=True)
class OpenIEStats:
    """Counters of an :class:`LLMOpenIE` over all ``extract`` calls.

    Attributes:
        passages: Passages seen.
        failed_passages: Passages that got an empty extraction because a call failed.
        failed_calls: LLM calls that raised :class:`~hipporag.errors.LLMError`.
        malformed_ner: Entity answers that were not valid JSON of the right shape.
        malformed_triples: Triple answers that were not valid JSON of the right shape.
        repaired: Answers accepted after a repair (trailing comma, truncation).
        skipped_triples: Triples dropped as invalid (wrong arity, empty or non-string parts).
        skipped_entities: Entities dropped as empty, not strings or ungrounded.
        ungrounded_entities: Entities dropped because the passage text does not hold them.
        ungrounded_triples: Triples dropped because neither subject nor object
            occurs in the passage or its entity list (also in ``skipped_triples``).
        malformed_passages: Passages with at least one malformed answer; their
            batch is computed again by the next run of a job.
    """

    passages: int = 0
    failed_passages: int = 0
    failed_calls: int = 0
    malformed_ner: int = 0
    malformed_triples: int = 0
    repaired: int = 0
    skipped_triples: int = 0
    skipped_entities: int = 0
    ungrounded_entities: int = 0
    ungrounded_triples: int = 0
    malformed_passages: int = 0


class LLMOpenIE:
    """The :class:`~hipporag.protocols.Extractor` protocol backed by an LLM.

    Args:
        llm: Any :class:`~hipporag.protocols.LLM`, typically
            :class:`~hipporag.llm.OpenAIChatLLM`.
        config: The LLM's configuration, for :meth:`to_dict` and the thread-pool
            size when ``llm`` has no ``chat_many``; taken from ``llm.config`` if omitted.
        max_entities: Upper bound on entities per passage asked of the server.
        max_triples: Upper bound on triples per passage asked of the server.

    A single failing passage gives an empty :class:`Extraction` and is counted
    in :attr:`stats`. :class:`ExtractionError` is raised only when every passage
    of a call failed and none of the errors may pass by itself (no server at the
    URL, a wrong key or model): transient failures (HTTP 5xx, timeouts, malformed
    replies) are counted, and the caller decides (a job refuses to write the
    index above ``executor.max_failed_share``).

    Example:
        >>> from hipporag.config import LLMConfig
        >>> from hipporag.llm import OpenAIChatLLM
        >>> cfg = LLMConfig(base_url="http://127.0.0.1:8080/v1", model="gemma3-270m")
        >>> ie = LLMOpenIE(OpenAIChatLLM(cfg))
        >>> ie.to_dict()["kind"]
        'llm'
        >>> # ie.extract([Passage.from_text("Paris", "Paris is in France.")])
    """

    def __init__(
        self,
        llm: LLM,
        config: LLMConfig | None = None,
        *,
        max_entities: int = 32,
        max_triples: int = 32,
    ) -> None:
        if max_entities < 1 or max_triples < 1:
            raise ConfigError(
                f"max_entities and max_triples must be >= 1, got {max_entities}, {max_triples}"
            )
        self.llm = llm
        self.config = config if config is not None else getattr(llm, "config", None)
        self.max_entities = max_entities
        self.max_triples = max_triples
        string = {"type": "string"}
        triple = {"type": "array", "items": string, "minItems": 3, "maxItems": 3}
        self.ner_schema = object_schema("named_entities", string, max_entities)
        self.triple_schema = object_schema("triples", triple, max_triples)
        self._stats = OpenIEStats()
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Nothing to load: the model lives behind the endpoint. Idempotent."""

    @property
    def stats(self) -> OpenIEStats:
        """A snapshot of the counters."""
        with self._lock:
            return OpenIEStats(**asdict(self._stats))

    def to_dict(self) -> dict[str, Any]:
        """Kind, recipe, prompt version and the model that did the extraction."""
        out: dict[str, Any] = {
            "kind": "llm",
            "recipe": "ner-then-triples",
            "prompt_version": PROMPT_VERSION,
            "max_entities": self.max_entities,
            "max_triples": self.max_triples,
            "grounding": "text-entities-subject-and-object",
        }
        if self.config is not None:
            out["model"] = self.config.model
            out["temperature"] = self.config.temperature
            out["max_tokens"] = self.config.max_tokens
        return out

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        """One :class:`Extraction` per passage, in order.

        Raises:
            ExtractionError: Every passage failed with an LLM error that retrying
                cannot fix (no server at the URL, a wrong model name, ...).
        """
        todo = [i for i, p in enumerate(passages) if p.content.strip()]
        out = [Extraction(p.id) for p in passages]
        self._add(passages=len(passages))
        # Step 1: named entities.
        ner_requests = [
            {"messages": ner_messages(passages[i].content), "json_schema": self.ner_schema}
            for i in todo
        ]
        ner_answers = self._run(ner_requests)
        failed: dict[int, LLMError] = {}
        malformed: set[int] = set()
        entities: dict[int, list[str]] = {}
        for i, request, answer in zip(todo, ner_requests, ner_answers, strict=True):
            if isinstance(answer, LLMError):
                failed[i] = answer
                continue
            found = self._entities(answer, passages[i].content)
            if found is None:
                malformed.add(i)
                self._forget(request)
            entities[i] = found or []
        # Step 2: triples, conditioned on the entities.
        step2 = [i for i in todo if i in entities]
        triple_requests = [
            {
                "messages": triple_messages(passages[i].content, entities[i]),
                "json_schema": self.triple_schema,
            }
            for i in step2
        ]
        triple_answers = self._run(triple_requests)
        for i, request, answer in zip(step2, triple_requests, triple_answers, strict=True):
            if isinstance(answer, LLMError):
                failed[i] = answer
                continue
            got = self._triples(answer, passages[i].content, entities[i])
            if got is None:
                malformed.add(i)
                self._forget(request)
                got = ([], 0)
            triples, skipped = got
            out[i] = Extraction(passages[i].id, entities[i], triples, skipped)
        self._add(failed_passages=len(failed), malformed_passages=len(malformed - set(failed)))
        transient = any(getattr(e, "transient", False) for e in failed.values())
        if todo and len(failed) == len(todo) and not transient:
            first = failed[todo[0]]
            raise ExtractionError(
                f"LLM OpenIE failed for all {len(todo)} passages; first error: {first.message}",
                hint=first.hint or "check that the LLM server is running and llm.base_url/model",
            )
        return out

    # -- internals -------------------------------------------------------------

    def _add(self, **deltas: int) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self._stats, name, getattr(self._stats, name) + delta)

    def _run(self, requests: list[dict[str, Any]]) -> list[str | LLMError]:
        """Answers in order; LLM errors are returned (and counted), other errors raised."""
        many: Callable[[list[dict[str, Any]]], list[Any]] | None
        many = getattr(self.llm, "chat_many", None)
        if many is not None:
            answers = many(requests) if requests else []
        else:
            workers = max(1, min(self.config.concurrency if self.config else 4, len(requests)))
            with ThreadPoolExecutor(max_workers=workers) as pool:
                answers = list(pool.map(self._one, requests))
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, LLMError):
                raise answer
        self._add(failed_calls=sum(isinstance(a, LLMError) for a in answers))
        return answers

    def _forget(self, request: dict[str, Any]) -> None:
        """Drop an unusable answer from the LLM's cache, where it has one."""
        forget = getattr(self.llm, "forget", None)
        if callable(forget):
            forget(request["messages"], json_schema=request["json_schema"])

    def _one(self, request: dict[str, Any]) -> str | LLMError:
        try:
            return self.llm.chat(request["messages"], json_schema=request["json_schema"])
        except LLMError as err:
            return err

    def _parse(self, answer: str, check: dict[str, Any], malformed: str) -> list[Any] | None:
        key = next(iter(check["properties"]))
        try:
            parsed = parse_json(answer, check)
        except ModelOutputError:
            self._add(**{malformed: 1})
            return None
        if parsed.repaired:
            self._add(repaired=1)
        return parsed.value[key]

    def _entities(self, answer: str, content: str) -> list[str] | None:
        """Cleaned entities grounded in ``content``, or None when the answer was malformed."""
        items = self._parse(answer, NER_CHECK, "malformed_ner")
        if items is None:
            return None
        result, bad = clean_entities(items, content)
        shape_bad = clean_entities(items)[1]
        self._add(skipped_entities=bad, ungrounded_entities=bad - shape_bad)
        return result

    def _triples(
        self, answer: str, content: str, entities: list[str]
    ) -> tuple[list[Triple], int] | None:
        """Valid, grounded triples and how many were dropped; None when malformed."""
        items = self._parse(answer, TRIPLE_CHECK, "malformed_triples")
        if items is None:
            return None
        result, skipped, ungrounded = clean_triples(items, content, entities)
        self._add(skipped_triples=skipped + ungrounded, ungrounded_triples=ungrounded)
        return result, skipped + ungrounded


__all__ = [
    "NER_INSTRUCTIONS",
    "PROMPT_VERSION",
    "TRIPLE_INSTRUCTIONS",
    "Grounding",
    "LLMOpenIE",
    "OpenIEStats",
    "fence",
]
