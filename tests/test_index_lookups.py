"""The typed read interface of the index (IndexView) on the real demo index."""

from __future__ import annotations

import numpy as np
import pytest

from hipporag.index import Index, lookups
from hipporag.protocols import IndexView

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def index(demo_index_path) -> Index:
    return Index.open(demo_index_path)


def exact(index: Index, table: str, q: np.ndarray, k: int, allow=None, exclude=()):  # type: ignore[no-untyped-def]
    sims = index.embeddings(table) @ q
    rows = np.arange(sims.size) if allow is None else np.asarray(allow)
    rows = np.array([r for r in rows if r not in set(exclude)], dtype=np.int64)
    order = np.lexsort((rows, -sims[rows]))[:k]
    return rows[order].tolist()


def test_index_satisfies_the_protocol(index) -> None:
    assert isinstance(index, IndexView)
    for table in ("passages", "entities", "facts"):
        assert index.live(table).shape == (index.n_rows(table),) and index.live(table).all()


@pytest.mark.parametrize("table", ["passages", "entities", "facts"])
@pytest.mark.parametrize("brute", [4096, 0])
def test_knn_with_allow_and_exclude_matches_exact_search(index, table, brute, monkeypatch) -> None:
    monkeypatch.setattr(lookups, "BRUTE_FORCE_ROWS", brute)  # 0: the filter inside HNSW
    n = index.n_rows(table)
    rng = np.random.default_rng(3)
    for trial in range(5):
        q = index.embeddings(table)[int(rng.integers(n))]
        allow = np.sort(rng.choice(n, max(n // 2, 1), replace=False)).astype(np.int64)
        exclude = np.sort(allow[:2])
        got, sims = index.knn(table, q, 3, allow=allow, exclude=exclude)
        assert got.tolist() == exact(index, table, q, 3, allow, exclude.tolist()), trial
        assert np.all(np.diff(sims) <= 1e-6)
        got, _ = index.knn(table, q, 4)
        assert set(got.tolist()) <= set(range(n)) and len(got) == min(4, n)


def test_passage_entity_and_fact_lookups_agree_with_the_tables(index) -> None:
    mentions = index.sql("SELECT passage_idx, entity_idx FROM mentions").rows()
    by_passage: dict[int, set[int]] = {}
    for p, e in mentions:
        by_passage.setdefault(int(p), set()).add(int(e))
    got = index.entities_of_passages([0, 1, 2])
    assert {p: set(v) for p, v in got.items()} == {p: by_passage[p] for p in (0, 1, 2)}
    facts = index.facts_of_passages([0])[0]
    subj, obj = index.fact_endpoints()
    for f in facts:
        assert (subj[f.idx], obj[f.idx]) == (f.subject, f.object)
        assert index.fact_relations()[f.idx] == f.relation
        assert f.idx in index.facts_of_entity(f.subject).tolist()
    assert [f.idx for f in index.facts([facts[0].idx])] == [facts[0].idx]
    rows = index.sql("SELECT fact_idx, relation FROM facts").rows()
    rels = index.fact_relations()  # codes into the distinct relations, equal to the table
    assert len(rels) == index.n_facts and len(rels.vocab) <= len(set(r for _, r in rows)) + 1
    assert all(rels[int(i)] == r for i, r in rows)
    assert index.passage_titles()[0] == index.passages([0])[0].title
    assert index.passage_index()[index.passage_ids[5]] == 5
    eid = index.sql("SELECT entity_id FROM entities WHERE entity_idx = 3").rows()[0][0]
    assert index.entity_index()[eid] == 3
    nodes, weights = index.neighbours(index.n_entities)
    assert nodes.tolist() == index.graph.neighbors(index.n_entities).tolist()
    assert weights.shape == nodes.shape
