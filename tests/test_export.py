"""Tests of hipporag.index.analysis, ``hipporag export`` and the rich HTML views."""

from __future__ import annotations

import gzip
from pathlib import Path

import networkx as nx
import numpy as np
import polars as pl
import pytest

from hipporag.display import index_html, result_html, trace_html
from hipporag.index.analysis import (
    edge_frame,
    export_graphml,
    export_parquet,
    neighborhood,
    node_frame,
    to_igraph,
    to_networkx,
)
from hipporag.index.factedges import FACT_EDGE_COLUMNS
from hipporag.index.format import EDGE_KINDS
from hipporag.index.reader import TABLES, Index
from hipporag.types import Explanation, Hit, RetrievalResult, Seed
from pipelines.cli import main as cli_main


@pytest.fixture(scope="module")
def index(demo_index_path: Path) -> Index:
    idx = Index.open(demo_index_path)
    yield idx
    idx.close()


def _pairs(index: Index) -> set[tuple[int, int]]:
    e = index.table("edges")
    return {(min(a, b), max(a, b)) for a, b in zip(e["src"], e["dst"], strict=True)}


def test_networkx_nodes_edges_and_attributes(index: Index) -> None:
    g = to_networkx(index)
    assert g.number_of_nodes() == index.n_entities + index.n_passages == index.graph.n_nodes
    assert g.number_of_edges() == len(_pairs(index))
    assert g.graph["n_entities"] == index.n_entities
    ents = index.table("entities")
    for i in (0, index.n_entities - 1):
        assert g.nodes[i] == {
            "kind": "entity",
            "name": ents["name"][i],
            "ref": ents["entity_id"][i],
            "n_passages": ents["n_passages"][i],
        }
    first_passage = g.nodes[index.n_entities]
    assert first_passage["kind"] == "passage"
    assert first_passage["ref"] == index.passage_ids[0]
    # Every kind of the edges table is kept, and per-kind weights add up to the total.
    kinds_seen = set()
    for _, _, d in g.edges(data=True):
        kinds = d["kinds"].split(",")
        kinds_seen.update(kinds)
        assert d["weight"] == pytest.approx(sum(d[f"w_{k}"] for k in EDGE_KINDS))
        assert all(d[f"w_{k}"] > 0 for k in kinds)
    assert kinds_seen == {k for k in EDGE_KINDS if index.counts["edges"][k] > 0}
    # Weights equal the CSR graph PPR walks on (stored as float32).
    csr = index.graph.to_scipy()
    for u, v, d in list(g.edges(data=True))[:200]:
        assert d["weight"] == pytest.approx(float(csr[u, v]), rel=1e-5)


def test_networkx_multigraph_keeps_one_edge_per_kind(index: Index) -> None:
    g = to_networkx(index, multigraph=True)
    assert g.number_of_edges() == index.table("edges").height
    counts = {k: 0 for k in EDGE_KINDS}
    for _, _, key, d in g.edges(keys=True, data=True):
        assert key == d["kind"]
        counts[key] += 1
    assert counts == index.counts["edges"]


def test_induced_subgraph_and_neighborhood(index: Index) -> None:
    seed = int(np.argmax(index.array("entity_n_passages")))
    nodes = neighborhood(index, [seed], radius=1)
    assert seed in nodes and set(index.graph.neighbors(seed).tolist()) <= set(nodes)
    sub = to_networkx(index, nodes=nodes)
    full = to_networkx(index)
    assert set(sub.nodes) == set(nodes)
    assert sub.number_of_edges() == full.subgraph(nodes).number_of_edges()
    assert neighborhood(index, [seed], radius=0) == [seed]


