"""The lexical (BM25) part of a living index, the ``lexical`` mode and BM25 evidence in ``hybrid``.

Fast tests use the fakes builder of ``test_living`` (real pipeline, DuckDB and
files; fake OpenIE and embedder); the reference scores come from the ``bm25s``
library; the user-facing tests run the CLI and the facade over the real demo
index (spaCy, MiniLM).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hipporag.index import Index
from hipporag.index.lexical import build_segment, load_lexical, tokenize
from hipporag.index.verify import verify
from hipporag.types import Passage
from indexers.upgrade import drop_part
from tests.living_helpers import apply_history
from tests.test_living import builder, corpus

ROOT = Path(__file__).resolve().parents[1]
VOCAB = [f"w{i}" for i in range(40)] + ["pump", "valve", "the", "of", "Zürich", "XK-4471"]


def scores_by_id(path: Path, queries: list[list[str]]) -> list[dict[str, float]]:
    """BM25 scores of each query, keyed by passage id (row numbers differ between histories)."""
    idx = Index.open(path)
    try:
        lex = load_lexical(idx)
        assert lex is not None
        pids = idx.passage_ids
        out = []
        for q in queries:
            rows, scores = lex.search(q)
            out.append({pids[r]: s for r, s in zip(rows.tolist(), scores.tolist(), strict=True)})
        return out
    finally:
        idx.close()


def assert_same_scores(a: Path, b: Path) -> None:
    words = [t for p in corpus(16) for t in tokenize(p.title + " " + p.text)]
    queries = [[w] for w in sorted(set(words))] + [["alice", "berlin", "t3"], ["zed", "saw"]]
    for got, want in zip(scores_by_id(a, queries), scores_by_id(b, queries), strict=True):
        assert got.keys() == want.keys()
        for pid, s in want.items():
            assert got[pid] == pytest.approx(s, rel=1e-12), pid


OPS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "update", "compact"]),
        st.lists(st.integers(0, 15), min_size=1, max_size=6),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_lexical_part_equals_a_fresh_build_after_any_history(tmp_path_factory, ops):
    pool = corpus(16)
    d = tmp_path_factory.mktemp("lex")
    current = apply_history(builder, d / "a", pool, ops)
    assert verify(d / "a")["ok"], verify(d / "a")["problems"]
    if not current:
        return
    builder().build(list(current.values()), d / "b")
    assert_same_scores(d / "a", d / "b")


def test_scores_equal_the_reference_library():
    bm25s = pytest.importorskip("bm25s")
    rng = random.Random(7)
    docs = [[rng.choice(VOCAB) for _ in range(rng.randint(1, 30))] for _ in range(60)]
    toks = [tokenize(" ".join(d)) for d in docs]
    ref = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    ref.index(toks, show_progress=False)
    # two segments, one row deleted: the reference indexes the live rows only
    live = np.ones(len(toks), bool)
    live[5] = False
    segs = [
        build_segment(range(30), toks[:30], start=0, stop=30),
        build_segment(range(30, 60), toks[30:], start=30, stop=60),
    ]
    from hipporag.index.lexical import LexicalIndex

    ours = LexicalIndex(segs, live)
    ref_live = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
    kept = [t for i, t in enumerate(toks) if live[i]]
    ref_live.index(kept, show_progress=False)
    rows_live = np.flatnonzero(live)
    for q in (["pump"], ["w1", "w2", "valve"], ["zürich", "xk", "4471"], ["w39", "w0"]):
        want = np.asarray(ref_live.get_scores(q), np.float64)
        got = np.zeros(len(toks))
        r, s = ours.search(q)
        got[r] = s
        np.testing.assert_allclose(got[rows_live], want, rtol=1e-5, atol=1e-6)
        assert got[5] == 0.0
    full = LexicalIndex(segs, np.ones(len(toks), bool))
    r, s = full.search(["w3", "pump"])
    got = np.zeros(len(toks))
    got[r] = s
    np.testing.assert_allclose(got, ref.get_scores(["w3", "pump"]), rtol=1e-5, atol=1e-6)


def test_a_change_writes_only_its_segment(tmp_path):
    builder().build(corpus(12), tmp_path / "a")
    first = json.loads((tmp_path / "a" / "meta.json").read_text())
    builder().insert([Passage("new", "N", "Alice met a pump.")], tmp_path / "a")
    builder().delete(["p3"], tmp_path / "a")
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    segs = meta["lexical"]["segments"]
    assert [s["stop"] for s in segs] == [12, 13]  # the old segment kept, one new row
    for key in ("terms", "postings", "doclen"):
        old = segs[0][key]
        assert meta["files"][old] == first["files"][old]  # shared, not rewritten
    new = meta["files"][segs[1]["postings"]]["size"]
    assert new < first["files"][segs[0]["postings"]]["size"]
    idx = Index.open(tmp_path / "a")
    lex = load_lexical(idx)
    assert lex is not None and lex.n_docs == 12
    rows, _ = lex.search(["pump"])
    assert [idx.passage_ids[r] for r in rows] == ["new"]
    idx.close()


def test_upgrade_adds_the_lexical_part_and_hybrid_works_without_it(tmp_path, caplog, capsys):
    from indexers.upgrade import upgrade
    from retrievers.hybrid import HybridParams, HybridRetriever
    from retrievers.lexical import LexicalRetriever
    from tests.fakes import HashEmbedder

    builder().build(corpus(10), tmp_path / "a")
    drop_part(tmp_path / "a", "lexical")
    idx = Index.open(tmp_path / "a")
    assert "lexical" not in idx.meta and verify(tmp_path / "a")["ok"]
    from hipporag.errors import RetrievalError

    with pytest.raises(RetrievalError, match="no lexical part") as err:
        LexicalRetriever(idx).retrieve("Alice", k=2)
    assert "hipporag upgrade" in err.value.hint
    hybrid = HybridRetriever(idx, HybridParams(lexical_mass=0.5), embedder=HashEmbedder())
    with caplog.at_level("WARNING"):
        assert hybrid.retrieve("Alice met Bob", k=3).hits
    assert "no lexical part" in caplog.text
    idx.close()
    from pipelines.cli import main

    assert main(["upgrade", str(tmp_path / "a")]) == 0  # as a user runs it
    assert "added lexical" in capsys.readouterr().out and verify(tmp_path / "a")["ok"]
    builder().build(corpus(10), tmp_path / "b")
    assert_same_scores(tmp_path / "a", tmp_path / "b")
    assert "added" not in upgrade(tmp_path / "a")  # nothing more to do


@pytest.mark.slow
def test_lexical_mode_and_exact_codes_through_cli_and_facade(tmp_path):
    """A product code only an exact string match finds: lexical finds it, and hybrid with it."""
    from hipporag import HippoRAG

    docs = [
        {"title": f"Pump model {i}", "text": f"The pump model {c} moves water for farms."}
        for i, c in enumerate(["AB-1022", "QT-7781", "XK-4471", "LM-3390", "ZR-5512"])
    ] + [{"title": "Rivers", "text": "Rivers carry water from hills to the sea."}]
    corpus_path = tmp_path / "c.json"
    corpus_path.write_text(json.dumps(docs))
    env = {**os.environ, "HIPPORAG_PROGRESS": "0", "PYTHONPATH": str(ROOT)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pipelines.cli", *args],
            cwd=ROOT,
            capture_output=True,
            env=env,
            text=True,
            timeout=600,
        )

    out = cli("index", str(corpus_path), "--out", str(tmp_path / "i"))
    assert out.returncode == 0, out.stderr[-2000:]
    got = cli(
        "retrieve", str(tmp_path / "i"), "pump XK-4471", "--mode", "lexical", "-k", "1", "--json"
    )
    assert got.returncode == 0, got.stderr[-2000:]
    assert json.loads(got.stdout)["hits"][0]["title"] == "Pump model 2"
    assert cli("verify", str(tmp_path / "i")).returncode == 0
    rag = HippoRAG.open(tmp_path / "i")
    mixed = rag.retrieve("Which pump is XK-4471?", k=1, mode="hybrid")
    lexical = rag.retrieve("Which pump is XK-4471?", k=1, mode="lexical")
    assert lexical.hits[0].title == "Pump model 2" and mixed.hits[0].title == "Pump model 2"
    allowed = rag.retrieve("XK-4471", k=3, mode="lexical", allow=[0, 1])
    assert all(h.title != "Pump model 2" for h in allowed.hits)


def test_bridges_add_entities_reached_through_query_like_facts(tmp_path):
    """Entity -> fact -> entity activation: a two-hop chain adds the bridge and its far end."""
    from retrievers.bridges import FactBridges
    from retrievers.hybrid import HybridParams, HybridRetriever
    from tests.fakes import HashEmbedder

    ps = [
        Passage("a", "A", "Alice near Bobby."),
        Passage("b", "B", "Bobby near Carol."),
        Passage("c", "C", "Dora near Evans."),
    ]
    builder().build(ps, tmp_path / "i")
    idx = Index.open(tmp_path / "i")
    names = {n: i for i, n in enumerate(idx.entity_names)}
    table = FactBridges.of_index(idx)
    q = HashEmbedder().encode(["(alice, near, bobby) (bobby, near, carol)"], is_query=True)[0]
    found = table.activate({names["alice"]: 1.0}, q, hops=2, threshold=-1.0, width=5)
    assert names["bobby"] in found and names["carol"] in found
    assert names["dora"] not in found and names["evans"] not in found
    assert found[names["carol"]] <= found[names["bobby"]] <= 1.0
    assert table.activate({names["alice"]: 1.0}, q, hops=2, threshold=1.01, width=5) == {}
    p = HybridParams(bridge_hops=2, bridge_threshold=-1.0, top_facts=1)
    r = HybridRetriever(idx, p, embedder=HashEmbedder())
    res = r.retrieve("(alice, near, bobby) (bobby, near, carol)", k=3)
    seeds = {s.node for h in res.hits for s in h.explanation.seeds if s.kind == "entity"}
    off = HybridRetriever(idx, HybridParams(top_facts=1), embedder=HashEmbedder())
    hits_off = off.retrieve("(alice, near, bobby) (bobby, near, carol)", k=3).hits
    seeds_off = {s.node for h in hits_off for s in h.explanation.seeds if s.kind == "entity"}
    assert seeds_off < seeds == {"alice", "bobby", "carol"}  # the bridge seeds join the linked
    why = [s.source for h in res.hits for s in h.explanation.seeds if s.kind == "passage"]
    assert any("bm25=" in w for w in why)  # the lexical share is named in the explanation
    idx.close()


def test_verify_reports_a_lexical_part_that_does_not_cover_the_passages(tmp_path):
    builder().build(corpus(6), tmp_path / "a")
    assert verify(tmp_path / "a")["ok"]
    meta_path = tmp_path / "a" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["lexical"]["segments"][0]["stop"] = 5
    meta_path.write_text(json.dumps(meta))
    out = verify(tmp_path / "a")
    assert not out["ok"] and any("lexical" in p for p in out["problems"]), out


def test_a_change_to_an_index_without_the_part_adds_it(tmp_path):
    builder().build(corpus(10), tmp_path / "a")
    drop_part(tmp_path / "a", "lexical")
    builder().insert(corpus(12)[10:], tmp_path / "a")
    assert "lexical" in json.loads((tmp_path / "a" / "meta.json").read_text())
    assert verify(tmp_path / "a")["ok"]
    builder().build(corpus(12), tmp_path / "b")
    assert_same_scores(tmp_path / "a", tmp_path / "b")
