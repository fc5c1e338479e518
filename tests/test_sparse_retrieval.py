"""Per-query work independent of the corpus: sparse PPR, exclusions and explanations at 10^5 nodes.

A synthetic index (entities, passages, facts, graph and embeddings in memory,
read through the real :class:`~hipporag.index.lookups.IndexLookups`) runs the
real retrievers; a fake embedder maps queries to given vectors.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from hipporag.graph import CSRGraph
from retrievers.common import PassageFilter, exclusion_set
from retrievers.explain import Explainer, SparseScores
from retrievers.hipporag1 import HippoRAG1Retriever
from retrievers.hybrid import HybridRetriever
from retrievers.params import FactParams
from retrievers.ppr import PPR
from retrievers.walk import Parts
from tests.synthetic_index import SyntheticIndex, VectorEmbedder


def random_graph(seed: int, n: int = 400, m: int = 1200) -> CSRGraph:
    rng = np.random.default_rng(seed)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    return CSRGraph.from_edges(n, src, dst, rng.uniform(0.1, 2.0, m))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("method", ["push", "power", "auto"])
def test_sparse_ppr_equals_the_dense_one(seed, method) -> None:
    graph = random_graph(seed)
    ppr = PPR(graph)
    rng = np.random.default_rng(seed + 100)
    seeds = {
        int(s): float(w)
        for s, w in zip(rng.integers(0, 400, 5), rng.uniform(0.1, 1, 5), strict=True)
    }
    dense_reset = np.zeros(graph.n_nodes)
    for s, w in seeds.items():
        dense_reset[s] += w
    for reset in (seeds, dense_reset):
        res = ppr.sparse(reset, 0.5, method, eps=1e-8)
        full = ppr.run(reset, 0.5, method, eps=1e-8)
        assert np.all(np.diff(res.nodes) > 0) and np.all(res.scores > 0)
        np.testing.assert_allclose(res.to_dense(graph.n_nodes), full, atol=1e-12)
        assert set(np.flatnonzero(full).tolist()) == set(res.nodes.tolist())


@pytest.fixture(scope="module")
def big() -> SyntheticIndex:
    return SyntheticIndex(50_000, 50_000)


def test_exclusions_and_filters_are_sets_not_masks(big) -> None:
    excluded = exclusion_set(big, ["p7", 3, "p49999", 3])
    assert excluded.tolist() == [3, 7, 49999]
    filt = PassageFilter(big.live("passages"), np.array([3, 8, 9, 49999]), excluded)
    assert filt.ok(np.array([3, 8, 9, 49999, 11])).tolist() == [False, True, True, False, False]


def test_hybrid_on_a_large_graph_excludes_and_explains_locally(big) -> None:
    q = big.embeddings("passages")[123] * 0.9 + big.embeddings("facts")[77] * 0.1
    q = (q / np.linalg.norm(q)).astype(np.float32)
    emb = VectorEmbedder({"q": q})
    parts = Parts(big, emb)
    r = HybridRetriever(params=HybridRetriever.Params(dense_candidates=20), parts=parts)
    first = r.retrieve("q", k=10)
    assert len(first) == 10 and first.passage_ids[0] == "p123"
    second = r.retrieve("q", k=10, exclude=first.passage_ids[:5])
    assert not set(second.passage_ids) & set(first.passage_ids[:5]) and len(second) == 10
    pidx = {p: i for i, p in enumerate(big.passage_ids)}
    names = {n: i for i, n in enumerate(big.entity_names)}
    for hit in second:
        e = hit.explanation
        assert e is not None and e.ppr_score == pytest.approx(hit.score)
        node = big.n_entities + pidx[hit.passage_id]
        for ent in e.connecting_entities:
            assert names[ent] in big.graph.neighbors(node).tolist()
        if e.path and e.path[0].startswith("entity"):
            assert e.path[-1] == f"[{hit.title}]"
    walk = parts.ppr.sparse(
        {big.n_entities + 123: 1.0}, 0.5, "auto", eps=r.params.ppr_eps
    )  # the walk is local
    assert walk.nodes.size < big.graph.n_nodes // 10
    timings = [r.retrieve("q", k=10).timings_ms["total"] for _ in range(3)]
    assert set(first.timings_ms) >= {"encode", "link", "fuse", "ppr", "rank", "explain", "fetch"}
    assert min(timings) > 0


def test_hipporag1_allow_list_on_a_large_graph(big) -> None:
    q = big.embeddings("passages")[5]
    parts = Parts(big, VectorEmbedder({"q": q}))
    r = HippoRAG1Retriever(parts=parts)
    allow = np.arange(0, big.n_passages, 1000, dtype=np.int64)

    class Seeds:
        def link(self, query: str):  # type: ignore[no-untyped-def]
            from retrievers.linking import Linking

            ents = big.graph.neighbors(big.n_entities + 5000)
            return Linking(weights={int(e): 1.0 for e in ents if e < big.n_entities})

    parts.view(allow)._cache[("ner", r.params.spacy_model, r.params.link_k)] = Seeds()
    res = r.retrieve("q", k=7, allow=allow)  # runs in the view of the allow-list
    assert len(res) == 7
    assert {int(p[1:]) for p in res.passage_ids} <= set(allow.tolist())
    assert res.passage_ids[0] == "p5000"


def test_explainer_works_on_the_touched_subgraph(big) -> None:
    ex = Explainer(big, max_hops=4)
    ppr = PPR(big.graph)
    seed = int(big.graph.neighbors(big.n_entities + 42)[0])
    walk = ppr.sparse({seed: 1.0}, 0.5, "push", eps=1e-5)
    t = time.perf_counter()
    out = ex.explain(
        [42], seeds=[], seed_nodes=[seed], node_scores=walk, dense_scores=[None], flags=()
    )
    assert time.perf_counter() - t < 1.0
    assert out[0].path == [f"entity {seed}", "[T42]"]
    assert out[0].ppr_score == pytest.approx(float(SparseScores.of(walk)[big.n_entities + 42]))
    assert f"entity {seed}" in out[0].connecting_entities


def test_path_search_never_reads_a_hub_row_past_its_budget() -> None:
    from hipporag.graph import CSRGraph

    # target 1 - hub 0 (100k leaves) - seed 2, and a longer way 1 - 3 - 4 - 2
    n = 100_005
    src = np.concatenate([np.zeros(n - 5, np.int64), [0, 0, 1, 3, 4]])
    dst = np.concatenate([np.arange(5, n), [1, 2, 3, 4, 2]])

    class G:  # the two things Explainer reads of an index here
        graph = CSRGraph.from_edges(n, src, dst, np.ones(src.shape[0]))

    seed = np.zeros(n)
    seed[2] = 1.0
    assert Explainer(G(), max_visits=200_000).path(1, seed) == [2, 0, 1]  # via the hub
    t = time.perf_counter()
    assert Explainer(G(), max_visits=1_000).path(1, seed) == [2, 4, 3, 1]  # hub skipped
    assert time.perf_counter() - t < 0.05


def test_fact_params_validate() -> None:
    with pytest.raises(Exception, match="top_facts"):
        FactParams(top_facts=0)
