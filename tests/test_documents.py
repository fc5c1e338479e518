"""Documents end to end (real spaCy, real MiniLM, real DuckDB): a long document chunked,
found by a question about its end; metadata on hits, in SQL, exports, HTML and adapters;
filters and grouping through the facade.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import networkx as nx
import polars as pl
import pytest

pytestmark = pytest.mark.slow

PLACES = ["the harbour", "the old mill", "the market square", "the chapel", "the north road"]
TRADES = ["coopers", "net makers", "bakers", "carters", "rope walkers", "glaziers"]
EVENTS = ["a fire", "a flood", "a dispute over tolls", "a long drought", "a wedding feast"]
ANSWER = "Miriam Okonkwo-Vale"
QUESTION = "Who kept the lighthouse at Port Aldane in 1893?"


def long_history() -> str:
    """About 45,000 characters of town chronicle; the lighthouse keeper is named at the end."""
    parts = []
    for year in range(1500, 1890):
        i = year - 1500
        parts.append(
            f"In {year} the {TRADES[i % 6]} of Veltmark met near {PLACES[i % 5]} after "
            f"{EVENTS[i % 5]}, and the council recorded {i * 7 % 23 + 2} new members. "
        )
        if i % 4 == 0:
            parts.append(f"Chapter {i // 4 + 1} of the ledger closes here.\n")
    parts.append(
        "\nThe last pages of the chronicle turn to the coast. In 1893 the lighthouse at Port "
        f"Aldane was kept by {ANSWER}, who logged forty-one storms that winter and rescued "
        "the crew of the schooner Halcyon. The lamp burned whale oil until 1901."
    )
    return "".join(parts)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    docs = [
        {
            "id": "chronicle",
            "title": "Chronicle of Veltmark",
            "text": long_history(),
            "metadata": {"source": "archive", "year": 1901, "tenant": "a", "lang": "en"},
        },
        {"id": "port", "title": "Veltmark", "text": "Veltmark is a small town on a river."},
        {
            "id": "faq-1",
            "title": "Lighthouse visits",
            "text": "Visitors may climb the lighthouse on Sundays between ten and four.",
            "metadata": {"source": "faq", "year": 2021, "tenant": "b", "lang": "en"},
        },
        {
            "id": "faq-2",
            "title": "Leuchtturm",
            "text": "Der Leuchtturm ist im Winter geschlossen.",
            "metadata": {"source": "faq", "year": 2022, "tenant": "b", "lang": "de"},
        },
        {
            "id": "faq-3",
            "title": "Keepers",
            "text": "The museum lists the keepers of every lighthouse on the coast.",
            "metadata": {"source": "faq", "year": 2019, "tenant": "b", "lang": "en"},
        },
        {
            "id": "news-1",
            "title": "Storm season",
            "text": "The storm season on the coast runs from October to March.",
            "metadata": {"source": "news", "year": 2024, "tenant": "c", "lang": "en"},
        },
    ]
    path = tmp_path_factory.mktemp("docs") / "docs.jsonl"
    path.write_text("\n".join(json.dumps(d) for d in docs), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def index_path(corpus: Path, tmp_path_factory) -> Path:
    from hipporag.config import IndexConfig
    from indexers.builder import IndexBuilder
    from indexers.readers import read_corpus

    passages, stats = read_corpus(corpus)
    out = tmp_path_factory.mktemp("idx") / "index"
    IndexBuilder(IndexConfig()).build(passages, out, read_stats=stats.to_dict())
    return out


@pytest.fixture(scope="module")
def rag(index_path: Path):
    from pipelines.facade import HippoRAG

    return HippoRAG.open(index_path)


def _supports_allow(rag) -> bool:
    return "allow" in inspect.signature(rag.retriever.retrieve).parameters


@pytest.mark.parametrize("mode", ["hybrid", "dense", "hipporag2", "hipporag1"])
def test_question_about_the_end_of_a_long_document(rag, mode) -> None:
    text = long_history()
    assert 30_000 <= len(text) <= 60_000
    res = rag.retrieve(QUESTION, k=3, mode=mode)
    found = [h for h in res.hits[:2] if h.document == "chronicle"]
    assert found, f"the chronicle's end is not in the top 2: {res.passage_ids}"
    top = found[0]
    assert ANSWER in top.text
    assert top.span is not None and top.span[0] > 0.8 * len(text)
    assert text[top.span[0] : top.span[1]] == top.text
    assert len(top.text) < 3000  # a chunk, not the whole document
    assert top.metadata == {"source": "archive", "year": 1901, "tenant": "a", "lang": "en"}
    assert top.passage_id.startswith("chronicle#")


def test_the_whole_document_would_not_have_been_found(rag) -> None:
    """Without chunking the embedder sees only the first 256 tokens of the chronicle."""
    import numpy as np

    from pipelines.facade import shared_embedder

    emb = shared_embedder(rag.index.config.embedding)
    q = emb.encode([QUESTION], is_query=True)[0]
    whole = emb.encode(["Chronicle of Veltmark\n" + long_history()])[0]
    chunk = rag.retrieve(QUESTION, k=10, mode="dense")
    best = max(h.explanation.dense_score for h in chunk if h.document == "chronicle")
    faq = max(h.explanation.dense_score for h in chunk if h.document == "faq-1")
    assert float(np.dot(q, whole)) < faq < best


def test_chunks_and_metadata_are_in_sql(rag) -> None:
    idx = rag.index
    text = long_history()
    rows = idx.sql(
        "SELECT passage_id, doc_id, chunk, span_start, span_end, text FROM passages "
        "WHERE doc_id = 'chronicle' ORDER BY chunk"
    )
    assert rows.height > 20 and rows["chunk"].to_list() == list(range(rows.height))
    for r in rows.iter_rows(named=True):
        assert text[r["span_start"] : r["span_end"]] == r["text"]
    en = idx.sql(
        "SELECT DISTINCT doc_id FROM passages WHERE metadata->>'lang' = 'en' "
        "AND CAST(metadata->>'year' AS INTEGER) >= 2020 ORDER BY doc_id"
    )
    assert en["doc_id"].to_list() == ["faq-1", "news-1"]
    docs = idx.sql("SELECT doc_id, n_chunks FROM documents ORDER BY doc_id")
    assert dict(docs.iter_rows()) == {
        "chronicle": rows.height,
        "faq-1": 1,
        "faq-2": 1,
        "faq-3": 1,
        "news-1": 1,
        "port": 1,
    }


def test_group_by_document(rag) -> None:
    from hipporag.grouping import DocumentResult

    res = rag.retrieve("lighthouse keeper storms", k=3, group_by="document", mode="dense")
    assert isinstance(res, DocumentResult) and len(res) == 3
    ids = res.doc_ids
    assert len(set(ids)) == 3
    for d in res:
        assert all(c.document == d.doc_id for c in d.chunks)
        assert d.score == max(c.score for c in d.chunks)
    assert [d.rank for d in res] == [1, 2, 3]
    assert res.to_polars()["doc_id"].to_list() == ids
    html = res._repr_html_()
    assert "chronicle" in html or "faq-1" in html
    with pytest.raises(Exception, match="group_by"):
        rag.retrieve("x", group_by="chapter")


def test_filters_through_the_facade(rag) -> None:
    assert _supports_allow(rag)
    for mode in ("hybrid", "dense", "hipporag2", "hipporag1"):
        res = rag.retrieve(QUESTION, k=3, mode=mode, filters={"tenant": "b"})
        assert [h.metadata["tenant"] for h in res] == ["b", "b", "b"]
        res = rag.retrieve(
            QUESTION, k=2, mode=mode, filters={"lang": {"not": "de"}, "year": {"gte": 2020}}
        )
        assert sorted(h.document for h in res) == ["faq-1", "news-1"]
        assert len(rag.retrieve(QUESTION, k=5, mode=mode, filters={"source": "none"})) == 0


def test_metadata_on_hits_exports_and_html(rag, tmp_path: Path) -> None:
    from hipporag.index.analysis import export_graphml, export_parquet

    res = rag.retrieve(QUESTION, k=6, mode="dense")
    by_doc = {h.document: h for h in res}
    assert by_doc["chronicle"].metadata["source"] == "archive"
    d = res.to_dict()["hits"][0]
    assert {"doc_id", "metadata", "span"} <= set(d)
    frame = res.to_polars()
    assert frame["doc_id"].to_list() == [h.document for h in res]
    assert json.loads(frame["metadata"][0]) == res[0].metadata
    assert "tenant: a" in res._repr_html_()
    files = export_parquet(rag.index, tmp_path / "pq")
    pq = pl.read_parquet(files["passages"])
    assert {"doc_id", "metadata", "chunk", "span_start", "span_end"} <= set(pq.columns)
    meta = {r["doc_id"]: json.loads(r["metadata"]) for r in pq.iter_rows(named=True)}
    assert meta["faq-2"] == {"source": "faq", "year": 2022, "tenant": "b", "lang": "de"}
    assert meta["port"] == {}
    g = nx.read_graphml(export_graphml(rag.index, tmp_path / "kg.graphml"), node_type=int)
    nodes = [a for _, a in g.nodes(data=True) if a.get("kind") == "passage"]
    faq2 = next(a for a in nodes if a["doc_id"] == "faq-2")
    assert json.loads(faq2["metadata"])["lang"] == "de"


def test_adapters_carry_metadata_and_filters(rag) -> None:
    pytest.importorskip("langchain_core")
    pytest.importorskip("llama_index.core")
    from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters

    from pipelines.adapters.langchain import HippoRAGRetriever as LC
    from pipelines.adapters.llamaindex import HippoRAGRetriever as LI
    from pipelines.adapters.llamaindex import to_filter_spec

    docs = LC(rag=rag, k=3, mode="dense").invoke(QUESTION)
    doc = next(d for d in docs if d.metadata["doc_id"] == "chronicle")
    assert doc.metadata["tenant"] == "a" and doc.metadata["span"][0] > 0
    assert doc.id == doc.metadata["passage_id"] and doc.id.startswith("chronicle#")
    nodes = LI(rag, k=3, mode="dense").retrieve(QUESTION)
    node = next(n.node for n in nodes if n.node.metadata["doc_id"] == "chronicle")
    assert node.metadata["source"] == "archive" and node.ref_doc_id == "chronicle"
    assert "source: archive" in node.get_content(metadata_mode="llm")
    assert "passage_id" not in node.get_content(metadata_mode="llm")
    spec = to_filter_spec(
        MetadataFilters(
            filters=[
                MetadataFilter(key="tenant", value="b"),
                MetadataFilter(key="year", value=2020, operator=">="),
            ]
        )
    )
    assert spec == {"tenant": {"eq": "b"}, "year": {"gte": 2020}}
    assert _supports_allow(rag)
    docs = LC(rag=rag, k=3, search_kwargs={"filters": {"tenant": "b"}}).invoke(QUESTION)
    assert [d.metadata["tenant"] for d in docs] == ["b", "b", "b"]
    docs = LC(rag=rag, k=3).invoke(QUESTION, filters={"lang": "de"})
    assert [d.metadata["doc_id"] for d in docs] == ["faq-2"]
    nodes = LI(rag, k=3, filters=MetadataFilters(filters=[MetadataFilter(key="tenant", value="b")]))
    assert {n.node.metadata["tenant"] for n in nodes.retrieve(QUESTION)} == {"b"}


def test_filters_through_the_note_loop_and_answer_command(rag, index_path, capsys) -> None:
    from pipelines.cli import main
    from pipelines.qa import NoteQA

    out = NoteQA(rag).ask(QUESTION, filters={"tenant": "b"})
    seen = out.result.seen_ids
    assert seen and all(pid.startswith("faq-") for pid in seen), seen
    assert all(h.metadata["tenant"] == "b" for h in out.result.hits)
    args = ["answer", str(index_path), QUESTION, "--no-llm", "--json", "--filter", "tenant=c"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    docs = {h["doc_id"] for h in data["result"]["hits"]}
    assert docs == {"news-1"}, docs
