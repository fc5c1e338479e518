"""LLM OpenIE: unit tests with a scripted LLM, then the ``llm`` tier against a real llama.cpp server.

The real tier serves Gemma 3 270M, a very small model: it tests plumbing
(schema-constrained JSON, caching, retries, counting of damaged answers),
not extraction quality.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import pytest

from hipporag.config import LLMConfig
from hipporag.errors import ExtractionError, LLMError
from hipporag.llm import LLMCache, OpenAIChatLLM, parse_json
from hipporag.protocols import Extractor
from hipporag.types import Passage, Triple
from indexers.openie_llm import LLMOpenIE

PASSAGES = [
    Passage.from_text("Paris", "Paris is the capital of France."),
    Passage.from_text("Alan Turing", "Alan Turing was born in London in 1912."),
    Passage.from_text("Nile", "The Nile flows through Egypt into the Mediterranean Sea."),
]


class ScriptedLLM:
    """Answers by step (entities or triples) and passage text; records every request."""

    def __init__(self, ner: Callable[[str], Any], triples: Callable[[str], Any]) -> None:
        self.ner, self.triples = ner, triples
        self.requests: list[tuple[list[dict[str, str]], dict[str, Any]]] = []
        self._lock = threading.Lock()

    def chat(self, messages, *, json_schema=None, **params) -> str:
        with self._lock:
            self.requests.append((list(messages), dict(json_schema or {})))
        text = messages[-1]["content"]
        answer = (self.ner if "named_entities" in json_schema["properties"] else self.triples)(text)
        if isinstance(answer, Exception):
            raise answer
        return answer if isinstance(answer, str) else json.dumps(answer)


def good_ner(text: str) -> Any:
    return {"named_entities": ["Paris", "France", " paris ", "", 7]}


def good_triples(text: str) -> Any:
    return {"triples": [["Paris", "capital of", "France"]]}


# -- unit tests: no server ---------------------------------------------------------------


def test_is_an_extractor():
    ie = LLMOpenIE(ScriptedLLM(good_ner, good_triples))
    assert isinstance(ie, Extractor)
    ie.warm_up()
    ie.warm_up()
    json.dumps(ie.to_dict())
    assert ie.to_dict()["kind"] == "llm"


def test_two_steps_and_entity_cleanup():
    llm = ScriptedLLM(good_ner, good_triples)
    ie = LLMOpenIE(llm)
    [ex] = ie.extract(PASSAGES[:1])
    assert ex.passage_id == PASSAGES[0].id
    assert ex.entities == ["Paris", "France"]  # duplicate, empty and non-string dropped
    assert ex.triples == [Triple("Paris", "capital of", "France")]
    assert ie.stats.skipped_entities == 2
    (ner_msgs, ner_schema), (tri_msgs, tri_schema) = llm.requests
    assert ner_schema == ie.ner_schema and tri_schema == ie.triple_schema
    assert PASSAGES[0].text in ner_msgs[-1]["content"]
    assert '["Paris", "France"]' in tri_msgs[-1]["content"]  # step 2 sees step 1's entities
    assert all(m["role"] in ("user", "assistant") for m in ner_msgs + tri_msgs)


def test_sent_schemas_constrain_shape():
    ie = LLMOpenIE(ScriptedLLM(good_ner, good_triples), max_entities=5, max_triples=7)
    assert ie.ner_schema["properties"]["named_entities"]["maxItems"] == 5
    triples = ie.triple_schema["properties"]["triples"]
    assert triples["maxItems"] == 7
    assert triples["items"]["minItems"] == 3 and triples["items"]["maxItems"] == 3


def test_invalid_triples_are_skipped_and_counted():
    bad = {
        "triples": [
            ["Paris", "capital of", "France"],
            ["Paris", "capital of", "France"],  # duplicate: dropped silently
            ["Paris", "France"],
            ["a", "b", "c", "d"],
            ["Paris", 3, "France"],
            ["  ", "is", "x"],
            ["Paris", "", "France"],
            "Paris capital France",
            ["Paris", "twinned with", "Rome"],
        ]
    }
    ie = LLMOpenIE(ScriptedLLM(good_ner, lambda t: bad))
    [ex] = ie.extract(PASSAGES[:1])
    assert [t.as_tuple() for t in ex.triples] == [("Paris", "capital of", "France")]
    assert ex.skipped == 7  # six invalid, and Rome is not in the passage: ungrounded
    assert ie.stats.skipped_triples == 7 and ie.stats.ungrounded_triples == 1


@pytest.mark.parametrize(
    "answer", ["not json", "{'named_entities': ['Paris']}", '{"entities": []}', '{"named_', ""]
)
def test_malformed_ner_is_counted_and_step_two_still_runs(answer):
    llm = ScriptedLLM(lambda t: answer, good_triples)
    ie = LLMOpenIE(llm)
    [ex] = ie.extract(PASSAGES[:1])
    assert ex.entities == [] and len(ex.triples) == 1
    assert ie.stats.malformed_ner == 1 and ie.stats.failed_passages == 0
    assert "Named entities: []" in llm.requests[1][0][-1]["content"]


def test_malformed_triples_are_counted():
    ie = LLMOpenIE(ScriptedLLM(good_ner, lambda t: '{"triples": "none"}'))
    [ex] = ie.extract(PASSAGES[:1])
    assert ex.entities == ["Paris", "France"] and ex.triples == []
    assert ie.stats.malformed_triples == 1


def test_repaired_answers_are_counted():
    truncated = '```json\n{"triples": [["Paris", "capital of", "France"], ["Paris", "is'
    ie = LLMOpenIE(ScriptedLLM(lambda t: '{"named_entities": ["Paris",]}', lambda t: truncated))
    [ex] = ie.extract(PASSAGES[:1])
    assert ex.entities == ["Paris"]
    assert ex.triples == [Triple("Paris", "capital of", "France")]
    assert ex.skipped == 1  # the cut triple
    assert ie.stats.repaired == 2


def test_one_failing_passage_is_not_fatal():
    def ner(text: str) -> Any:
        return LLMError("boom") if "Turing" in text else good_ner(text)

    ie = LLMOpenIE(ScriptedLLM(ner, good_triples))
    out = ie.extract(PASSAGES)
    assert [e.passage_id for e in out] == [p.id for p in PASSAGES]
    assert out[1].entities == [] and out[1].triples == []
    assert out[0].triples  # the Nile passage ran too: Paris facts are not grounded in it
    assert out[2].triples == [] and out[2].skipped == 1
    assert ie.stats.failed_calls == 1 and ie.stats.failed_passages == 1


def test_failure_in_step_two_empties_the_passage():
    def triples(text: str) -> Any:
        return LLMError("down") if "Nile" in text else good_triples(text)

    ie = LLMOpenIE(ScriptedLLM(good_ner, triples))
    out = ie.extract(PASSAGES)
    assert out[2].entities == [] and out[2].triples == []
    assert ie.stats.failed_passages == 1


def test_all_failing_raises_with_a_hint():
    ie = LLMOpenIE(ScriptedLLM(lambda t: LLMError("refused", hint="start it"), good_triples))
    with pytest.raises(ExtractionError, match="all 3 passages") as info:
        ie.extract(PASSAGES)
    assert info.value.hint == "start it"
    assert ie.stats.failed_calls == 3


def test_bugs_are_not_swallowed():
    ie = LLMOpenIE(ScriptedLLM(lambda t: KeyError("bug"), good_triples))
    with pytest.raises(KeyError):
        ie.extract(PASSAGES[:1])


def test_empty_inputs_make_no_calls():
    llm = ScriptedLLM(good_ner, good_triples)
    ie = LLMOpenIE(llm)
    assert ie.extract([]) == []
    [ex] = ie.extract([Passage.from_text("", "   ")])
    assert ex.entities == [] and ex.triples == [] and llm.requests == []


def test_chat_many_is_used_when_available():
    class Many(ScriptedLLM):
        batches: ClassVar[list[int]] = []

        def chat_many(self, requests):
            self.batches.append(len(requests))
            return [self.chat(r["messages"], json_schema=r["json_schema"]) for r in requests]

    llm = Many(good_ner, good_triples)
    LLMOpenIE(llm).extract(PASSAGES)
    assert llm.batches == [3, 3]


# -- the llm tier: a real llama.cpp server ------------------------------------------------


def real_llm(server, cache_dir, **overrides: Any) -> OpenAIChatLLM:
    cfg = {
        "base_url": server.base_url,
        "model": server.model,
        "max_tokens": 96,
        "timeout_s": 60.0,
        "max_retries": 3,
        "concurrency": 2,
        **overrides,
    }
    delays = {"retry_base_delay": 0.25, "retry_max_delay": 2.0}
    return OpenAIChatLLM(LLMConfig(**cfg), LLMCache(cache_dir), **delays)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("llm_cache")


@pytest.fixture(scope="module")
def first_run(llm_server, cache_dir):
    llm = real_llm(llm_server, cache_dir)
    ie = LLMOpenIE(llm, max_entities=6, max_triples=4)
    t0 = time.monotonic()
    out = ie.extract(PASSAGES)
    return out, ie, llm, time.monotonic() - t0


@pytest.mark.llm
def test_real_extraction_plumbing(first_run):
    out, ie, llm, _ = first_run
    assert [e.passage_id for e in out] == [p.id for p in PASSAGES]
    stats = ie.stats
    assert stats.failed_calls == 0 and stats.failed_passages == 0
    for ex in out:
        assert all(isinstance(e, str) and e.strip() for e in ex.entities)
        assert all(all(part.strip() for part in t.as_tuple()) for t in ex.triples)
    assert sum(len(e.entities) for e in out) > 0  # something came through end to end
    usage = llm.usage()
    assert usage["calls"] >= 2 * len(PASSAGES)
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
    # llama-cpp-python rejects json_schema, accepts json_object + schema (a grammar)
    assert llm.response_format_mode == "json_object_schema"


@pytest.mark.llm
def test_real_schema_constrained_output_is_json(llm_server, cache_dir):
    llm = real_llm(llm_server, cache_dir, max_tokens=64)
    schema = LLMOpenIE(llm, max_entities=4).ner_schema
    prompt = "List the named entities in: Marie Curie worked in Paris. Answer in JSON."
    text = llm.chat([{"role": "user", "content": prompt}], json_schema=schema)
    parsed = parse_json(text, schema)
    assert not parsed.repaired
    assert isinstance(parsed.value["named_entities"], list)


@pytest.mark.llm
def test_real_second_run_is_served_from_cache(llm_server, cache_dir, first_run):
    out, *_ = first_run
    llm = real_llm(llm_server, cache_dir)
    ie = LLMOpenIE(llm, max_entities=6, max_triples=4)
    again = ie.extract(PASSAGES)
    assert [e.to_dict() for e in again] == [e.to_dict() for e in out]
    assert llm.usage()["calls"] == 0
    assert llm.usage()["cache_hits"] == 2 * len(PASSAGES)


@pytest.mark.llm
def test_real_server_stopped_mid_run_then_restarted(llm_server, cache_dir):
    passages = [Passage.from_text("Ada", "Ada Lovelace worked with Charles Babbage in London.")]
    llm = real_llm(llm_server, cache_dir, max_retries=8, max_tokens=48)
    ie = LLMOpenIE(llm, max_entities=4, max_triples=3)
    result: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: result.setdefault("out", ie.extract(passages)))
    try:
        worker.start()
        deadline = time.monotonic() + 30
        while llm.usage()["calls"] < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        llm_server.stop()  # requests in flight are cut, new ones are refused
        time.sleep(1.0)
    finally:
        llm_server.start()
    worker.join(timeout=120)
    assert not worker.is_alive()
    assert len(result["out"]) == 1
    assert llm.usage()["retries"] >= 1
    assert ie.stats.failed_calls == 0


@pytest.mark.llm
def test_real_server_down_exhausts_retries(llm_server, cache_dir):
    llm = real_llm(llm_server, cache_dir, max_retries=2)
    ie = LLMOpenIE(llm)
    fresh = [Passage.from_text("Down", "The server is down on purpose.")]
    llm_server.stop()
    try:
        with pytest.raises(ExtractionError, match="failed for all 1 passages") as info:
            ie.extract(fresh)
        assert "server is running" in (info.value.hint or "")
        with pytest.raises(LLMError, match="after 3 attempts"):
            llm.chat([{"role": "user", "content": "anyone there?"}])
    finally:
        llm_server.start()
    assert llm.usage()["failures"] == 2


@pytest.mark.llm
def test_real_truncated_output_is_skipped_and_counted(llm_server, cache_dir):
    llm = real_llm(llm_server, cache_dir, max_tokens=4)
    ie = LLMOpenIE(llm)
    [ex] = ie.extract(PASSAGES[1:2])
    assert ex.entities == [] and ex.triples == []
    stats = ie.stats
    assert stats.malformed_ner == 1 and stats.malformed_triples == 1
    assert stats.failed_calls == 0 and stats.failed_passages == 0
    assert llm.usage()["truncated"] == 2
