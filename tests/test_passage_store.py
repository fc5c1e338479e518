"""The passage store: hits read from memory-mapped segments, equal to the tables, O(change)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hipporag.index import Index, IndexWriter
from hipporag.index.passagestore import encode_segment, load_store, store_layout
from hipporag.index.rows import table_passage_rows
from hipporag.index.verify import verify
from hipporag.types import Passage
from indexers.upgrade import drop_part
from tests.living_helpers import apply_history
from tests.test_living import builder, corpus


def unusual(n: int) -> list[Passage]:
    """Passages whose fields a naive encoding would get wrong (non-ASCII, quotes, spans)."""
    texts = ['Zoë met "Bob" in Zürich.', "Alice met 中文 Berlin.\nNew line", "Acme met Dora 🙂."]
    return [
        Passage(
            f"u{i}",
            f"Tï{i}",
            texts[i % 3],
            doc_id=f"dé{i // 2}",
            metadata={"z": "é", "a": [1, 2], "n": i, "ok": i % 2 == 0},
            chunk=i % 2,
            span=(i, i + 4) if i % 2 else None,
        )
        for i in range(n)
    ]


def stored_equals_tables(path: Path) -> dict[str, Passage]:
    """Every live passage read from the store equals its table row; returns them by id."""
    idx = Index.open(path)
    try:
        rows = np.flatnonzero(idx.live("passages")).tolist()
        store = load_store(idx)
        assert store is not None
        got = store.get(rows)
        assert got == table_passage_rows(idx, rows)
        return {p.id: p for p in got}
    finally:
        idx.close()


OPS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "update", "compact"]),
        st.lists(st.integers(0, 15), min_size=1, max_size=6),
    ),
    min_size=1,
    max_size=6,
)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS)
def test_store_equals_the_tables_and_a_fresh_build_after_any_history(tmp_path_factory, ops):
    pool = corpus(10) + unusual(6)
    d = tmp_path_factory.mktemp("store")
    current = apply_history(builder, d / "a", pool, ops)
    assert verify(d / "a")["ok"], verify(d / "a")["problems"]
    living = stored_equals_tables(d / "a")
    if not current:
        return
    builder().build(list(current.values()), d / "b")
    fresh = stored_equals_tables(d / "b")
    assert living == fresh


def test_a_change_writes_only_its_segment_and_merges_leave_the_dead_out(tmp_path):
    builder().build(corpus(12), tmp_path / "a")
    first = json.loads((tmp_path / "a" / "meta.json").read_text())
    builder().insert(unusual(1), tmp_path / "a")
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    segs = meta["passage_store"]["segments"]
    assert [(s["start"], s["stop"]) for s in segs] == [(0, 12), (12, 13)]
    for key in ("offsets", "data"):
        assert meta["files"][segs[0][key]] == first["files"][segs[0][key]]  # shared
    assert meta["files"][segs[1]["data"]]["size"] < first["files"][segs[0]["data"]]["size"]
    builder().delete(["u0"], tmp_path / "a")
    builder().insert(unusual(2)[1:], tmp_path / "a")  # merges the one-row segment
    idx = Index.open(tmp_path / "a")
    layout = store_layout(idx.meta)
    assert layout is not None and [(s.start, s.stop) for s in layout] == [(0, 12), (12, 14)]
    store = load_store(idx)
    assert store is not None and store.raw(12) == b""  # u0's row: dead, left out
    assert [p.id for p in idx.passages([13, 0])] == ["u1", "p0"]
    with pytest.raises(KeyError, match="passage_idx 12"):
        idx.passages([12])
    idx.close()
    assert verify(tmp_path / "a")["ok"]


def test_hits_are_read_without_opening_the_tables(tmp_path, demo_index_path, capsys):
    builder().build(corpus(8) + unusual(3), tmp_path / "a")
    idx = Index.open(tmp_path / "a")
    got = idx.passages([9, 0, 10])
    assert idx._con is None  # no DuckDB connection was needed
    assert got == table_passage_rows(idx, [9, 0, 10])
    idx.close()
    from pipelines.cli import main  # the user's path: real models, the demo index

    assert main(["retrieve", str(demo_index_path), "Who founded Acme?", "-k", "4", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    idx = Index.open(demo_index_path)
    rows = [idx.passage_ids.index(h["passage_id"]) for h in hits]
    for h, p in zip(hits, table_passage_rows(idx, rows), strict=True):
        assert (h["text"], h["title"], h["doc_id"], h["metadata"]) == (
            p.text,
            p.title,
            p.document,
            p.metadata,
        )
    idx.close()


def test_an_index_without_the_store_reads_the_tables_and_upgrade_adds_it(tmp_path, capsys):
    from pipelines.cli import main

    builder().build(corpus(6) + unusual(3), tmp_path / "a")
    idx = Index.open(tmp_path / "a")
    gen = idx.generation
    idx.close()
    assert drop_part(tmp_path / "a", "passage_store")
    assert not drop_part(tmp_path / "a", "passage_store")  # nothing to drop: no commit
    idx = Index.open(tmp_path / "a")
    assert idx.generation == gen + 1
    assert "passage_store" not in idx.meta and load_store(idx) is None
    old = idx.passages([7, 1])
    idx.close()
    assert verify(tmp_path / "a")["ok"]
    assert main(["upgrade", str(tmp_path / "a")]) == 0  # as a user runs it
    assert "added passage_store" in capsys.readouterr().out
    assert verify(tmp_path / "a")["ok"]
    idx = Index.open(tmp_path / "a")
    assert load_store(idx) is not None and idx.passages([7, 1]) == old
    idx.close()
    builder().insert(unusual(5)[3:], tmp_path / "a")  # and a change after it
    assert stored_equals_tables(tmp_path / "a")["u4"].text == unusual(5)[4].text


def test_a_change_to_an_index_without_the_store_adds_it(tmp_path):
    builder().build(corpus(6), tmp_path / "a")
    drop_part(tmp_path / "a", "passage_store")
    builder().insert(unusual(2), tmp_path / "a")
    layout = store_layout(json.loads((tmp_path / "a" / "meta.json").read_text()))
    assert layout is not None and layout[-1].stop == 8
    assert set(stored_equals_tables(tmp_path / "a")) == {f"p{i}" for i in range(6)} | {"u0", "u1"}


def test_verify_reports_a_store_that_disagrees_with_the_tables(tmp_path):
    builder().build(corpus(6), tmp_path / "a")
    with IndexWriter(tmp_path / "a", operation="insert") as w:
        for logical in w.base["files"]:
            if "passage_store_" not in logical:
                w.share(logical)
        wrong = {i: p for i, p in enumerate(corpus(6))}
        wrong[4] = Passage("p4", "T4", "A text the tables do not hold.")
        seg = encode_segment(wrong, 0, 6)
        names = [
            w.write_array(
                f"passage_store_{k}", np.asarray(a), logical=f"arrays/passage_store_{k}@x.npy"
            )
            for k, a in (("offsets", seg.offsets), ("data", seg.data))
        ]
        entry = {
            "format": "json-rows-v1",
            "segments": [
                {"start": 0, "stop": 6, "gen": w.generation, "offsets": names[0], "data": names[1]}
            ],
        }
        keep = ("files", "generation", "parent", "time", "operation", "passage_store")
        w.commit({**{k: v for k, v in w.base.items() if k not in keep}, "passage_store": entry})
    out = verify(tmp_path / "a")
    assert not out["ok"] and any(
        "disagrees with table passages at row 4" in p for p in out["problems"]
    )
