"""A living index with fast fakes: changes equal a fresh build of the resulting corpus."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hipporag.config import IndexConfig
from hipporag.errors import IndexFormatError
from hipporag.index import Index
from hipporag.types import Passage
from indexers.builder import IndexBuilder
from tests.fakes import CapitalizedWordsExtractor, HashEmbedder
from tests.living_helpers import apply_history, assert_equivalent, brute_force_synonymy, snapshot

WORDS = [
    "Alice",
    "Bob",
    "Acme",
    "Berlin",
    "Munich",
    "Zed",
    "Carol",
    "Dora",
    "Evans",
    "Fjord",
    "Alicia",
    "Acme1",
    "Acme2",
    "Bobby",
]
CONFIG = IndexConfig.from_dict({"graph": {"synonymy_threshold": 0.3, "synonymy_k": 3}})


def builder() -> IndexBuilder:
    return IndexBuilder(CONFIG, extractor=CapitalizedWordsExtractor(), embedder=HashEmbedder())


def corpus(n: int, seed: int = 0) -> list[Passage]:
    out = []
    for i in range(n):
        ws = [WORDS[(i * 7 + j * 3 + seed) % len(WORDS)] for j in range(3 + i % 3)]
        out.append(
            Passage(
                f"p{i}",
                f"T{i}",
                " met ".join(ws) + ".",
                doc_id=f"d{i // 2}",
                metadata={"n": i},
                chunk=i % 2,
                span=(0, 5) if i % 3 else None,
            )
        )
    return out


def test_insert_equals_fresh_build(tmp_path):
    ps = corpus(12)
    builder().build(ps[:7], tmp_path / "a")
    r = builder().insert(ps[5:], tmp_path / "a")
    assert r.input["already_indexed"] == 2 and r.added["passages"] == 5 and r.generation == 2
    assert r.counts["texts_embedded"] < len(ps[7:]) * 6  # existing entities were not re-embedded
    builder().build(ps, tmp_path / "b")
    assert_equivalent(tmp_path / "a", tmp_path / "b")
    assert {
        tuple(sorted(e[1])) for e in snapshot(tmp_path / "b")["edges"] if e[0] == "synonymy"
    } == {tuple(sorted("E:" + n for n in p)) for p in brute_force_synonymy(tmp_path / "b")}


def test_delete_equals_build_without(tmp_path):
    ps = corpus(12)
    builder().build(ps, tmp_path / "a")
    r = builder().delete(["d1", "p9", "nope"], tmp_path / "a")  # a document id, a passage id
    assert r.removed["passages"] == 3 and r.input["unknown_ids"] == ["nope"]
    keep = [p for p in ps if p.doc_id != "d1" and p.id != "p9"]
    builder().build(keep, tmp_path / "b")
    assert_equivalent(tmp_path / "a", tmp_path / "b")
    idx = Index.open(tmp_path / "a")
    assert idx.live("passages").sum() == 9 and idx.n_passages == 12  # tombstones
    labels, _ = idx.hnsw("passages").knn_query(idx.passage_embeddings[:1] + 1e-3, k=50)
    assert set(labels[0].tolist()) <= set(idx.live("passages").nonzero()[0].tolist())
    dead = np.flatnonzero(~idx.live("passages"))  # vectors stay in shared files until compacted
    got, _ = idx.knn("passages", np.asarray(idx.passage_embeddings[int(dead[0])]), 12)
    assert got.size == 9 and not set(got.tolist()) & set(dead.tolist())


def test_update_equals_delete_plus_insert(tmp_path):
    ps = corpus(10)
    builder().build(ps, tmp_path / "a")
    edited = [
        Passage("p2", "T2", "Zed met Dora.", doc_id="d1"),
        Passage("p3", "T3", ps[3].text, doc_id="d1", metadata={"n": 3}, chunk=1, span=ps[3].span),
    ]
    new = Passage("p99", "T99", "Fjord met Carol.", doc_id="d99")
    r = builder().update([*edited, ps[0], ps[1], new], tmp_path / "a")
    assert (
        r.input["replaced"] == 1 and r.input["unchanged"] == 1 and r.input["unknown_ids"] == ["d99"]
    )
    final = [p for p in ps if p.doc_id != "d1"] + edited + [new]
    builder().build(final, tmp_path / "b")
    assert_equivalent(tmp_path / "a", tmp_path / "b")
    gen = Index.open(tmp_path / "a").generation
    again = builder().update(final, tmp_path / "a")
    assert not again.committed and again.generation == gen  # unchanged: no new generation


def test_bad_input(tmp_path):
    ps = corpus(4)
    builder().build(ps, tmp_path / "a")
    gen = Index.open(tmp_path / "a").generation
    r = builder().insert([ps[0], ps[0]], tmp_path / "a")
    assert not r.committed and r.input["duplicates"] == 1 and r.input["already_indexed"] == 1
    assert not builder().insert([], tmp_path / "a").committed
    r = builder().delete(["unknown"], tmp_path / "a")
    assert not r.committed and r.input["unknown_ids"] == ["unknown"]
    assert Index.open(tmp_path / "a").generation == gen
    dup = Passage("px", "X", "Zed met Carol.")
    r = builder().insert([dup, dup], tmp_path / "a")
    assert r.added["passages"] == 1 and r.input["duplicates"] == 1
    with pytest.raises(IndexFormatError, match="no index at"):
        builder().delete(["p0"], tmp_path / "missing")
    assert not (tmp_path / "missing").exists()


def test_second_writer_is_refused_and_stale_lock_taken_over(tmp_path):
    from tests.faults.test_write_lock import _holder

    ps = corpus(4)
    builder().build(ps, tmp_path / "a")
    holder = _holder(tmp_path / "a")  # a live process holding the lock
    try:
        with pytest.raises(IndexFormatError, match=f"process {holder.pid}"):
            builder().insert(corpus(6)[4:], tmp_path / "a")
    finally:
        holder.kill()
        holder.wait()
    r = builder().insert(corpus(6)[4:], tmp_path / "a")  # the holder is dead: taken over
    assert r.committed and not (tmp_path / "a" / "write.lock").exists()


def test_readers_are_pinned_and_refresh(tmp_path):
    ps = corpus(8)
    builder().build(ps[:4], tmp_path / "a")
    old = Index.open(tmp_path / "a")
    before = old.tables()
    builder().insert(ps[4:], tmp_path / "a")
    builder().delete(["p0"], tmp_path / "a")
    for name, table in old.tables().items():
        assert table.equals(before[name]), name
    assert old.refresh() is not old and old.refresh().generation == 3
    from hipporag.index.generations import gc

    out = gc(tmp_path / "a", grace_s=0)
    assert 1 in out["kept"] and 2 in out["dropped"]  # the open reader's generation stays
    assert old.table("passages").height == 4
    old.close()
    assert gc(tmp_path / "a", grace_s=0)["kept"] == [3]


OPS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "update"]),
        st.lists(st.integers(0, 15), min_size=1, max_size=5),
    ),
    min_size=1,
    max_size=5,
)


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_random_sequences_equal_a_fresh_build(tmp_path_factory, ops):
    pool = corpus(16)
    d = tmp_path_factory.mktemp("seq")
    current = apply_history(builder, d / "a", pool, ops, check_refusal=True)
    if not current:
        return
    builder().build(list(current.values()), d / "b")
    assert_equivalent(d / "a", d / "b")


def test_meta_is_recorded_per_generation(tmp_path):
    builder().build(corpus(3), tmp_path / "a")
    builder().insert(corpus(5), tmp_path / "a")
    m = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert m["generation"] == 2 and m["parent"] == 1 and m["operation"] == "insert"
    assert (
        m["change"]["added"]["passages"] == 2
        and m["config"]
        and m["counts"]["live"]["passages"] == 5
    )
    assert all(len(e["blake2b"]) == 32 and e["size"] > 0 for e in m["files"].values())
    builder().insert([Passage("plain", "", "nothing named here.")], tmp_path / "a")
    files = json.loads((tmp_path / "a" / "meta.json").read_text())["files"]
    assert files["arrays/entity_embeddings.npy"] == m["files"]["arrays/entity_embeddings.npy"]
    assert files["hnsw/facts.bin"] == m["files"]["hnsw/facts.bin"]  # shared, not copied
    # the new passage is one appended piece; the rows before it are shared
    assert files["arrays/passage_embeddings.npy"] == m["files"]["arrays/passage_embeddings.npy"]
    assert files["arrays/passage_embeddings@g000003.npy"]["path"].startswith("data/g000003/")


def test_facade_refresh_and_auto_refresh(tmp_path):
    from hipporag import HippoRAG

    builder().build(corpus(4), tmp_path / "a")
    rag = HippoRAG.open(tmp_path / "a")
    auto = HippoRAG.open(tmp_path / "a", auto_refresh=0.0)
    assert rag.index.generation == 1 and not rag.refresh()  # nothing changed: cheap no-op
    builder().insert(corpus(6), tmp_path / "a")
    assert rag.index.generation == 1  # pinned until refreshed
    assert rag.refresh() and rag.index.generation == 2
    assert rag.index.live("passages").sum() == 6
    auto._maybe_refresh()  # what retrieve() calls first
    assert auto.index.generation == 2
    slow = HippoRAG.open(tmp_path / "a", auto_refresh=3600.0)
    builder().delete(["p0"], tmp_path / "a")
    slow._maybe_refresh()
    assert slow.index.generation == 2  # checked at most every hour
