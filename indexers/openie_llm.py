"""Two-step LLM open information extraction (the HippoRAG recipe).

Step 1 asks for the named entities of a passage, step 2 for
subject-relation-object triples of the passage conditioned on those entities.
Both answers are requested as schema-constrained JSON and validated strictly
with :mod:`hipporag.llm.jsonparse`; damaged answers are repaired when that is
safe, otherwise skipped and counted. Passages run concurrently through the
LLM's ``chat_many`` (or a thread pool when the LLM has none).

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

import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from hipporag.config import LLMConfig
from hipporag.errors import ConfigError, ExtractionError, LLMError
from hipporag.errors import ModelOutputError
from hipporag.llm.jsonparse import parse_json
from hipporag.protocols import LLM
from hipporag.text import normalize_entity, normalize_text
from hipporag.types import Extraction, Passage, Triple

PROMPT_VERSION = "1"
"""Bumped whenever the prompts change (recorded in the index meta)."""

_EXAMPLE_PASSAGE = (
    "Marie Curie\nMarie Curie was born in Warsaw in 1867. She later worked in Paris, "
    "where she won the Nobel Prize."
)
_EXAMPLE_ENTITIES = ["Marie Curie", "Warsaw", "1867", "Paris", "Nobel Prize"]
_EXAMPLE_TRIPLES = [
    ["Marie Curie", "born in", "Warsaw"],
    ["Marie Curie", "born in", "1867"],
    ["Marie Curie", "worked in", "Paris"],
    ["Marie Curie", "won", "Nobel Prize"],
]

NER_INSTRUCTIONS = (
    "Find the named entities in the passage: people, organisations, places, dates, "
    "numbers, titles of works and other specific names. Copy each one as written, "
    'once. Reply with JSON only, shaped like {"named_entities": ["...", "..."]}.'
)
TRIPLE_INSTRUCTIONS = (
    "Turn the passage into knowledge-graph facts: [subject, relation, object] triples. "
    "Every triple should mention at least one of the listed named entities; keep "
    "relations short and replace pronouns by the names they stand for. Reply with JSON "
    'only, shaped like {"triples": [["subject", "relation", "object"]]}.'
)


def _ner_messages(content: str) -> list[dict[str, str]]:
    return [
        {"role": "user", "content": f"{NER_INSTRUCTIONS}\n\nPassage:\n{_EXAMPLE_PASSAGE}"},
        {"role": "assistant", "content": json.dumps({"named_entities": _EXAMPLE_ENTITIES})},
        {"role": "user", "content": f"Passage:\n{content}"},
    ]


def _triple_messages(content: str, entities: list[str]) -> list[dict[str, str]]:
    example = json.dumps(_EXAMPLE_ENTITIES, ensure_ascii=False)
    listed = json.dumps(entities, ensure_ascii=False)
    return [
        {
            "role": "user",
            "content": f"{TRIPLE_INSTRUCTIONS}\n\nPassage:\n{_EXAMPLE_PASSAGE}\n\n"
            f"Named entities: {example}",
        },
        {"role": "assistant", "content": json.dumps({"triples": _EXAMPLE_TRIPLES})},
        {"role": "user", "content": f"Passage:\n{content}\n\nNamed entities: {listed}"},
    ]


def _object_schema(key: str, items: dict[str, Any], max_items: int | None) -> dict[str, Any]:
    array: dict[str, Any] = {"type": "array", "items": items}
    if max_items is not None:
        array["maxItems"] = max_items
    schema = {"title": key, "type": "object", "properties": {key: array}, "required": [key]}
    if max_items is not None:
        schema["additionalProperties"] = False
    return schema


# Validation is looser than the schema sent to the server: the key must be there
# and hold a list, but one bad entity or triple is dropped and counted by the code
# below instead of failing the whole answer; unrequested extra keys are ignored.
_NER_CHECK = _object_schema("named_entities", {}, None)
_TRIPLE_CHECK = _object_schema("triples", {}, None)


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
        skipped_entities: Entities dropped as empty or not strings.
    """

    passages: int = 0
    failed_passages: int = 0
    failed_calls: int = 0
    malformed_ner: int = 0
    malformed_triples: int = 0
    repaired: int = 0
    skipped_triples: int = 0
    skipped_entities: int = 0


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
    in :attr:`stats`; only when every passage fails is :class:`ExtractionError` raised.

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
        self.ner_schema = _object_schema("named_entities", string, max_entities)
        self.triple_schema = _object_schema("triples", triple, max_triples)
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
        }
        if self.config is not None:
            out["model"] = self.config.model
            out["temperature"] = self.config.temperature
            out["max_tokens"] = self.config.max_tokens
        return out

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        """One :class:`Extraction` per passage, in order.

        Raises:
            ExtractionError: Every passage failed with an LLM error (server down,
                wrong model name, ...).
        """
        todo = [i for i, p in enumerate(passages) if p.content.strip()]
        out = [Extraction(p.id) for p in passages]
        self._add(passages=len(passages))
        # Step 1: named entities.
        ner_answers = self._run(
            [
                {"messages": _ner_messages(passages[i].content), "json_schema": self.ner_schema}
                for i in todo
            ]
        )
        failed: dict[int, LLMError] = {}
        entities: dict[int, list[str]] = {}
        for i, answer in zip(todo, ner_answers, strict=True):
            if isinstance(answer, LLMError):
                failed[i] = answer
            else:
                entities[i] = self._entities(answer)
        # Step 2: triples, conditioned on the entities.
        step2 = [i for i in todo if i in entities]
        triple_answers = self._run(
            [
                {
                    "messages": _triple_messages(passages[i].content, entities[i]),
                    "json_schema": self.triple_schema,
                }
                for i in step2
            ]
        )
        for i, answer in zip(step2, triple_answers, strict=True):
            if isinstance(answer, LLMError):
                failed[i] = answer
                continue
            triples, skipped = self._triples(answer)
            out[i] = Extraction(passages[i].id, entities[i], triples, skipped)
        self._add(failed_passages=len(failed))
        if todo and len(failed) == len(todo):
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

    def _entities(self, answer: str) -> list[str]:
        items = self._parse(answer, _NER_CHECK, "malformed_ner")
        result: list[str] = []
        seen: set[str] = set()
        bad = 0
        for item in items or []:
            name = normalize_text(item) if isinstance(item, str) else ""
            key = normalize_entity(name)
            if not key:
                bad += 1
            elif key not in seen:
                seen.add(key)
                result.append(name)
        self._add(skipped_entities=bad)
        return result

    def _triples(self, answer: str) -> tuple[list[Triple], int]:
        items = self._parse(answer, _TRIPLE_CHECK, "malformed_triples")
        result: list[Triple] = []
        seen: set[tuple[str, str, str]] = set()
        skipped = 0
        for item in items or []:
            ok = isinstance(item, list) and len(item) == 3
            parts = [normalize_text(x) for x in item if isinstance(x, str)] if ok else []
            if len(parts) != 3 or not parts[1] or not all(map(normalize_entity, parts[::2])):
                skipped += 1  # wrong arity, non-strings, or empty subject/relation/object
                continue
            triple = Triple(*parts)
            if triple.as_tuple() not in seen:
                seen.add(triple.as_tuple())
                result.append(triple)
        self._add(skipped_triples=skipped)
        return result, skipped


__all__ = ["NER_INSTRUCTIONS", "PROMPT_VERSION", "TRIPLE_INSTRUCTIONS", "LLMOpenIE", "OpenIEStats"]
