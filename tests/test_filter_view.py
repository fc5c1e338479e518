"""A filter is a view: a filtered query on the whole index equals the query on an index
built from only the matching documents, in every mode, through the facade.

The demo corpus is split into two tenants; three indexes are built with the real
spaCy and MiniLM models (all, tenant a only, tenant b only).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.demo_index import DEMO_CORPUS, DEMO_QUESTIONS

MODES = ["dense", "hipporag1", "hipporag2", "hybrid"]
TENANTS = ["acme", "globex"]


def _docs() -> list[dict]:
    docs = json.loads(DEMO_CORPUS.read_text(encoding="utf-8"))
    out = []
    for i, d in enumerate(docs):
        meta = {"tenant": TENANTS[i % 2], "year": 2000 + i}
        out.append({"id": f"doc{i:02d}", "title": d["title"], "text": d["text"], "metadata": meta})
    return out


def _build(docs: list[dict], where: Path) -> Path:
    from hipporag.config import IndexConfig
    from indexers.builder import IndexBuilder
    from indexers.readers import read_corpus

    where.mkdir(parents=True)
    src = where / "docs.json"
    src.write_text(json.dumps(docs), encoding="utf-8")
    passages, stats = read_corpus(src)
    out = where / "index"
    IndexBuilder(IndexConfig()).build(passages, out, read_stats=stats.to_dict())
    return out


@pytest.fixture(scope="module")
def indexes(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tenants")
    docs = _docs()
    out = {"all": _build(docs, root / "all")}
    for t in TENANTS:
        out[t] = _build([d for d in docs if d["metadata"]["tenant"] == t], root / t)
    return out


def _questions() -> list[str]:
    return [q["question"] for q in json.loads(DEMO_QUESTIONS.read_text(encoding="utf-8"))][:6]


def _entities(hit) -> list[str]:
    ex = hit.explanation
    if ex is None:
        return []
    return [s.node for s in ex.seeds] + list(ex.connecting_entities) + list(ex.path)


@pytest.mark.parametrize("mode", MODES)
def test_filtered_query_equals_tenant_only_index(indexes, mode) -> None:
    from pipelines.facade import HippoRAG

    full = HippoRAG.open(indexes["all"])
    for tenant in TENANTS:
        alone = HippoRAG.open(indexes[tenant])
        for q in _questions():
            got = full.retrieve(q, k=5, mode=mode, filters={"tenant": tenant})
            want = alone.retrieve(q, k=5, mode=mode)
            assert got.passage_ids == want.passage_ids, (tenant, q)
            assert [h.score for h in got.hits] == pytest.approx(
                [h.score for h in want.hits], rel=1e-5, abs=1e-9
            )
            assert got.flags == want.flags
            for a, b in zip(got.hits, want.hits, strict=True):
                assert _entities(a) == _entities(b), (tenant, q, a.title)
                assert a.metadata["tenant"] == tenant


def test_explanations_never_show_another_tenants_entities(indexes) -> None:
    from hipporag.index import Index
    from pipelines.facade import HippoRAG

    own = set(Index.open(indexes["acme"]).entity_names)
    full = HippoRAG.open(indexes["all"])
    for q in _questions():
        for mode in ("hipporag1", "hipporag2", "hybrid"):
            for hit in full.retrieve(q, k=5, mode=mode, filters={"tenant": "acme"}).hits:
                assert set(_entities(hit)) - {n for n in _entities(hit) if n.startswith("[")} <= own


def test_note_loop_in_the_view_equals_the_tenant_only_index(indexes) -> None:
    from pipelines.facade import HippoRAG
    from pipelines.qa import make_note_loop

    full = HippoRAG.open(indexes["all"])
    allow = full.allowed({"tenant": "globex"})
    loop_full = make_note_loop(full)
    loop_alone = make_note_loop(HippoRAG.open(indexes["globex"]))
    for q in _questions():
        got = loop_full.run(q, k=4, allow=allow)
        want = loop_alone.run(q, k=4)
        assert got.passage_ids == want.passage_ids, q
        assert got.seen_ids == want.seen_ids, q
        assert {h.metadata["tenant"] for h in got.hits} <= {"globex"}
