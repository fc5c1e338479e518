"""Allow-lists and deleted passages on the real demo index, in every retrieval mode."""

from __future__ import annotations

import numpy as np
import pytest

from hipporag.errors import RetrievalError
from hipporag.index import Index
from pipelines.facade import shared_embedder
from pipelines.qa import make_note_loop
from retrievers import registry
from retrievers.config import RetrievalConfig
from retrievers.graph import GraphRetriever

pytestmark = pytest.mark.slow

LYNX = "What is the currency of the country where the maker of the Lynx-7 camera is headquartered?"
QUESTIONS = [LYNX, "Who was the spouse of the author of The Amber Ledger?", "what is it?"]
RANKERS = registry.names(rankers_only=True)


class DeletingIndex(Index):
    """The demo index with some passages tombstoned, as a living index presents them."""

    dead: np.ndarray = np.zeros(0, np.int64)

    def live(self, table: str) -> np.ndarray:
        mask = super().live(table).copy()
        if table == "passages":
            mask[self.dead] = False
        return mask

    def _load_hnsw(self, name: str):  # type: ignore[no-untyped-def]
        hnsw = super()._load_hnsw(name)
        if name == "passages" and hnsw is not None:
            for i in self.dead.tolist():
                hnsw.mark_deleted(i)  # what a living index does for deleted rows
        return hnsw


@pytest.fixture(scope="module")
def index(demo_index_path) -> Index:
    return Index.open(demo_index_path)


@pytest.fixture(scope="module")
def graph(index) -> GraphRetriever:
    return GraphRetriever(
        index, RetrievalConfig(), embedder=shared_embedder(index.config.embedding)
    )


def allow_lists(n: int) -> list[np.ndarray]:
    rng = np.random.default_rng(7)
    return [
        np.array([3], dtype=np.int64),
        np.sort(rng.choice(n, 4, replace=False)).astype(np.int64),
        np.arange(0, n, 2, dtype=np.int64),
        np.arange(n, dtype=np.int64),
    ]


@pytest.mark.parametrize("mode", RANKERS)
def test_only_allowed_passages_come_back_and_k_of_them(index, graph, mode) -> None:
    ids = index.passage_ids
    for allow in allow_lists(index.n_passages):
        allowed = {ids[i] for i in allow.tolist()}
        for q in QUESTIONS:
            for k in (1, 3, 5):
                res = graph.retrieve(q, k=k, mode=mode, allow=allow)
                assert set(res.passage_ids) <= allowed, (mode, q, allow)
                assert len(res) == min(k, allow.size)
                assert len(set(res.passage_ids)) == len(res)
    full = graph.retrieve(LYNX, k=5, mode=mode, allow=np.arange(index.n_passages))
    assert full.passage_ids == graph.retrieve(LYNX, k=5, mode=mode).passage_ids


@pytest.mark.parametrize("mode", RANKERS)
def test_allow_and_exclude_together(index, graph, mode) -> None:
    allow = np.arange(0, index.n_passages, 3, dtype=np.int64)
    first = graph.retrieve(LYNX, k=2, mode=mode, allow=allow)
    again = graph.retrieve(LYNX, k=4, mode=mode, allow=allow, exclude=first.passage_ids)
    allowed = {index.passage_ids[i] for i in allow.tolist()}
    assert set(again.passage_ids) <= allowed - set(first.passage_ids)
    assert len(again) == min(4, allow.size - 2)


def test_batch_takes_the_allow_list(index, graph) -> None:
    allow = np.array([1, 5, 9, 20], dtype=np.int64)
    for mode in RANKERS:
        for res in graph.retrieve_batch(QUESTIONS, k=3, mode=mode, allow=allow):
            assert {index.passage_ids[i] for i in (1, 5, 9, 20)} >= set(res.passage_ids)
            assert len(res) == 3


def test_bad_allow_lists_are_refused(index, graph) -> None:
    for bad, match in [
        (np.array([index.n_passages]), "outside"),
        (np.array([-1]), "outside"),
        (np.array([[1, 2]]), "1-D"),
        (np.array([0.5]), "integers"),
    ]:
        with pytest.raises(RetrievalError, match=match):
            graph.retrieve(LYNX, k=2, allow=bad)
    assert graph.retrieve(LYNX, k=3, allow=np.array([], dtype=np.int64)).hits == []


def test_note_loop_keeps_to_the_allow_list(demo_index_path, index) -> None:
    from pipelines.facade import HippoRAG

    rag = HippoRAG.open(demo_index_path)
    allow = np.arange(0, index.n_passages, 2, dtype=np.int64)
    res = make_note_loop(rag).run(LYNX, allow=allow)
    allowed = {index.passage_ids[i] for i in allow.tolist()}
    assert res.seen_ids and set(res.seen_ids) <= allowed


@pytest.mark.parametrize("mode", RANKERS)
def test_deleted_passages_are_never_returned(demo_index_path, index, graph, mode) -> None:
    baseline = graph.retrieve(LYNX, k=6, mode=mode)
    pidx = {p: i for i, p in enumerate(index.passage_ids)}
    deleting = DeletingIndex(demo_index_path)
    deleting.dead = np.array(sorted(pidx[p] for p in baseline.passage_ids[:3]), dtype=np.int64)
    g = GraphRetriever(deleting, RetrievalConfig(), embedder=graph.embedder)
    dead = {index.passage_ids[i] for i in deleting.dead.tolist()}
    n_live = index.n_passages - deleting.dead.size
    for q in QUESTIONS:
        for k in (3, n_live, n_live + 5):
            res = g.retrieve(q, k=k, mode=mode)
            assert not dead & set(res.passage_ids), (mode, q, k)
            assert len(res) == min(k, n_live)
        allow = np.arange(index.n_passages, dtype=np.int64)
        assert not dead & set(g.retrieve(q, k=5, mode=mode, allow=allow).passage_ids)
