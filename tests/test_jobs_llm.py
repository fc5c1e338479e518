"""Index jobs with the LLM extractor (``openie.kind = "llm"``) against a scripted server.

The server is the in-process OpenAI-compatible fake of ``tests.plugins.llm_server``:
every answer reports 10 prompt and 5 completion tokens, so usage and cost are exact.
"""

from __future__ import annotations

import json

import pytest

from hipporag.index import Index
from pipelines.jobs import JobSpec, run_job
from tests.plugins.llm_server import FakeOpenAIServer
from tests.test_jobs import StubEmbedder


@pytest.fixture
def server():
    s = FakeOpenAIServer()
    s.failing: set[str] = set()  # passage titles answered with HTTP 500

    def respond(body):
        last = body["messages"][-1]["content"]
        if any(f"<passage>\n{t}\n" in last for t in s.failing):
            return ("status", 500)
        if "Named entities:" in last:
            return ("ok", json.dumps({"triples": [["Paris", "capital of", "France"]]}))
        return ("ok", json.dumps({"named_entities": ["Paris", "France"]}))

    s.responder = respond
    yield s
    s.close()


def llm_spec(tmp_path, server) -> JobSpec:
    corpus = tmp_path / "c.json"
    rows = [{"title": f"T{i}", "text": f"Paris is in France {i}."} for i in range(3)]
    corpus.write_text(json.dumps(rows))
    llm = {
        "base_url": server.url,
        "model": "m",
        "max_retries": 0,
        "cache_dir": str(tmp_path / "llm-cache"),
        "price_per_1k_prompt": 1.0,
        "price_per_1k_completion": 2.0,
    }
    return JobSpec.from_dict(
        {
            "inputs": [str(corpus)],
            "output": str(tmp_path / "idx"),
            "executor": {"batch_size": 2},
            "openie": {"kind": "llm", "llm": llm},
        }
    )


def test_llm_job_reports_tokens_and_cost(tmp_path, server):
    report = run_job(llm_spec(tmp_path, server), embedder=StubEmbedder())
    assert report.usage["calls"] == 6 and report.usage["prompt_tokens"] == 60
    assert report.usage["cost"] == pytest.approx(0.06 * 1.0 + 0.03 * 2.0)
    assert "llm usage calls 6" in report.summary() and "cost $0.1200" in report.summary()
    assert report.counts["facts"] == 1 and report.counts["entities"] == 2
    meta = Index(report.path).meta
    assert meta["components"]["extractor"]["kind"] == "llm"
    assert meta["components"]["extractor_stats"]["passages"] == 3
    assert meta["job"]["llm_usage"]["completion_tokens"] == 30


def test_batches_with_failed_llm_calls_are_retried_on_the_next_run(tmp_path, server):
    spec = llm_spec(tmp_path, server)
    server.failing = {"T1"}
    first = run_job(spec, embedder=StubEmbedder())
    assert first.extractor_stats["failed_passages"] == 1
    assert "openie failed for 1 passages" in first.summary()
    assert Index(first.path).table("mentions").height == 2 * 2  # T1 has none
    server.failing = set()
    second = run_job(spec, embedder=StubEmbedder())
    assert second.batches["openie"].computed == 1 and second.batches["openie"].reused == 1
    # only the retried batch runs again: T0's answers come from the LLM cache, T1 is new
    assert second.usage["calls"] == 2 and second.usage["cache_hits"] == 2
    assert second.extractor_stats.get("failed_passages", 0) == 0
    assert Index(second.path).table("mentions").height == 3 * 2
