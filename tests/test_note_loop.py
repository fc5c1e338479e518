"""The note loop's stop rules, budgets, seeding, ranking and trace, with scripted parts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

import pytest

from hipporag.errors import ConfigError, RetrievalError
from hipporag.types import Hit, RetrievalResult
from retrievers.note import Meter, Note, NoteLoop, NotePolicy, NoteResult, Verdict, as_retrieve_fn
from retrievers.note.config import NoteConfig


class FakeRetriever:
    """Every call returns ``k`` passages; ``fresh`` ones are new each call, the rest repeat."""

    accepts = frozenset({"extra_seeds"})

    def __init__(self, fresh: int | None = None) -> None:
        self.fresh = fresh
        self.calls: list[tuple[str, int, dict[int, float] | None]] = []

    def retrieve(
        self, query: str, k: int = 5, extra_seeds: Mapping[int, float] | None = None
    ) -> RetrievalResult:
        n = len(self.calls)
        self.calls.append((query, k, dict(extra_seeds) if extra_seeds else None))
        fresh = k if self.fresh is None else self.fresh
        ids = [f"c{n}_{i}" for i in range(fresh)] + [f"same_{i}" for i in range(k - fresh)]
        hits = [Hit(p, p.upper(), f"text of {p}", 1.0 / (r + 1), r + 1) for r, p in enumerate(ids)]
        return RetrievalResult(query, hits, "fake")


class ScriptedPolicy:
    """Notes list their passages; the judge follows a script of verdicts."""

    name = "scripted"

    def __init__(
        self,
        verdicts: Sequence[bool] = (),
        queries: Sequence[str | None] | None = None,
        seeds: Mapping[int, float] | None = None,
    ) -> None:
        self.verdicts = list(verdicts)
        self.queries = list(queries) if queries is not None else None
        self.seeds = dict(seeds or {})
        self.calls = {"first_note": 0, "next_query": 0, "refine": 0, "judge": 0}

    def _note(self, pids: Sequence[str]) -> Note:
        return Note(" ".join(pids), tuple(pids), seeds=self.seeds)

    def first_note(self, question: str, hits: Sequence[Hit], meter: Meter) -> Note:
        self.calls["first_note"] += 1
        return self._note([h.passage_id for h in hits])

    def next_query(
        self, question: str, note: Note, queries: Sequence[str], meter: Meter
    ) -> str | None:
        self.calls["next_query"] += 1
        if self.queries is not None:
            return self.queries.pop(0) if self.queries else None
        return f"{question} #{len(queries)}"

    def refine(self, question: str, note: Note, hits: Sequence[Hit], meter: Meter) -> Note:
        self.calls["refine"] += 1
        return self._note([*note.passage_ids, *(h.passage_id for h in hits)])

    def judge(self, question: str, best: Note, candidate: Note, meter: Meter) -> Verdict:
        self.calls["judge"] += 1
        accept = self.verdicts.pop(0) if self.verdicts else True
        return Verdict(accept, "scripted", score=1.0 if accept else 0.0)


def run(policy: ScriptedPolicy, retriever: FakeRetriever | None = None, **cfg) -> NoteResult:
    return NoteLoop(retriever or FakeRetriever(), policy, NoteConfig(**cfg)).run("q?")


def test_scripted_policy_fits_the_protocol():
    assert isinstance(ScriptedPolicy(), NotePolicy)


@pytest.mark.parametrize("n_fail", [1, 2, 3])
def test_stops_after_max_fail_step_rejections(n_fail):
    res = run(ScriptedPolicy([False] * 10), max_step=10, max_fail_step=n_fail, max_top_k=100)
    assert res.trace.stop_reason == "max_fail_step"
    assert res.trace.n_rejected == n_fail
    assert res.trace.n_steps == n_fail
    assert res.trace.retrieval_calls == n_fail + 1


def test_rejections_need_not_be_consecutive():
    res = run(
        ScriptedPolicy([True, False, True, False]), max_step=10, max_fail_step=2, max_top_k=100
    )
    assert [s.accepted for s in res.trace.steps[1:]] == [True, False, True, False]
    assert res.trace.stop_reason == "max_fail_step"


def test_best_note_unchanged_on_rejection():
    res = run(ScriptedPolicy([True, False]), max_step=5, max_top_k=100)
    first, accepted, rejected = res.trace.steps
    assert accepted.accepted and not rejected.accepted
    assert res.note.text == accepted.note_text  # the accepted note survives the rejection
    assert res.note.text != rejected.note_text
    assert res.trace.best_step == 1
    assert set(res.note.passage_ids) == set(first.new_ids) | set(accepted.new_ids)


def test_all_rejected_keeps_the_first_note():
    res = run(ScriptedPolicy([False]), max_step=5)
    assert res.note.passage_ids == tuple(res.trace.steps[0].new_ids)
    assert res.trace.best_step == 0


def test_stops_after_max_step_iterations():
    res = run(ScriptedPolicy(), max_step=3, max_fail_step=1, max_top_k=100)
    assert res.trace.stop_reason == "max_step"
    assert res.trace.n_steps == 3
    assert res.trace.retrieval_calls == 4


def test_max_step_zero_is_single_shot():
    policy = ScriptedPolicy()
    res = run(policy, max_step=0)
    assert res.trace.stop_reason == "max_step"
    assert res.trace.retrieval_calls == 1
    assert policy.calls == {"first_note": 1, "next_query": 0, "refine": 0, "judge": 0}


def test_passage_budget_is_respected_exactly():
    res = run(ScriptedPolicy(), top_k=5, max_step=10, max_top_k=12)
    assert len(res.seen_ids) == 12  # 5 + 5 + 2: the third retrieval is cut
    assert [len(s.new_ids) for s in res.trace.steps] == [5, 5, 2]
    assert res.trace.stop_reason == "max_top_k"
    assert len(set(res.seen_ids)) == len(res.seen_ids)


def test_budget_counts_distinct_passages_only():
    # 2 fresh passages per call, 3 repeated ones: distinct count grows by 2 per step
    res = run(
        ScriptedPolicy(),
        FakeRetriever(fresh=2),
        top_k=5,
        max_step=10,
        max_top_k=9,
        exclude_seen=False,
    )
    assert [len(s.new_ids) for s in res.trace.steps] == [5, 2, 2]
    assert len(res.seen_ids) == 9
    assert res.trace.stop_reason == "max_top_k"


def test_step_without_new_passages_is_rejected_without_refine_or_judge():
    policy = ScriptedPolicy()
    res = run(policy, FakeRetriever(fresh=0), max_step=3, exclude_seen=False)
    assert res.trace.stop_reason == "max_fail_step"
    assert policy.calls["refine"] == 0 and policy.calls["judge"] == 0
    assert res.trace.steps[1].verdict.reason == "no new passage retrieved"


def test_no_new_query_stops_before_retrieving():
    res = run(ScriptedPolicy(queries=[None]))
    assert res.trace.stop_reason == "no_new_query"
    assert res.trace.retrieval_calls == 1


@pytest.mark.parametrize("repeat", ["q?", "  Q?  ", ""])
def test_repeated_or_empty_query_stops(repeat):
    res = run(ScriptedPolicy(queries=[repeat]), exclude_seen=False)
    assert res.trace.stop_reason == "no_new_query"
    assert res.trace.retrieval_calls == 1


def test_repeated_query_pages_when_excluding_seen():
    res = run(ScriptedPolicy(queries=["q?", ""]), exclude_seen=True)
    assert res.trace.retrieval_calls == 2 and res.trace.stop_reason == "no_new_query"


def test_note_seeds_are_forwarded_scaled_and_capped():
    fake = FakeRetriever()
    seeds = {1: 1.0, 2: 0.5, 3: 0.25}
    run(ScriptedPolicy(seeds=seeds), fake, max_step=1, max_note_seeds=2, note_seed_weight=3.0)
    assert fake.calls[0][2] is None  # the question's own retrieval has no note seeds
    assert fake.calls[1][2] == pytest.approx({1: 2.0, 2: 1.0})  # the two strongest, sum 3


def test_seed_weight_zero_disables_seeding():
    fake = FakeRetriever()
    run(ScriptedPolicy(seeds={1: 1.0}), fake, max_step=1, note_seed_weight=0.0)
    assert fake.calls[1][2] is None


def test_exclude_seen_asks_for_more_and_gets_only_unseen():
    fake = FakeRetriever(fresh=1)
    res = run(ScriptedPolicy(), fake, top_k=3, max_step=2, max_top_k=100, exclude_seen=True)
    assert [c[1] for c in fake.calls] == [3, 6, 9]  # top_k + seen so far
    assert all(len(s.new_ids) <= 3 for s in res.trace.steps)


def test_exclude_is_passed_when_the_retriever_has_it():
    class Excluding(FakeRetriever):
        accepts = frozenset({"extra_seeds", "exclude"})

        def retrieve(self, query, k=5, extra_seeds=None, exclude=None):
            self.excluded = list(exclude or [])
            return super().retrieve(query, k, extra_seeds)

    fake = Excluding()
    res = run(ScriptedPolicy(), fake, top_k=3, max_step=1, exclude_seen=True)
    assert [c[1] for c in fake.calls] == [3, 3]  # no over-fetching
    assert fake.excluded == res.trace.steps[0].new_ids


def test_plain_retriever_without_seed_support_works():
    class Plain:
        def retrieve(self, query: str, k: int = 5) -> RetrievalResult:
            hits = [Hit(f"{query}_{i}", "t", "x", 1.0, i + 1) for i in range(k)]
            return RetrievalResult(query, hits, "plain")

    fn, seeded = as_retrieve_fn(Plain())
    assert not seeded and len(fn("a", 2, {1: 1.0})) == 2
    res = NoteLoop(Plain(), ScriptedPolicy(seeds={1: 1.0}), NoteConfig(max_step=1)).run("a")
    assert "note_seeds_unsupported" in res.flags
    assert res.trace.retrieval_calls == 2


def test_callable_retriever_and_bad_objects():
    fake = FakeRetriever()
    res = NoteLoop(fake.retrieve, ScriptedPolicy(), NoteConfig(max_step=1)).run("q")
    assert res.trace.retrieval_calls == 2
    with pytest.raises(RetrievalError, match="needs a retriever"):
        NoteLoop(42, ScriptedPolicy())
    with pytest.raises(RetrievalError, match="not a RetrievalResult"):
        NoteLoop(lambda q, k, s: [], ScriptedPolicy()).run("q")


def test_final_ranking_puts_best_note_passages_first_and_cuts_at_k():
    res = NoteLoop(FakeRetriever(), ScriptedPolicy([False]), NoteConfig(max_step=3)).run("q", k=7)
    first_ids = res.trace.steps[0].new_ids
    assert [h.passage_id for h in res.hits[:5]] == first_ids  # the note's passages, in rank order
    assert len(res.hits) == 7 and [h.rank for h in res.hits] == list(range(1, 8))
    assert len(res.seen_ids) == 10  # every seen passage is still listed
    assert isinstance(res, RetrievalResult) and res.mode == "note"
    assert "stop:max_fail_step" in res.flags


def test_retriever_protocol_methods():
    loop = NoteLoop(FakeRetriever(), ScriptedPolicy(), NoteConfig(max_step=1))
    assert len(loop.retrieve("q", k=3)) == 3
    assert [r.query for r in loop.retrieve_batch(["a", "b"], k=2)] == ["a", "b"]


def test_bad_arguments_raise():
    loop = NoteLoop(FakeRetriever(), ScriptedPolicy())
    with pytest.raises(RetrievalError, match="empty"):
        loop.run("  ")
    with pytest.raises(RetrievalError, match="k must be"):
        loop.run("q", k=0)


def test_trace_prints_and_serialises():
    res = run(ScriptedPolicy([True, False]), max_step=3)
    text = str(res.trace)
    assert "step 0  query: q?" in text and "verdict: rejected" in text
    assert "stopped: max_fail_step after 2 steps (1 rejected)" in text
    assert "calls: 3 retrieval, 0 LLM" in text
    data = json.loads(json.dumps(res.to_dict()))
    assert data["trace"]["retrieval_calls"] == 3
    assert data["trace"]["steps"][2]["verdict"]["accept"] is False
    assert data["note"]["passage_ids"] == list(res.note.passage_ids)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"top_k": 0}, "top_k"),
        ({"max_step": -1}, "max_step"),
        ({"max_fail_step": 0}, "max_fail_step"),
        ({"top_k": 10, "max_top_k": 5}, "max_top_k"),
        ({"policy": "magic"}, "policy"),
        ({"judge_threshold": -1.0}, "judge_threshold"),
        ({"max_stpe": 2}, "did you mean 'max_step'"),
        ({"top_k": "5"}, "must be of type int"),
    ],
)
def test_note_config_validation(data, match):
    with pytest.raises(ConfigError, match=match):
        NoteConfig.from_dict(data)


def test_note_config_defaults_and_round_trip():
    cfg = NoteConfig()
    assert (cfg.top_k, cfg.max_step, cfg.max_fail_step, cfg.max_top_k) == (5, 3, 1, 15)
    assert NoteConfig.from_toml(cfg.to_toml()) == cfg


def test_note_config_from_command_line(tmp_path):
    import argparse

    from pipelines.commands.answer import add_note_arguments, note_config_from_args

    parser = argparse.ArgumentParser()
    add_note_arguments(parser)
    toml = tmp_path / "note.toml"
    toml.write_text("[note]\nmax_step = 2\njudge_threshold = 2.0\n", encoding="utf-8")
    args = parser.parse_args(["--note-config", str(toml), "--max-fail-step", "2"])
    cfg = note_config_from_args(args)
    assert (cfg.max_step, cfg.max_fail_step, cfg.judge_threshold) == (2, 2, 2.0)
    toml.write_text("max_stpe = 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="did you mean 'max_step'"):
        note_config_from_args(parser.parse_args(["--note-config", str(toml)]))
    with pytest.raises(ConfigError, match="max_top_k"):
        note_config_from_args(parser.parse_args(["--top-k", "20"]))
