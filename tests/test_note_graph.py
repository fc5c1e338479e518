"""The LLM-free note loop on the demo corpus with the real models, the eval runner and the CLI."""

from __future__ import annotations

import json

import pytest

from pipelines.evaluate import RUNNERS, evaluate, load_questions, register_runner
from pipelines.qa import NoteQA, NoteRunner, make_note_loop, note_report
from retrievers.note import GraphNotePolicy, IndexGraphView, Meter
from retrievers.note.config import NoteConfig

pytestmark = pytest.mark.slow

QUESTION = "Who directed the film that won the Golden Heron Award in 1987?"


@pytest.fixture(scope="module")
def rag(demo_index_path):
    from pipelines.facade import HippoRAG

    return HippoRAG.open(demo_index_path).warm_up()


@pytest.fixture(scope="module")
def view(rag):
    return IndexGraphView(rag.index)


@pytest.fixture(scope="module")
def questions(demo_questions_path):
    return load_questions(demo_questions_path)


def test_view_links_question_entities_and_reads_facts(rag, view):
    q_ents = view.question_entities(QUESTION)
    assert [view.names[e] for e in q_ents] == ["golden heron award", "1987"]
    hits = rag.retrieve(QUESTION, k=3).hits
    facts = view.passage_facts([h.passage_id for h in hits])
    assert any("salt harbour" in f.text for fs in facts.values() for f in fs)
    mass = view.entity_mass(q_ents)
    assert 0 < mass.sum() <= 1.0 + 1e-9 and mass[next(iter(q_ents))] == mass.max()


def test_first_note_finds_the_bridge(rag, view):
    policy = GraphNotePolicy(view, NoteConfig())
    hits = rag.retrieve(QUESTION, k=5).hits
    note = policy.first_note(QUESTION, hits, Meter())
    bridges = [view.names[e] for e in note.context["bridges"]]
    assert "salt harbour" in bridges[:3]
    assert "golden heron award" in note.entities  # a question entity, never a bridge
    assert "golden heron award" not in bridges
    assert all(not b.isdigit() for b in bridges)  # dates and numbers are not bridges
    query = policy.next_query(QUESTION, note, [QUESTION], Meter())
    assert query.startswith(QUESTION) and "salt harbour" in query
    assert note.seeds and max(note.seeds.values()) == pytest.approx(1.0)


def test_loop_on_every_demo_question(rag, questions):
    cfg = NoteConfig()
    loop = make_note_loop(rag, cfg)
    assert loop.forwards_seeds and loop.policy.name == "graph"
    single = make_note_loop(rag, NoteConfig(max_step=0))
    gains = 0.0
    for q in questions:
        res = loop.run(q.question)
        trace = res.trace
        assert 1 <= trace.retrieval_calls <= cfg.max_step + 1
        assert len(res.seen_ids) <= cfg.max_top_k
        assert trace.stop_reason in ("max_step", "max_fail_step", "max_top_k", "no_new_query")
        news = [p for s in trace.steps for p in s.new_ids]
        assert len(news) == len(set(news)) == len(res.seen_ids)  # each passage seen once
        assert trace.llm_calls == 0 and trace.bad_outputs == 0
        assert set(res.note.passage_ids) <= set(res.seen_ids)
        assert str(trace) and json.dumps(res.to_dict())
        for step in trace.steps[1:]:
            assert step.verdict is not None and step.verdict.reason
        gold = set(q.gold)
        first = single.run(q.question)
        assert first.seen_ids == trace.steps[0].new_ids  # the loop starts as single shot
        gains += len(gold & set(res.seen_ids)) / len(gold) - len(gold & set(first.seen_ids)) / len(
            gold
        )
    assert gains >= 0.0  # never fewer passages than single shot: recall can only grow


def test_note_eval_runner_reports_recall_seen_and_calls(rag, questions):
    register_runner("note", NoteRunner(NoteConfig(), None))
    try:
        report = evaluate(rag, questions, mode="note", ks=(1, 5, 10))
    finally:
        RUNNERS.pop("note", None)
    out = note_report(report.to_dict())
    assert set(out["recall_seen"]) == {"1", "5", "10", "all"}
    assert out["recall_seen"]["10"] <= out["recall_seen"]["all"] + 1e-9
    assert 1.0 <= out["calls"]["retrieval"] <= 4.0 and out["calls"]["llm"] == 0.0
    assert "em" not in out and "f1" not in out  # no reader, no answers
    assert 5.0 <= out["passages_seen"] <= 15.0
    assert not any(k.startswith(("recall_seen", "calls_")) for k in out["extra"])


def test_qa_without_llm_gives_no_answer(rag):
    out = NoteQA(rag).ask(QUESTION)
    assert out.answer is None and out.llm_calls == 0
    assert out.to_dict()["retrieval_calls"] == out.result.trace.retrieval_calls


def test_answer_command_without_llm(demo_index_path, capsys):
    from pipelines.cli import main

    assert main(["answer", str(demo_index_path), QUESTION, "--no-llm", "--max-step", "2"]) == 0
    text = capsys.readouterr().out
    assert "no reader is configured" in text
    assert "best note" in text and "question entities: golden heron award" in text
    assert "passages (" in text and "trace:" in text and "calls: " in text

    assert main(["answer", str(demo_index_path), QUESTION, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["answer"] is None and data["reader"] is False
    assert data["result"]["trace"]["steps"][0]["query"] == QUESTION


def test_answer_command_rejects_half_llm_options(demo_index_path, capsys):
    from pipelines.cli import main

    assert main(["answer", str(demo_index_path), QUESTION, "--llm-base-url", "http://x/v1"]) == 2
    assert "--llm-base-url needs --llm-model" in capsys.readouterr().err
    assert main(["answer", str(demo_index_path), QUESTION, "--policy", "llm"]) == 2
    assert "needs an LLM" in capsys.readouterr().err
