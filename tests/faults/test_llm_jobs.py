"""LLM failures inside index jobs: counted, not cached, asked again, and a share limit."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hipporag.errors import ExtractionError
from hipporag.index import Index
from hipporag.llm import LLMCache
from pipelines.jobs import JobSpec, run_job
from tests.plugins.llm_server import FakeOpenAIServer
from tests.test_jobs import StubEmbedder

GOOD_NER = json.dumps({"named_entities": ["Paris", "France"]})
GOOD_TRIPLES = json.dumps({"triples": [["Paris", "capital of", "France"]]})


@pytest.fixture
def server():
    s = FakeOpenAIServer()
    s.bad: set[str] = set()  # passage titles answered with a wrong-schema JSON object

    def respond(body: dict[str, Any]) -> tuple[Any, ...]:
        last = body["messages"][-1]["content"]
        if any(f"<passage>\n{t}\n" in last for t in s.bad):
            return ("ok", '{"result": "I am sorry"}')
        return ("ok", GOOD_TRIPLES if "Named entities:" in last else GOOD_NER)

    s.responder = respond
    yield s
    s.close()


def spec_for(tmp_path, server, n: int = 4) -> JobSpec:
    corpus = tmp_path / "c.json"
    rows = [{"title": f"T{i}", "text": f"Paris is in France {i}."} for i in range(n)]
    corpus.write_text(json.dumps(rows))
    llm = {
        "base_url": server.url,
        "model": "m",
        "max_retries": 0,
        "cache_dir": str(tmp_path / "llm-cache"),
    }
    return JobSpec.from_dict(
        {
            "inputs": [str(corpus)],
            "output": str(tmp_path / "idx"),
            "executor": {"batch_size": 2},
            "openie": {"kind": "llm", "llm": llm},
        }
    )


def asked(server: FakeOpenAIServer, title: str) -> int:
    return sum(f"<passage>\n{title}\n" in r["messages"][-1]["content"] for r in server.requests)


def test_wrong_schema_answers_are_counted_and_asked_again_next_run(tmp_path, server):
    spec = spec_for(tmp_path, server)
    server.bad = {"T1"}
    first = run_job(spec, embedder=StubEmbedder())
    assert first.extractor_stats["malformed_passages"] == 1
    assert "openie failed for 1 passages" in first.summary()
    assert Index(first.path).table("mentions").height == 3 * 2
    server.bad = set()
    n_before = len(server.requests)
    second = run_job(spec, embedder=StubEmbedder())
    # only T1's batch runs again; T1 is asked again (its bad answer was not cached)
    assert second.batches["openie"].computed == 1
    assert asked(server, "T1") == 2 + 2  # both steps in each run
    assert len(server.requests) - n_before == 2
    assert second.extractor_stats.get("malformed_passages", 0) == 0
    assert Index(second.path).table("mentions").height == 4 * 2


def test_fresh_asks_failed_passages_again_and_serves_good_ones_from_cache(tmp_path, server):
    spec = spec_for(tmp_path, server)
    server.bad = {"T2"}
    run_job(spec, embedder=StubEmbedder())
    server.bad = set()
    n_before = len(server.requests)
    again = run_job(spec, embedder=StubEmbedder(), fresh=True)
    assert again.batches["openie"].computed == again.batches["openie"].planned == 2
    assert len(server.requests) - n_before == 2  # T2's two steps; the rest is cached
    assert again.usage["cache_hits"] == 6
    assert Index(again.path).table("mentions").height == 4 * 2


def test_failure_share_above_the_limit_writes_nothing_and_keeps_good_batches(tmp_path, server):
    spec = spec_for(tmp_path, server)
    server.bad = {"T0", "T1"}  # 50% of the passages
    with pytest.raises(ExtractionError, match="failed for 2 of 4 passages") as info:
        run_job(spec, embedder=StubEmbedder(), max_failed_share=0.2)
    assert "--max-failed-share" in (info.value.hint or "")
    assert not spec.output_path.exists()
    server.bad = set()
    r = run_job(spec, embedder=StubEmbedder(), max_failed_share=0.2)
    assert r.batches["openie"].reused == 1 and r.batches["openie"].computed == 1
    assert Index(r.path).table("mentions").height == 4 * 2
    assert len(LLMCache(tmp_path / "llm-cache")) == 8  # 4 passages x 2 steps, all good


def test_failure_share_allowed_writes_the_index(tmp_path, server):
    spec = spec_for(tmp_path, server)
    server.bad = {"T0", "T1", "T2"}
    r = run_job(spec, embedder=StubEmbedder(), max_failed_share=1.0)
    assert r.extractor_stats["malformed_passages"] == 3 and (r.path / "meta.json").is_file()
