"""Answers with citations: the facade, ``hipporag answer`` (plain path and note loop), ``eval``.

Fast tests use the in-process fake OpenAI server (real HTTP on 127.0.0.1);
one test talks to the real llama.cpp server (a tiny model: structure, not quality).
"""

from __future__ import annotations

import json
import re

import pytest

from hipporag.config import LLMConfig
from pipelines.answers import REFUSAL
from pipelines.facade import HippoRAG
from pipelines.qa import make_llm
from retrievers.config import RetrievalConfig

QUESTION = "Who directed the film that won the Golden Heron Award in 1987?"


@pytest.fixture
def rag(demo_index_path, fake_llm_server, tmp_path) -> HippoRAG:
    """The demo index whose ``config.llm`` is the fake server."""
    llm = LLMConfig(base_url=fake_llm_server.url, model="m", cache_dir=str(tmp_path))
    return HippoRAG.open(demo_index_path, RetrievalConfig(llm=llm))


def test_answer_cites_passages_by_number(rag, fake_llm_server):
    fake_llm_server.script = [("ok", "Answer: Imre Valko [2][9], see also [1, 2].", "stop")]
    out = rag.answer(QUESTION, k=4)
    plain = rag.retrieve(QUESTION, k=4)
    assert out.supported and out.answer == "Imre Valko" and out.refusal is None
    assert [c.n for c in out.citations] == [2, 1]
    for c in out.citations:  # each number maps to the passage shown under it
        hit = plain.hits[c.n - 1]
        assert (c.passage_id, c.doc_id, c.title, c.span) == (
            hit.passage_id,
            hit.document,
            hit.title,
            hit.span,
        )
    assert out.invalid_citations == [9] and "invalid_citations" in out.flags
    prompt = fake_llm_server.requests[-1]["messages"][-1]["content"]
    for i, hit in enumerate(plain.hits, 1):
        assert f"[{i}] {hit.title}:" in prompt
    assert "[5]" not in prompt and QUESTION in prompt
    data = json.loads(json.dumps(out.to_dict()))
    assert data["citations"][0] == {
        "n": 2,
        "passage_id": plain.hits[1].passage_id,
        "doc_id": plain.hits[1].document,
        "title": plain.hits[1].title,
        "span": None if plain.hits[1].span is None else list(plain.hits[1].span),
        "rank": 2,
    }
    assert [p["n"] for p in data["passages"]] == [1, 2, 3, 4]
    assert {"retrieve", "read", "total"} <= set(data["timings_ms"]) and data["llm_calls"] == 1


@pytest.mark.parametrize(
    ("reply", "flag"),
    [
        ("NOT SUPPORTED", "model_refused"),
        ("Imre Valko", "no_valid_citation"),  # cites nothing
        ("Imre Valko [7]", "no_valid_citation"),  # cites a number that was not shown
    ],
)
def test_answer_refuses_without_support(rag, fake_llm_server, reply, flag):
    fake_llm_server.script = [("ok", reply, "stop")]
    out = rag.answer(QUESTION, k=3)
    assert out.answer is None and not out.supported and not out.citations
    assert out.refusal.startswith(REFUSAL) and flag in out.flags
    if "[7]" in reply:
        assert out.invalid_citations == [7] and "[7]" in out.refusal


def test_answer_with_nothing_retrieved_asks_no_model(rag, fake_llm_server):
    import dataclasses

    from pipelines.facade import HippoRAG

    # a filter that matches nothing (an unknown key matches nothing when asked to)
    empty = HippoRAG.open(
        rag.path, dataclasses.replace(rag.config, unknown_filter_keys="match_none")
    )
    out = empty.answer(QUESTION, k=3, filters={"no_such_key": "x"})
    assert out.refusal.startswith(REFUSAL) and "no_passages" in out.flags
    assert out.llm_calls == 0 and fake_llm_server.requests == []


