"""graph.hnsw_threads: config round trip, validation, and a multi-threaded build that works."""

from __future__ import annotations

import numpy as np
import pytest

from hipporag.config import GraphConfig, IndexConfig, usable_cpus
from hipporag.errors import ConfigError
from hipporag.index import Index
from indexers.builder import IndexBuilder
from indexers.graph import synonymy_edges
from indexers.readers import passages_from_records
from retrievers.config import RetrievalConfig
from retrievers.graph import GraphRetriever
from tests.fakes import CapitalizedWordsExtractor, HashEmbedder

CITIES = ["Berlin", "Munich", "Hamburg", "Vienna", "Zurich", "Prague", "Dresden", "Leipzig"]
PEOPLE = ["Alice", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi", "Ivan", "Judy"]


def records(n: int) -> list[dict[str, str]]:
    """``n`` small passages over a shared cast, so the graph has hubs and many rows."""
    out = []
    for i in range(n):
        who, other = PEOPLE[i % len(PEOPLE)], PEOPLE[(3 * i + 1) % len(PEOPLE)]
        city = CITIES[i % len(CITIES)]
        out.append(
            {
                "title": f"Note {i}",
                "text": f"{who} Person{i} met {other} in {city} Region{i % 13} on Day{i}.",
            }
        )
    return out


def build(out, threads: int | str):
    passages, _ = passages_from_records(records(80))
    config = IndexConfig(graph=GraphConfig(hnsw_threads=threads))
    IndexBuilder(config, extractor=CapitalizedWordsExtractor(), embedder=HashEmbedder()).build(
        passages, out
    )
    return Index.open(out)


def test_hnsw_threads_round_trips_through_dict_and_toml() -> None:
    for value in (1, 2, 0, "auto"):
        cfg = IndexConfig.from_dict({"graph": {"hnsw_threads": value}})
        assert cfg.graph.hnsw_threads == value
        assert IndexConfig.from_toml(cfg.to_toml()) == cfg
        assert IndexConfig.from_dict(cfg.to_dict()) == cfg
    assert IndexConfig().graph.hnsw_threads == 1  # reproducible by default
    assert GraphConfig(hnsw_threads=3).hnsw_workers == 3
    assert GraphConfig(hnsw_threads=0).hnsw_workers == usable_cpus()
    assert GraphConfig(hnsw_threads="auto").hnsw_workers == usable_cpus()


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (-1, "graph.hnsw_threads must be >= 0 or 'auto', got -1"),
        ("many", "graph.hnsw_threads must be >= 0 or 'auto', got 'many'"),
        ("4", "graph.hnsw_threads must be >= 0 or 'auto', got '4'"),
        (True, "graph.hnsw_threads must be of type int or str"),
        (2.0, "graph.hnsw_threads must be of type int or str"),
    ],
)
def test_bad_hnsw_threads_fail_with_a_fix(value, fragment) -> None:
    with pytest.raises(ConfigError) as err:
        IndexConfig.from_dict({"graph": {"hnsw_threads": value}})
    assert fragment in str(err.value)
    if "or 'auto'" in fragment:
        assert "use 1 for reproducible builds" in str(err.value)


def test_direct_construction_rejects_a_bool() -> None:
    with pytest.raises(ConfigError, match="hnsw_threads"):
        GraphConfig(hnsw_threads=True)


def test_threaded_synonymy_matches_one_thread() -> None:
    rng = np.random.default_rng(0)
    base = rng.normal(size=(150, 16))
    vecs = np.concatenate([base, base[:60] + 0.15 * rng.normal(size=(60, 16))])
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    names = [f"entity {chr(97 + i % 26)}{chr(97 + i // 26)}" for i in range(vecs.shape[0])]
    one = synonymy_edges(names, vecs, GraphConfig(hnsw_threads=1))
    two = synonymy_edges(names, vecs, GraphConfig(hnsw_threads=2))
    sims = vecs @ vecs.T
    exact = {(i, j) for i in range(210) for j in range(i + 1, 210) if sims[i, j] >= 0.8}
    assert len(exact) >= 50
    for src, dst, _ in (one, two):
        assert set(zip(src.tolist(), dst.tolist(), strict=True)) == exact


def test_build_with_two_threads_opens_and_retrieves(tmp_path) -> None:
    two = build(tmp_path / "two", 2)
    one = build(tmp_path / "one", 1)
    assert two.config.graph.hnsw_threads == 2  # stored in the index's config
    assert two.counts == one.counts and two.counts["passages"] == 80
    for table in ("passages", "entities", "facts"):
        assert two.table(table).equals(one.table(table)), table
    for name, array in (("passages", "passage"), ("entities", "entity"), ("facts", "fact")):
        vecs = np.asarray(two.array(f"{array}_embeddings"))
        _, dist = two.hnsw(name).knn_query(vecs[5:6], k=1)
        assert dist[0, 0] < 1e-5, name  # row 5 (or a duplicate vector) is its own neighbour
    query = "Where did Carol Person2 meet Heidi?"
    got, ref = (
        GraphRetriever(ix, RetrievalConfig(), embedder=HashEmbedder()).retrieve(query, k=3)
        for ix in (two, one)
    )
    assert len(got) == 3 and got[0].score > got[2].score > 0
    # the same best passage as the one-thread build (lower ranks may differ among near-ties)
    assert got.passage_ids[0] == ref.passage_ids[0]
    assert got[0].score == pytest.approx(ref[0].score, rel=1e-2)