def test_graphml_round_trip(index: Index, tmp_path: Path) -> None:
    g = to_networkx(index, include_text=True)
    path = export_graphml(index, tmp_path / "kg.graphml")
    back = nx.read_graphml(path, node_type=int)
    assert back.number_of_nodes() == g.number_of_nodes()
    assert back.number_of_edges() == g.number_of_edges()
    for n, d in g.nodes(data=True):
        assert back.nodes[n] == d
    for u, v, d in g.edges(data=True):
        got = back.edges[u, v]
        assert set(got) == set(d)
        assert got["kinds"] == d["kinds"]
        for key in ("weight", *(f"w_{k}" for k in EDGE_KINDS)):
            assert got[key] == pytest.approx(d[key])
    assert back.graph["n_entities"] == index.n_entities
    # Compressed output, and the passage texts made it into the file.
    gz = export_graphml(index, tmp_path / "kg.graphml.gz", include_text=False)
    with gzip.open(gz) as fh:
        small = nx.read_graphml(fh, node_type=int)
    assert small.number_of_edges() == g.number_of_edges()
    assert "text" not in small.nodes[index.n_entities]
    assert back.nodes[index.n_entities]["text"] == index.table("passages")["text"][0]


def test_parquet_export_row_counts(index: Index, tmp_path: Path) -> None:
    files = export_parquet(index, tmp_path / "pq", views=True)
    assert set(files) == {*TABLES, "nodes", "graph_edges"}
    for name in TABLES:
        df = pl.read_parquet(files[name])
        ref = index.table(name)
        assert df.height == ref.height
        assert df.columns == ref.columns
        assert df.equals(ref)
    assert pl.read_parquet(files["nodes"]).height == index.graph.n_nodes
    assert pl.read_parquet(files["graph_edges"]).height == len(_pairs(index))
    only = export_parquet(index, tmp_path / "one", names=["facts"])
    assert list(only) == ["facts"]


def test_igraph_counts_and_attributes(index: Index) -> None:
    g = to_igraph(index)
    assert g.vcount() == index.graph.n_nodes
    assert g.ecount() == len(_pairs(index))
    assert g.vs[0]["kind"] == "entity" and g.vs[index.n_entities]["kind"] == "passage"
    assert g.vs[index.n_entities]["ref"] == index.passage_ids[0]
    expected = {"kinds", "weight", *(f"w_{k}" for k in EDGE_KINDS), *FACT_EDGE_COLUMNS}
    assert set(g.es.attributes()) == expected
    assert sum(g.es["weight"]) == pytest.approx(edge_frame(index)["weight"].sum())
    assert g["n_entities"] == index.n_entities
    # Index methods delegate.
    assert index.to_igraph().ecount() == g.ecount()
    assert index.to_networkx().number_of_nodes() == g.vcount()


def test_node_frame_matches_views(index: Index) -> None:
    nf = node_frame(index)
    view = index.sql("SELECT node, kind, name, ref FROM nodes ORDER BY node")
    assert nf.select("node", "kind", "name", "ref").equals(
        view.with_columns(pl.col("node").cast(nf["node"].dtype))
    )


def test_cli_export(index: Index, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "g.graphml"
    assert cli_main(["export", str(index.path), "--format", "graphml", "--out", str(out)]) == 0
    assert nx.read_graphml(out, node_type=int).number_of_nodes() == index.graph.n_nodes
    pq = tmp_path / "tables"
    assert cli_main(["export", str(index.path), "-f", "parquet", "-o", str(pq)]) == 0
    assert sorted(p.stem for p in pq.glob("*.parquet")) == sorted(TABLES)
    assert "6 tables exported" in capsys.readouterr().out
    # Wrong targets and missing indexes: one clear message, exit 2.
    assert cli_main(["export", str(index.path), "-o", str(tmp_path)]) == 2
    assert cli_main(["export", str(tmp_path / "nope"), "-f", "parquet", "-o", str(pq)]) == 2
    err = capsys.readouterr().err
    assert "is a directory" in err and "how to fix" in err


def test_html_views_escape_everything(index: Index) -> None:
    card = index._repr_html_()
    assert card == index_html(index)
    assert f">{index.n_passages}<" in card and "Size on disk" in card
    evil = "<script>alert(1)</script>"
    seed = Seed(evil, "entity", 1.0, evil)
    expl = Explanation(0.5, 0.01, [seed], [evil], [evil, "x"], [evil])
    result = RetrievalResult(evil, [Hit("p_1", evil, evil * 50, 0.9, 1, expl)], "graph", [evil])
    for html in (
        result._repr_html_(),
        result_html(result),
        trace_html({"question": evil, "steps": [{"query": evil, "note": evil}], evil: evil}),
    ):
        assert "<script>" not in html and "&lt;script&gt;" in html
