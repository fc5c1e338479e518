"""Retrievers on the demo index built with the real models (spaCy OpenIE, MiniLM)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from hipporag.errors import LLMError, RetrievalError
from hipporag.index import Index
from hipporag.protocols import Retriever
from hipporag.text import passage_id
from pipelines.facade import shared_embedder
from retrievers.config import RetrievalConfig
from retrievers.dense import DenseRetriever
from retrievers.graph import GraphRetriever
from retrievers.linking import FactLinker, NERLinker
from retrievers.ppr import PPR

pytestmark = pytest.mark.slow

LYNX = "What is the currency of the country where the maker of the Lynx-7 camera is headquartered?"


@pytest.fixture(scope="module")
def index(demo_index_path) -> Index:
    return Index.open(demo_index_path)


@pytest.fixture(scope="module")
def embedder(index):
    return shared_embedder(index.config.embedding)


@pytest.fixture(scope="module")
def graph(index, embedder) -> GraphRetriever:
    return GraphRetriever(index, RetrievalConfig(), embedder=embedder)


@pytest.fixture(scope="module")
def titles(index) -> dict[str, str]:
    return {p.id: p.title for p in index.passages(range(index.n_passages))}


def test_every_retriever_fits_the_protocol(index, embedder, graph) -> None:
    assert isinstance(DenseRetriever(index, embedder), Retriever)
    assert isinstance(graph, Retriever)


def test_dense_scores_are_exact_cosines_in_order(index, embedder) -> None:
    dense = DenseRetriever(index, embedder)
    res = dense.retrieve("Who founded Brightmoor Instruments?", k=5)
    qvec = embedder.encode(["Who founded Brightmoor Instruments?"], is_query=True)[0]
    exact = np.asarray(index.passage_embeddings) @ qvec
    best = np.argsort(-exact)[:5]
    assert [h.passage_id for h in res] == [index.passage_ids[i] for i in best]
    assert [h.score for h in res] == pytest.approx(exact[best].tolist(), abs=1e-5)
    assert all(h.explanation.dense_score == pytest.approx(h.score) for h in res)
    assert [h.rank for h in res] == [1, 2, 3, 4, 5]


def test_k_larger_than_corpus_returns_every_passage(index, embedder, graph) -> None:
    n = index.n_passages
    for res in (
        DenseRetriever(index, embedder).retrieve("Kelderhaven", k=n + 50),
        graph.retrieve("Kelderhaven football club stadium", k=n + 50),
        graph.retrieve("Kelderhaven football club stadium", k=n + 50, mode="hipporag1"),
    ):
        assert len(res) == n
        assert len(set(res.passage_ids)) == n


def test_multi_hop_passage_missed_by_dense_is_found_by_ppr(index, graph, titles) -> None:
    """The currency of Vastria needs two hops (camera -> maker -> country)."""
    dense = [titles[p] for p in graph.retrieve(LYNX, k=3, mode="dense").passage_ids]
    assert "Vastria" not in dense
    for mode in ("hybrid", "hipporag2"):
        found = [titles[p] for p in graph.retrieve(LYNX, k=3, mode=mode).passage_ids]
        assert "Vastria" in found, (mode, found)
        assert "Lynx-7" in found


def test_fact_linking_follows_hipporag2_weights(index, embedder) -> None:
    linker = FactLinker(index, top_facts=3)
    qvec = embedder.encode_query(LYNX)
    link = linker.link(LYNX, qvec)
    sims = np.asarray(index.fact_embeddings) @ qvec
    top = np.argsort(-sims)[:3]
    assert link.facts == top.tolist()
    subj, obj = index.array("fact_subject"), index.array("fact_object")
    n_pass = np.maximum(index.array("entity_n_passages"), 1)
    expected: dict[int, float] = {}
    for f in top:
        for e in (int(subj[f]), int(obj[f])):
            expected[e] = expected.get(e, 0.0) + float(sims[f]) / float(n_pass[e])
    assert link.weights.keys() == expected.keys()
    for e, w in expected.items():
        assert link.weights[e] == pytest.approx(w, rel=1e-4)
    assert [s.weight for s in link.seeds] == sorted((s.weight for s in link.seeds), reverse=True)
    assert link.seeds[0].source.startswith("fact (")


def test_ner_linking_uses_node_specificity(index, embedder) -> None:
    linker = NERLinker(index, embedder, RetrievalConfig().spacy_model, link_k=1)
    mentions = linker.mentions("In which city was the founder of Brightmoor Instruments born?")
    assert "brightmoor instruments" in mentions
    link = linker.link("In which city was the founder of Brightmoor Instruments born?")
    names = index.entity_names
    e = names.index("brightmoor instruments")
    n_pass = int(index.array("entity_n_passages")[e])
    assert link.weights[e] == pytest.approx(1.0 / n_pass)


def test_explanations_name_a_real_seed_to_passage_path(index, graph) -> None:
    res = graph.retrieve(LYNX, k=5)
    g = index.graph
    names = {n: i for i, n in enumerate(index.entity_names)}
    seed_names = {s.node for s in res[0].explanation.seeds}
    for hit in res:
        e = hit.explanation
        assert e is not None and e.ppr_score == pytest.approx(hit.score)
        assert e.dense_score is not None and -1.0 <= e.dense_score <= 1.0
        assert e.path and e.path[-1] == f"[{hit.title}]"
        assert e.path[0] in seed_names
        assert len(e.path) <= graph.config.path_hops + 1
        # consecutive path nodes are adjacent in the graph
        pidx = {p: i for i, p in enumerate(index.passage_ids)}
        node_ids = []
        for name in e.path:
            if name.startswith("["):
                node_ids.append(None)
            else:
                node_ids.append(names[name])
        node_ids[-1] = index.n_entities + pidx[hit.passage_id]
        for a, b in itertools.pairwise(node_ids):
            if a is not None and b is not None:
                assert b in g.neighbors(a).tolist()
        for ent in e.connecting_entities:
            assert names[ent] in g.neighbors(index.n_entities + pidx[hit.passage_id]).tolist()


def test_power_and_auto_ppr_give_the_same_ranking(index, embedder) -> None:
    auto = GraphRetriever(index, RetrievalConfig(ppr_method="auto"), embedder=embedder)
    power = GraphRetriever(index, RetrievalConfig(ppr_method="power"), embedder=embedder)
    for mode in ("hybrid", "hipporag2"):
        assert (
            auto.retrieve(LYNX, 8, mode=mode).passage_ids
            == power.retrieve(LYNX, 8, mode=mode).passage_ids
        )


def test_hipporag1_ppr_matches_entity_only_reset(index, graph) -> None:
    q = "In which city was the founder of Brightmoor Instruments born?"
    link = graph.link(q, mode="hipporag1")
    scores = PPR(index.graph).power(link.weights, 0.5)[index.n_entities :]
    res = graph.retrieve(q, 2, mode="hipporag1")
    best = np.argsort(-scores)[:2]
    assert res.passage_ids == [index.passage_ids[i] for i in best]


def test_no_seeds_gives_flagged_dense_hits(index, embedder, graph) -> None:
    res = graph.retrieve("what is it?", k=3, mode="hipporag1")
    assert "no_seeds" in res.flags
    dense = graph.retrieve("what is it?", k=3, mode="dense")
    assert res.passage_ids == dense.passage_ids
    assert all("no_seeds" in h.explanation.flags for h in res)


def test_extra_seeds_pull_in_passages_of_that_entity(index, graph, titles) -> None:
    q = "Who was the spouse of the author of The Amber Ledger?"
    base = [titles[p] for p in graph.retrieve(q, k=3).passage_ids]
    e = index.entity_names.index("vastria")
    boosted = graph.retrieve(q, k=3, extra_seeds={e: 5.0})
    assert "Vastria" not in base
    assert "Vastria" in [titles[p] for p in boosted.passage_ids]
    assert any(s.source == "extra seed" for s in boosted[0].explanation.seeds)


def test_exclude_leaves_passages_out(index, graph) -> None:
    first = graph.retrieve(LYNX, k=3)
    again = graph.retrieve(LYNX, k=3, exclude=[first[0].passage_id, 1])
    assert first[0].passage_id not in again.passage_ids
    assert index.passage_ids[1] not in again.passage_ids
    assert len(again) == 3


class _StubLLM:
    def __init__(self, answer: str | Exception) -> None:
        self.answer = answer
        self.calls = 0

    def chat(self, messages, *, json_schema=None, **params) -> str:
        self.calls += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


@pytest.mark.parametrize(
    "answer", [LLMError("server down"), "not json", '{"relevant": [99]}', '{"other": 1}']
)
def test_failing_recognition_filter_is_flagged_not_silent(index, embedder, answer) -> None:
    llm = _StubLLM(answer)
    g = GraphRetriever(index, RetrievalConfig(recognition=True), embedder=embedder, llm=llm)
    res = g.retrieve(LYNX, k=3)
    assert llm.calls == 1
    assert "llm_filter_failed" in res.flags
    assert all("llm_filter_failed" in h.explanation.flags for h in res)


def test_recognition_filter_keeps_the_chosen_facts(index, embedder) -> None:
    g = GraphRetriever(
        index,
        RetrievalConfig(recognition=True, recognition_max_facts=1),
        embedder=embedder,
        llm=_StubLLM('{"relevant": [2, 1]}'),
    )
    link = g.link(LYNX)
    unfiltered = FactLinker(index, top_facts=5).link(LYNX, embedder.encode_query(LYNX))
    assert link.facts == [unfiltered.facts[1]]  # bounded to 1, model order kept
    empty = GraphRetriever(
        index,
        RetrievalConfig(recognition=True),
        embedder=embedder,
        llm=_StubLLM('{"relevant": []}'),
    ).retrieve(LYNX, k=2)
    assert "no_seeds" in empty.flags and "no_facts_after_filter" in empty.flags


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"query": ""}, "empty"),
        ({"query": "   "}, "empty"),
        ({"query": None}, "string"),
        ({"query": "q", "k": 0}, "k must be >= 1"),
        ({"query": "q", "k": -3}, "k must be >= 1"),
        ({"query": "q", "k": 2.5}, "integer"),
        ({"query": "q", "mode": "bm25"}, "unknown retrieval mode"),
        ({"query": "q", "extra_seeds": {10**9: 1.0}}, "extra_seeds names entity"),
        ({"query": "q", "extra_seeds": {0: float("nan")}}, "finite"),
        ({"query": "q", "mode": "dense", "extra_seeds": {0: 1.0}}, "graph mode"),
        ({"query": "q", "exclude": ["p_nope"]}, "not in the index"),
    ],
)
def test_bad_input_gives_clear_errors(graph, kwargs, match) -> None:
    kwargs = {"k": 3, **kwargs}
    query = kwargs.pop("query")
    with pytest.raises(RetrievalError, match=match) as err:
        graph.retrieve(query, **kwargs)
    assert err.value.hint or "how to fix" not in str(err.value)


def test_batch_equals_single(graph) -> None:
    qs = [LYNX, "Who was the spouse of the author of The Amber Ledger?"]
    batch = graph.retrieve_batch(qs, k=4)
    for q, res in zip(qs, batch, strict=True):
        assert res.passage_ids == graph.retrieve(q, k=4).passage_ids
    with pytest.raises(RetrievalError, match=r"queries\[1\]"):
        graph.retrieve_batch([LYNX, ""], k=2)


def test_gold_ids_match_index_ids(index, demo_questions_path) -> None:
    import json

    q = json.loads(demo_questions_path.read_text())[0]
    gold = [
        passage_id(p["title"], p["paragraph_text"]) for p in q["paragraphs"] if p["is_supporting"]
    ]
    assert set(gold) <= set(index.passage_ids)
