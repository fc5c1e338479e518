"""The LLM note loop end to end against a real local llama.cpp server (plumbing and trace).

The tiny model's notes and answers are not expected to be right: these tests
check that every role is called, parsed or safely replaced, counted, cached and
traced, through the Python API, ``hipporag answer`` and the eval runner.
"""

from __future__ import annotations

import json

import pytest

from pipelines.evaluate import RUNNERS, evaluate, load_questions, register_runner
from pipelines.qa import NoteQA, NoteRunner, make_llm, note_report
from retrievers.note.config import NoteConfig

pytestmark = [pytest.mark.llm, pytest.mark.slow]

QUESTION = "Who directed the film that won the Golden Heron Award in 1987?"
CONFIG = NoteConfig(policy="llm", max_step=1, llm_max_tokens=96, passage_chars=300)


@pytest.fixture(scope="module")
def rag(demo_index_path):
    from pipelines.facade import HippoRAG

    return HippoRAG.open(demo_index_path).warm_up()


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("llm_cache"))


def test_llm_loop_and_reader_end_to_end(rag, llm_server, cache_dir):
    llm = make_llm(llm_server.base_url, llm_server.model, cache_dir=cache_dir, timeout_s=300)
    qa = NoteQA(rag, CONFIG, llm)
    assert qa.loop.policy.name == "llm"
    out = qa.ask(QUESTION)
    trace = out.result.trace
    roles = 1 + 3 * trace.n_steps  # first note, then query + refine + judge per step at most
    assert 1 <= trace.llm_calls <= roles
    assert out.reader_calls == 1 and isinstance(out.answer, str)
    usage = llm.usage()
    assert usage["calls"] + usage["cache_hits"] >= out.llm_calls  # every counted call was sent
    assert usage["failures"] == 0
    assert trace.bad_outputs == len(trace.problems)
    assert trace.stop_reason in ("max_step", "max_fail_step", "max_top_k", "no_new_query")
    assert out.result.note is not None and out.result.note.passage_ids
    for step in trace.steps[1:]:
        assert step.verdict is not None  # parsed, or rejected with the error recorded
        if step.verdict.error:
            assert not step.accepted
    text = str(trace)
    assert "note loop (policy llm)" in text and "calls:" in text
    json.dumps(out.to_dict())

    # Same question again: answered from the cache, same trace.
    before = llm.usage()["cache_hits"]
    again = qa.ask(QUESTION)
    assert llm.usage()["cache_hits"] - before == again.llm_calls
    assert [s.query for s in again.result.trace.steps] == [s.query for s in trace.steps]
    assert again.answer == out.answer


def test_answer_command_with_llm(demo_index_path, llm_server, cache_dir, capsys):
    from pipelines.cli import main

    argv = [
        "answer",
        str(demo_index_path),
        QUESTION,
        "--llm-base-url",
        llm_server.base_url,
        "--llm-model",
        llm_server.model,
        "--llm-cache-dir",
        cache_dir,
        "--max-step",
        "1",
    ]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert text.startswith("answer: ") and "policy llm" in text and "trace:" in text


def test_note_eval_with_answers(rag, llm_server, cache_dir, demo_questions_path):
    llm = make_llm(llm_server.base_url, llm_server.model, cache_dir=cache_dir, timeout_s=300)
    register_runner("note", NoteRunner(CONFIG, llm))
    try:
        report = evaluate(rag, load_questions(demo_questions_path, limit=2), mode="note", ks=(5,))
    finally:
        RUNNERS.pop("note", None)
    out = note_report(report.to_dict())
    assert 0.0 <= out["em"] <= out["f1"] <= 1.0
    assert out["calls"]["llm"] >= 2.0  # at least the first note and the reader
    assert set(out["recall_seen"]) == {"5", "all"}
