"""Evaluation harness: metrics against hand-computed values, question files, CLI."""

from __future__ import annotations

import json

import pytest

from hipporag.errors import InputError, RetrievalError
from pipelines.cli import main
from pipelines.evaluate import (
    RUNNERS,
    Outcome,
    Question,
    aggregate,
    evaluate,
    get_runner,
    load_questions,
    recall_at,
    register_runner,
)
from pipelines.facade import HippoRAG


def _q(qid: str, *gold: str) -> Question:
    return Question(qid, f"question {qid}", tuple(gold))


def test_recall_at_k_by_hand() -> None:
    assert recall_at(["a", "x", "b"], {"a", "b"}, 1) == 0.5
    assert recall_at(["a", "x", "b"], {"a", "b"}, 3) == 1.0
    assert recall_at([], {"a"}, 5) == 0.0
    assert recall_at(["x", "c", "y"], ["c", "d", "e"], 2) == pytest.approx(1 / 3)


def test_aggregate_matches_hand_computed_values() -> None:
    qs = [_q("1", "a", "b"), _q("2", "c", "d", "e"), _q("3", "f", "g")]
    outs = [
        Outcome(["a", "x", "b", "y"], {"calls": 1}),
        Outcome(["x", "c", "y", "z", "d", "e"], {"calls": 3}),
        Outcome([], {"calls": 2}),
    ]
    rep = aggregate("hybrid", qs, outs, [10.0, 20.0, 30.0], missing=["4"])
    assert rep.n == 3
    assert rep.recall[1] == pytest.approx((0.5 + 0 + 0) / 3)
    assert rep.recall[2] == pytest.approx((0.5 + 1 / 3 + 0) / 3)
    assert rep.recall[5] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert rep.recall[10] == pytest.approx(2 / 3)
    assert rep.recall[20] == pytest.approx(2 / 3)
    assert rep.n_by_hops == {2: 2, 3: 1}
    assert rep.recall_by_hops[2][1] == pytest.approx(0.25)
    assert rep.recall_by_hops[2][5] == pytest.approx(0.5)
    assert rep.recall_by_hops[3][5] == pytest.approx(2 / 3)
    assert rep.latency_ms == {"p50": 20.0, "p95": pytest.approx(29.0)}
    assert rep.extra == {"calls": 2.0}
    d = rep.to_dict()
    assert set(d["recall"]) == {"1", "2", "5", "10", "20"}
    assert d["n_missing_gold"] == 1 and d["missing_gold_ids"] == ["4"]
    assert "latency ms: p50 20.0" in rep.table()


def test_question_file_errors_are_clear(tmp_path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_questions(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_questions(bad)
    bad.write_text(
        json.dumps([{"question": "q?", "paragraphs": [{"title": "t", "paragraph_text": "x"}]}])
    )
    with pytest.raises(InputError, match="no supporting paragraph"):
        load_questions(bad)
    bad.write_text(json.dumps([{"paragraphs": []}]))
    with pytest.raises(InputError, match="no 'question'"):
        load_questions(bad)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(RetrievalError, match="unknown evaluation mode"):
        get_runner("bm25")


@pytest.fixture(scope="module")
def rag(demo_index_path) -> HippoRAG:
    return HippoRAG.open(demo_index_path)


@pytest.mark.slow
def test_evaluate_counts_questions_whose_gold_is_missing(
    rag, demo_questions_path, tmp_path
) -> None:
    data = json.loads(demo_questions_path.read_text())
    data.append(
        {
            "id": "ghost",
            "question": "Where is the lost passage?",
            "paragraphs": [
                {"title": "Ghost", "paragraph_text": "Not indexed.", "is_supporting": True}
            ],
        }
    )
    path = tmp_path / "questions.json"
    path.write_text(json.dumps(data))
    questions = load_questions(path)
    rep = evaluate(rag, questions, mode="dense")
    assert rep.n == len(data) - 1
    assert rep.n_missing_gold == 1 and rep.missing_gold_ids == ["ghost"]
    assert 0.0 < rep.recall[5] <= rep.recall[10] <= rep.recall[20] == 1.0  # 32 passages
    assert rep.latency_ms["p50"] > 0


@pytest.mark.slow
def test_a_mode_can_plug_in_its_own_runner(rag, demo_questions_path) -> None:
    def perfect(rag, question, k, mode):
        return Outcome(list(question.gold), {"llm_calls": 2.0})

    register_runner("oracle-test", perfect)
    try:
        rep = evaluate(rag, load_questions(demo_questions_path), mode="oracle-test")
    finally:
        RUNNERS.pop("oracle-test")
    assert rep.recall[1] < 1.0 and rep.recall[5] == 1.0
    assert rep.extra == {"llm_calls": 2.0}


@pytest.mark.slow
def test_eval_cli_json_prints_exactly_one_object(
    demo_index_path, demo_questions_path, capsys
) -> None:
    code = main(
        [
            "-q",
            "eval",
            str(demo_index_path),
            "--questions",
            str(demo_questions_path),
            "--json",
            "--limit",
            "3",
            "--mode",
            "hipporag2",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out.strip()
    data = json.loads(out)
    assert data["n"] == 3 and data["mode"] == "hipporag2"
    assert set(data["recall"]) == {"1", "2", "5", "10", "20"}
    assert set(data["latency_ms"]) == {"p50", "p95"}
    assert "recall_by_hops" in data


@pytest.mark.slow
def test_eval_cli_table_and_errors(demo_index_path, demo_questions_path, capsys) -> None:
    assert (
        main(
            [
                "-q",
                "eval",
                str(demo_index_path),
                "--questions",
                str(demo_questions_path),
                "--limit",
                "2",
                "--set",
                "top_facts=3",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "mode hybrid: 2 questions" in out and "R@5" in out
    assert (
        main(
            [
                "-q",
                "eval",
                str(demo_index_path),
                "--questions",
                str(demo_questions_path),
                "--mode",
                "bm25",
            ]
        )
        == 2
    )
    assert "unknown evaluation mode" in capsys.readouterr().err
    assert (
        main(
            [
                "-q",
                "eval",
                str(demo_index_path),
                "--questions",
                str(demo_questions_path),
                "--set",
                "dampin=0.3",
            ]
        )
        == 2
    )
    assert "did you mean 'damping'" in capsys.readouterr().err


@pytest.mark.slow
def test_retrieve_cli_prints_explained_hits(demo_index_path, capsys) -> None:
    q = "Who directed the film that won the Golden Heron Award in 1987?"
    assert main(["-q", "retrieve", str(demo_index_path), q, "-k", "3"]) == 0
    out = capsys.readouterr().out
    assert " 1. " in out and "path:" in out and "why: dense" in out
    assert main(["-q", "retrieve", str(demo_index_path), q, "-k", "2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["hits"]) == 2 and data["hits"][0]["explanation"]["seeds"]
    assert main(["-q", "retrieve", str(demo_index_path), q, "-k", "0"]) == 2
    assert "k must be >= 1" in capsys.readouterr().err
    assert main(["-q", "retrieve", str(demo_index_path), "  "]) == 2