def _cli(capsys, *argv):
    from pipelines.cli import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_answer_command_plain_path(demo_index_path, fake_llm_server, tmp_path, capsys):
    llm = ["--llm-base-url", fake_llm_server.url, "--llm-model", "m", "--llm-cache-dir", tmp_path]
    fake_llm_server.script = [("ok", "Imre Valko [1]", "stop")] * 2
    base = ["answer", demo_index_path, QUESTION, "--mode", "hybrid", "-k", "3", *llm]
    code, out, _ = _cli(capsys, *base, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["answer"] == "Imre Valko" and data["supported"] is True
    first = data["passages"][0]
    assert data["citations"][0]["passage_id"] == first["passage_id"]
    assert data["citations"][0]["doc_id"] == first["doc_id"]
    code, out, _ = _cli(capsys, *base)
    assert code == 0
    assert out.startswith("answer: Imre Valko [1]")
    assert re.search(rf"\n  \[1\] {re.escape(first['title'])}  \(passage ", out)
    # Without an LLM the plain path says how to get one.
    code, _, err = _cli(capsys, "answer", demo_index_path, QUESTION, "--mode", "hybrid")
    assert code != 0 and "--llm-base-url" in err and "how to fix" in err


def test_note_loop_answers_cite(demo_index_path, fake_llm_server, tmp_path, capsys):
    fake_llm_server.script = [("ok", "Imre Valko [1]", "stop")]
    llm = ["--llm-base-url", fake_llm_server.url, "--llm-model", "m", "--llm-cache-dir", tmp_path]
    argv = ["answer", demo_index_path, QUESTION, "--policy", "graph", "--max-step", "1", *llm]
    code, out, _ = _cli(capsys, *argv, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["answer"] == "Imre Valko" and data["supported"] is True
    assert data["citations"][0]["passage_id"] == data["result"]["hits"][0]["passage_id"]
    assert data["llm_calls"] == 1  # the graph policy asks no model: only the reader did
    # A refusal of the note loop's reader.
    fake_llm_server.script = [("ok", "NOT SUPPORTED", "stop")]
    code, out, _ = _cli(capsys, *argv, "--llm-cache-dir", tmp_path / "other")
    assert code == 0 and out.startswith(f"answer: {REFUSAL}")


def test_eval_with_an_llm_answers(
    demo_index_path, demo_questions_path, fake_llm_server, tmp_path, capsys
):
    questions = json.loads(demo_questions_path.read_text(encoding="utf-8"))
    answers = {q["question"]: q["answer"] for q in questions}

    def respond(body):  # the gold answer, citing passage 1
        prompt = body["messages"][-1]["content"]
        question = prompt.rsplit("Question: ", 1)[1].split("\n", 1)[0]
        return ("ok", f"{answers[question]} [1]", "stop")

    fake_llm_server.responder = respond
    code, out, _ = _cli(
        capsys,
        "eval",
        demo_index_path,
        "--questions",
        demo_questions_path,
        "--json",
        "--llm-base-url",
        fake_llm_server.url,
        "--llm-model",
        "m",
        "--llm-cache-dir",
        tmp_path,
    )
    assert code == 0
    report = json.loads(out)
    rag = HippoRAG.open(demo_index_path)
    top1_gold = []
    for q in questions:
        gold = {p["title"] for p in q["paragraphs"] if p["is_supporting"]}
        top1_gold.append(float(rag.retrieve(q["question"], k=20).hits[0].title in gold))
    assert report["answers"]["em"] == 1.0 and report["answers"]["f1"] == 1.0
    assert report["answers"]["supported"] == 1.0
    assert report["answers"]["cited_gold"] == pytest.approx(sum(top1_gold) / len(top1_gold))
    assert "em" not in report["extra"] and report["recall"]


@pytest.mark.llm
@pytest.mark.slow
def test_answer_real_server(demo_index_path, llm_server, tmp_path):
    llm = make_llm(llm_server.base_url, llm_server.model, cache_dir=str(tmp_path), timeout_s=300)
    out = HippoRAG.open(demo_index_path).answer(QUESTION, k=3, llm=llm, passage_chars=300)
    assert out.llm_calls == 1 and out.raw.strip()
    assert all(1 <= c.n <= 3 for c in out.citations)
    assert all(n > 3 or n < 1 for n in out.invalid_citations)
    if out.supported:
        assert out.answer and out.citations and out.refusal is None
    else:
        assert out.answer is None and out.refusal.startswith(REFUSAL) and not out.citations
    json.dumps(out.to_dict())
