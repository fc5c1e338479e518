"""Rankings do not depend on history: any add/delete/update sequence ranks exactly like a
fresh build of the resulting corpus (in another order), in every mode (the note loop
over hybrid too), filtered or not.

Fast fakes (hashing embedder, capitalised-words extractor) for the property test; one real
spaCy/MiniLM case with accent variants of one name.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from hipporag.index import Index
from hipporag.types import Passage
from retrievers.config import RetrievalConfig
from retrievers.graph import GraphRetriever
from tests.fakes import HashEmbedder
from tests.living_helpers import apply_history
from tests.test_living import OPS, WORDS, builder, corpus

MODES = ("dense", "hipporag1", "hipporag2", "hybrid")
QUERIES = [f"Who met {a} and {b}?" for a, b in zip(WORDS, WORDS[3:], strict=False)][:6]


def rankings(path, allow_even: bool = False) -> dict:
    index = Index.open(path)
    configs = {"": RetrievalConfig(), "rrf": RetrievalConfig(fusion="rrf")}
    allow = None
    if allow_even:
        ids = index.passage_ids
        live = index.live("passages")
        allow = np.array(
            [i for i, pid in enumerate(ids) if live[i] and int(pid[1:]) % 2 == 0], dtype=np.int64
        )
    out = {}
    for name, config in configs.items():
        graph = GraphRetriever(index, config, embedder=HashEmbedder())
        for mode in MODES if not name else ("hybrid",):
            for q in QUERIES:
                res = graph.retrieve(q, k=4, mode=mode, allow=allow)
                out[(name, mode, q)] = (
                    res.passage_ids,
                    [round(h.score, 9) for h in res.hits],
                    [s.node for s in (res.hits[0].explanation.seeds if res.hits else [])],
                    [
                        (h.explanation.connecting_entities, h.explanation.path)
                        for h in res.hits
                        if h.explanation is not None
                    ],
                )
    from retrievers.note.retriever import NoteRetriever

    note = NoteRetriever(graph.retriever("hybrid"), index)
    for q in QUERIES:
        res = note.run(q, k=4, allow=allow)
        out[("note", "note", q)] = (res.passage_ids, res.seen_ids)
    index.close()
    return out


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_any_history_ranks_like_a_fresh_build(tmp_path_factory, ops) -> None:
    pool = corpus(16)
    d = tmp_path_factory.mktemp("hist")
    current = apply_history(builder, d / "a", pool, ops)
    if not current:
        return
    fresh = sorted(current.values(), key=lambda p: p.id, reverse=True)  # another row order
    builder().build(fresh, d / "b")
    for allow_even in (False, True):
        assert rankings(d / "a", allow_even) == rankings(d / "b", allow_even)


@pytest.mark.slow
def test_accent_variants_rank_alike_after_add_and_delete(tmp_path) -> None:
    """Real models: ``imre valko`` / ``imre valkó`` (one MiniLM vector) in any history."""
    from hipporag.config import IndexConfig
    from indexers.builder import IndexBuilder
    from pipelines.facade import HippoRAG

    base = [
        Passage("a", "Salt Harbour", "Salt Harbour is a 1986 film directed by Imre Valko."),
        Passage("b", "Imre Valkó", "Imre Valkó was a director born in Dunaret."),
        Passage("c", "Dunaret", "Dunaret is a market town on the Silvane River."),
    ]
    extra = Passage("x", "Imre Valko", "Imre Valko moved to the capital at nineteen.")
    # history: the accented name first gets the lower row number; a fresh build sorts names
    IndexBuilder(IndexConfig()).build(base[1:], tmp_path / "a")
    IndexBuilder(IndexConfig()).insert([base[0], extra], tmp_path / "a")
    IndexBuilder(IndexConfig()).delete(["x"], tmp_path / "a")
    IndexBuilder(IndexConfig()).insert([extra], tmp_path / "a")
    IndexBuilder(IndexConfig()).build([*base, extra], tmp_path / "b")
    a, b = HippoRAG.open(tmp_path / "a"), HippoRAG.open(tmp_path / "b")
    for mode in MODES:
        for q in ("Who is Imre Valko?", "Where was Imre Valkó born?", "Who directed Salt Harbour?"):
            ra, rb = a.retrieve(q, k=4, mode=mode), b.retrieve(q, k=4, mode=mode)
            assert ra.passage_ids == rb.passage_ids, (mode, q)
            assert [h.score for h in ra.hits] == pytest.approx([h.score for h in rb.hits], rel=1e-5)
            assert [s.node for s in ra.hits[0].explanation.seeds] == [
                s.node for s in rb.hits[0].explanation.seeds
            ]
