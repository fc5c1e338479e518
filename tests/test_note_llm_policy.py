"""The LLM note policy against a scripted fake LLM: prompts, parsing, bad outputs, counting."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from hipporag.errors import LLMError
from hipporag.types import Hit, RetrievalResult
from retrievers.note import LLMNotePolicy, Meter, Note, NoteLoop
from retrievers.note.config import NoteConfig
from retrievers.note.llm_policy import clean_query
from retrievers.note.prompts import COMPARE_SCHEMA


class ScriptedLLM:
    """Answers by role (recognised from the prompt) from per-role scripts; records requests."""

    def __init__(self, **scripts: Sequence[str]) -> None:
        self.scripts = {role: list(answers) for role, answers in scripts.items()}
        self.requests: list[tuple[str, list[dict[str, str]], dict[str, Any]]] = []

    @staticmethod
    def role(messages: Sequence[Mapping[str, str]]) -> str:
        text = messages[-1]["content"]
        if "Note A:" in text:
            return "judge"
        if "Searches already made" in text:
            return "query"
        if "Current note:" in text:
            return "refine"
        return "note"

    def chat(self, messages, json_schema=None, **params) -> str:
        role = self.role(messages)
        self.requests.append((role, list(messages), {"json_schema": json_schema, **params}))
        script = self.scripts.get(role, [])
        return script.pop(0) if len(script) > 1 else (script[0] if script else "")


def hits(*titles: str) -> list[Hit]:
    return [Hit(f"p_{t}", t, f"{t} is a passage.", 1.0, i + 1) for i, t in enumerate(titles)]


class Retriever:
    accepts = frozenset({"extra_seeds"})

    def __init__(self) -> None:
        self.n = 0

    def retrieve(self, query: str, k: int = 5, extra_seeds=None) -> RetrievalResult:
        self.n += 1
        return RetrievalResult(query, hits(*(f"T{self.n}_{i}" for i in range(k))), "fake")


def loop(llm: ScriptedLLM, **cfg: Any) -> NoteLoop:
    config = NoteConfig(**cfg)
    return NoteLoop(Retriever(), LLMNotePolicy(llm, config), config)


def test_first_note_prompt_holds_question_and_passages():
    llm = ScriptedLLM(note=["Salt Harbour won in 1987."])
    note = LLMNotePolicy(llm).first_note("Who won?", hits("Salt Harbour"), Meter())
    assert note.text == "Salt Harbour won in 1987." and note.passage_ids == ("p_Salt Harbour",)
    prompt = llm.requests[0][1][-1]["content"]
    assert "Who won?" in prompt and "[1] Salt Harbour: Salt Harbour is a passage." in prompt


def test_full_loop_counts_llm_calls_per_role():
    llm = ScriptedLLM(
        note=["n0"],
        query=["q1", "q2"],
        refine=["n1", "n2"],
        judge=[
            '{"b_is_better": true, "reason": "more"}',
            '{"b_is_better": false, "reason": "same"}',
        ],
    )
    res = loop(llm, max_step=3, max_top_k=100).run("Who?")
    assert [r[0] for r in llm.requests] == [
        "note",
        "query",
        "refine",
        "judge",
        "query",
        "refine",
        "judge",
    ]
    assert res.trace.llm_calls == 7 and res.trace.bad_outputs == 0
    assert res.trace.stop_reason == "max_fail_step"
    assert res.note.text == "n1"
    assert res.trace.steps[1].verdict.reason == "more"
    judge_params = next(r[2] for r in llm.requests if r[0] == "judge")
    assert judge_params["json_schema"] == COMPARE_SCHEMA


@pytest.mark.parametrize(
    "bad",
    [
        "B is better.",  # prose, no JSON
        '{"b_is_better": "yes"}',  # wrong type
        '{"reason": "no verdict"}',  # missing key
        "{'b_is_better': True}",  # Python literal, never evaluated
        "",
    ],
)
def test_unusable_verdict_rejects_and_is_counted(bad):
    llm = ScriptedLLM(note=["n0"], query=["q1"], refine=["n1"], judge=[bad])
    res = loop(llm, max_step=3).run("Who?")
    step = res.trace.steps[1]
    assert not step.accepted and step.verdict.error
    assert res.note.text == "n0"  # the best note is kept
    assert res.trace.bad_outputs == 1 and "judge" in res.trace.problems[0]
    assert res.trace.stop_reason == "max_fail_step"
    assert "unusable output" in str(res.trace)


def test_verdict_in_fences_with_prose_is_parsed():
    llm = ScriptedLLM(
        note=["n0"],
        query=["q1"],
        refine=["n1"],
        judge=['Sure!\n```json\n{"b_is_better": true, "reason": "adds X",}\n```'],
    )
    res = loop(llm, max_step=1).run("Who?")
    assert res.trace.steps[1].accepted and res.trace.bad_outputs == 0


def test_empty_first_note_falls_back_to_the_passages():
    llm = ScriptedLLM(note=["   "], query=[""])
    res = loop(llm, max_step=2).run("Who?")
    assert "T1_0 is a passage." in res.note.text
    assert res.trace.bad_outputs == 2  # the empty note and the empty query
    assert res.trace.stop_reason == "no_new_query"
    assert res.trace.retrieval_calls == 1


def test_empty_refine_keeps_the_note_and_skips_the_judge():
    llm = ScriptedLLM(note=["n0"], query=["q1"], refine=[""])
    res = loop(llm, max_step=2).run("Who?")
    assert [r[0] for r in llm.requests] == ["note", "query", "refine"]  # no judge call
    assert not res.trace.steps[1].accepted
    assert res.trace.steps[1].verdict.reason == "the refined note is unchanged"
    assert res.trace.bad_outputs == 1


def test_judge_rejects_an_empty_candidate_without_calling():
    llm = ScriptedLLM()
    meter = Meter()
    verdict = LLMNotePolicy(llm).judge("Who?", Note("n0"), Note("  "), meter)
    assert not verdict.accept and verdict.error == "empty note"
    assert meter.llm_calls == 0 and meter.bad_outputs == 1


def test_query_is_cleaned_and_repeats_stop_the_loop():
    llm = ScriptedLLM(note=["n0"], query=['Query: "Who?"'])
    res = loop(llm, max_step=3, exclude_seen=False).run("Who?")
    assert res.trace.stop_reason == "no_new_query"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Where was Imre Valko born?", "Where was Imre Valko born?"),
        ('\n\n- "Imre Valko birthplace"\nbecause', "Imre Valko birthplace"),
        ("New search query: Dunaret river", "Dunaret river"),
        ("   \n  ", ""),
    ],
)
def test_clean_query(raw, clean):
    assert clean_query(raw) == clean


def test_llm_errors_propagate():
    class Down:
        def chat(self, messages, json_schema=None, **params):
            raise LLMError("server down", hint="start it")

    with pytest.raises(LLMError, match="server down"):
        loop(Down()).run("Who?")  # type: ignore[arg-type]


def test_prompts_are_cut_to_budget():
    long = [Hit("p1", "Long", "word " * 2000, 1.0, 1)]
    llm = ScriptedLLM(note=["n"])
    LLMNotePolicy(llm, NoteConfig(passage_chars=100)).first_note("Q?", long, Meter())
    assert len(llm.requests[0][1][-1]["content"]) < 1200
