"""The index tables as DuckDB parts: small deltas, tombstones, merges, derived edges."""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import threading

import duckdb
import numpy as np
import pytest

from hipporag.errors import InputError
from hipporag.index import Index, tables
from hipporag.index.generations import gc
from hipporag.index.verify import verify
from hipporag.types import Passage
from indexers.builder import IndexBuilder
from indexers.commit import edges_of
from indexers.state import GraphState
from tests.fakes import CapitalizedWordsExtractor
from tests.living_helpers import assert_equivalent
from tests.test_living import CONFIG, builder, corpus


class PrefixEmbedder:
    """Texts with the same first three letters get near-equal vectors (synonyms)."""

    name = "prefix-test"
    dim = 32

    def warm_up(self) -> None:
        pass

    def encode(self, texts, *, is_query: bool = False) -> np.ndarray:
        def vec(key: str) -> np.ndarray:
            seed = int(hashlib.md5(key.encode()).hexdigest()[:8], 16)
            return np.random.default_rng(seed).standard_normal(self.dim)

        out = np.stack([vec(t.lower()[:3]) + 0.2 * vec(t.lower()) for t in texts])
        return (out / np.linalg.norm(out, axis=1, keepdims=True)).astype(np.float32)

    def to_dict(self) -> dict:
        return {"kind": "prefix-test"}


def synonyms(arg, path, op: str = "build"):
    """A change made with :class:`PrefixEmbedder` (an index with synonymy edges)."""
    b = IndexBuilder(CONFIG, extractor=CapitalizedWordsExtractor(), embedder=PrefixEmbedder())
    return getattr(b, op)(arg, path)


def _meta(path) -> dict:
    return json.loads((path / "meta.json").read_text())


def _file(path, logical) -> int:
    return int(_meta(path)["files"][logical]["size"])


def _words(i: int) -> str:
    return " ".join(f"w{(i * 7919 + j * 104729) % 100003}" for j in range(120))


def big(n: int, start: int = 0) -> list[Passage]:
    """Passages with their own entities and text (a bigger index than ``corpus``)."""
    return [
        Passage(
            f"q{i}",
            f"Title {i}",
            f"Name{i} met Name{i + 1} and Place{i % 97}. {_words(i)}",
            doc_id=f"doc{i}",
        )
        for i in range(start, start + n)
    ]


def test_an_insert_writes_a_small_part(tmp_path):
    idx = tmp_path / "idx"
    builder().build(big(2000), idx)
    full = _file(idx, "index.duckdb")
    report = builder().insert(big(5, 2000), idx)
    parts = _meta(idx)["db_parts"]
    assert [p["file"] for p in parts] == ["index.duckdb", "db/000002.duckdb"]
    assert parts[0]["generation"] == 1 and parts[1]["generation"] == 2
    delta = _file(idx, "db/000002.duckdb")
    assert delta * 6 < full, (delta, full)
    con = duckdb.connect(str(idx / _meta(idx)["files"]["db/000002.duckdb"]["path"]), read_only=True)
    n = report.added["passages"]
    assert n >= 5 and con.execute("SELECT count(*) FROM passages").fetchone()[0] == n
    assert {r[0] for r in con.execute("SHOW TABLES").fetchall()} == set(tables.PART_TABLES) | {
        "tombstones"
    }
    con.close()
    builder().build(big(2005), tmp_path / "fresh")
    assert_equivalent(idx, tmp_path / "fresh")


def _versions(idx: Index, name: str) -> list[int]:
    """``n_passages`` of every stored row of entity ``name``, oldest part first."""
    out = []
    for i in range(len(idx.meta["db_parts"])):
        out += [
            r[0]
            for r in idx.connection()
            .execute(f"SELECT n_passages FROM p{i}.entities WHERE name = ?", [name])
            .fetchall()
        ]
    return out


def test_an_entity_updated_twice_reads_its_newest_version(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "MERGE_FACTOR", 0.0)  # keep every delta as its own part
    idx = tmp_path / "idx"
    ps = [Passage(f"a{i}", f"T{i}", f"Alice met Bob{i}.") for i in range(3)]
    builder().build(ps[:1], idx)
    builder().insert(ps[1:2], idx)
    builder().insert(ps[2:], idx)
    index = Index.open(idx)
    assert len(index.meta["db_parts"]) == 3
    assert _versions(index, "alice") == [1, 2, 3]  # every version is stored ...
    rows = index.sql("SELECT n_passages FROM entities WHERE name = 'alice'")
    assert rows["n_passages"].to_list() == [3]  # ... the newest one is read
    alice = index.sql("SELECT entity_idx FROM entities WHERE name = 'alice'")["entity_idx"][0]
    assert index.entity_passage_counts()[alice] == 3
    index.close()
    builder().delete(["a0"], idx)
    index = Index.open(idx)
    assert index.sql("SELECT n_passages FROM entities WHERE name = 'alice'")["n_passages"][0] == 2
    assert index.sql("SELECT count(*) AS n FROM passages WHERE passage_id = 'a0'")["n"][0] == 0
    assert index.sql("SELECT count(*) AS n FROM mentions WHERE passage_idx = 0")["n"][0] == 0
    index.close()
    builder().build(ps[1:], tmp_path / "fresh")
    assert_equivalent(idx, tmp_path / "fresh")


def _shapes(idx, ps, steps) -> list[list[int]]:
    out = []
    for i in range(0, 2 * steps, 2):
        synonyms(ps[i : i + 2], idx, "insert")
        out.append([p["generation"] for p in _meta(idx)["db_parts"]])
    return out


def test_small_deltas_are_merged_size_tiered(tmp_path):
    ps = corpus(40)
    idx = tmp_path / "idx"
    synonyms(ps[:30], idx)
    shapes = _shapes(idx, ps[30:], 5)
    assert all(s[0] == 1 for s in shapes)  # the full part is shared, never rewritten
    grew = [len(b) - len(a) for a, b in itertools.pairwise(shapes)]
    assert 1 in grew and min(grew) <= 0  # deltas accumulate, and are merged
    synonyms(ps[:40], tmp_path / "fresh")
    assert_equivalent(idx, tmp_path / "fresh")


def test_merge_policy_is_amortised_and_bounded():
    parts = [tables.Part("index.duckdb", 1, 100_000)]
    written = 0
    for g in range(2, 2002):  # 2,000 changes of 50 rows
        start = tables.merge_start(parts, change_rows=50, live_after=100_000 + 50 * (g - 1))
        rows = 50 + sum(p.rows for p in parts[start:])
        written += rows
        parts = [*parts[:start], tables.Part(f"db/{g}", g, rows)]
        assert len(parts) <= tables.MAX_PARTS
    assert written < 12 * 50 * 2000  # each row rewritten a few times (log), not per change
    sizes = [p.rows for p in parts]
    assert sizes == sorted(sizes, reverse=True)  # older parts are bigger
    assert tables.merge_start(parts, change_rows=10, live_after=50_000) == 0  # dead: compact


def test_part_cap_and_compaction_keep_the_tables_exact(tmp_path, monkeypatch):
    monkeypatch.setattr(tables, "MAX_PARTS", 3)
    monkeypatch.setattr(tables, "MERGE_FACTOR", 0.0)
    ps = corpus(40)
    idx = tmp_path / "idx"
    synonyms(ps[:30], idx)
    assert _shapes(idx, ps[30:], 5) == [[1, 2], [1, 2, 3], [1, 2, 4], [1, 2, 5], [1, 2, 6]]
    gone = [f"p{i}" for i in range(0, 30, 3)]  # delete a third: dead rows exceed the bound
    synonyms(gone, idx, "delete")
    meta = _meta(idx)
    assert meta["db_parts"] == [
        {
            "file": "index.duckdb",
            "generation": meta["generation"],
            "rows": tables.live_rows(meta["counts"]),
            "tombstones": {},
        }
    ]  # a compaction: one fresh full part holding the live rows only
    synonyms([p for p in ps if p.id not in gone], tmp_path / "fresh")
    assert_equivalent(idx, tmp_path / "fresh")
    assert verify(idx)["ok"]
    r = gc(idx, grace_s=0)
    assert r["dropped"] and verify(idx)["ok"]
    assert_equivalent(idx, tmp_path / "fresh")


def test_gc_keeps_the_parts_a_generation_shares(tmp_path):
    idx = tmp_path / "idx"
    builder().build(big(400), idx)
    builder().insert(big(3, 400), idx)
    builder().delete(["q5"], idx)
    parts = _meta(idx)["db_parts"]
    assert len(parts) >= 2 and parts[0]["generation"] == 1
    gc(idx, grace_s=0)
    assert [int(m.stem) for m in (idx / "generations").iterdir()] == [_meta(idx)["generation"]]
    assert verify(idx)["ok"]
    index = Index.open(idx)
    n = index.sql("SELECT count(*) AS n FROM passages")["n"][0]
    assert n == index.counts["live"]["passages"] == int(index.live("passages").sum())
    index.close()


def _edge_rows(frame) -> set:
    return {(k, int(s), int(d), float(w)) for s, d, k, w in frame.iter_rows()}


def _state_edges(index: Index) -> set:
    edges = edges_of(GraphState.load(index), index.config)
    return {
        (kind, int(s), int(d), float(w))
        for kind, (src, dst, wt) in edges.items()
        for s, d, w in zip(src.tolist(), dst.tolist(), wt.tolist(), strict=True)
    }


def test_edges_view_equals_the_edge_lists_of_the_graph(demo_index_path, tmp_path):
    demo = Index.open(demo_index_path)
    got = _edge_rows(demo.table("edges").select("src", "dst", "kind", "weight"))
    assert got == _state_edges(demo)
    assert {k for k, *_ in got} == {"fact", "passage_entity", "synonymy"}
    assert [str(t) for t in demo.table("edges").dtypes] == ["Int32", "Int32", "String", "Float64"]
    demo.close()
    copy = tmp_path / "demo"
    shutil.copytree(demo_index_path, copy, ignore=shutil.ignore_patterns("leases"))
    from hipporag.config import IndexConfig
    from indexers.builder import IndexBuilder

    ids = Index.open(copy).passage_ids
    IndexBuilder(IndexConfig()).delete(ids[3:9], copy)  # removes entities, facts, synonymy
    index = Index.open(copy)
    assert len(index.meta["db_parts"]) == 2
    assert index.meta["db_parts"][1]["tombstones"].get("synonymy", 0) > 0
    assert _edge_rows(index.table("edges").select("src", "dst", "kind", "weight")) == (
        _state_edges(index)
    )
    counts = index.sql("SELECT kind, count(*) AS n FROM edges GROUP BY kind")
    assert dict(zip(counts["kind"], counts["n"], strict=True)) == {
        k: v for k, v in index.counts["edges"].items() if v
    }
    index.close()


def _as_legacy(path) -> None:
    """Rewrite a one-part index as the writer stored it before parts (edges table, no db_parts)."""
    from hipporag.index.writer import checksum

    index = Index.open(path)
    edges = index.table("edges").to_arrow()
    index.close()
    meta = _meta(path)
    db = path / meta["files"]["index.duckdb"]["path"]
    con = duckdb.connect(str(db))
    con.execute("DROP VIEW edges")
    con.execute("DROP TABLE synonymy")
    con.execute("DROP TABLE tombstones")
    con.register("e", edges)
    con.execute("CREATE TABLE edges AS SELECT src, dst, kind, weight FROM e")
    con.close()
    meta.pop("db_parts")
    meta["files"]["index.duckdb"].update(size=db.stat().st_size, blake2b=checksum(db))
    text = json.dumps(meta)
    (path / "meta.json").write_text(text)
    (path / "generations" / f"{meta['generation']:06d}.json").write_text(text)


def test_an_index_written_before_parts_reads_and_changes(tmp_path, monkeypatch):
    ps = corpus(14)
    idx = tmp_path / "idx"
    synonyms(ps[:10], idx)
    _as_legacy(idx)
    old = Index.open(idx)
    assert "db_parts" not in old.meta
    plan = old.sql("EXPLAIN SELECT * FROM edges")["explain_value"][0]
    assert "edges" in plan and "HASH_GROUP_BY" not in plan  # the stored table, not derived
    assert _edge_rows(old.table("edges").select("src", "dst", "kind", "weight")) == (
        _state_edges(old)
    )
    assert "synonymy" in {k for k, *_ in _state_edges(old)}
    old.close()
    assert verify(idx)["ok"]
    monkeypatch.setattr(tables, "MERGE_FACTOR", 0.0)
    monkeypatch.setattr(tables, "DEAD_RATIO", 10.0)
    synonyms(ps[10:], idx, "insert")  # a delta over the stored part
    early = tmp_path / "early"  # compacted while the stored part still has synonymy rows
    shutil.copytree(idx, early, ignore=shutil.ignore_patterns("leases"))
    alicia = [p.id for p in ps if "Alicia" in p.text]  # its synonymy edge dies with them
    synonyms(alicia, idx, "delete")
    parts = _meta(idx)["db_parts"]
    assert next((p["file"], p["generation"]) for p in parts) == ("index.duckdb", 1)
    assert len(parts) == 3 and parts[2]["tombstones"]["synonymy"] > 0
    fresh = tmp_path / "fresh"
    synonyms([p for p in ps if p.id not in alicia], fresh)
    assert_equivalent(idx, fresh)
    monkeypatch.setattr(tables, "DEAD_RATIO", 0.0)
    synonyms(["p0"], idx, "delete")  # a compaction absorbs the stored part
    assert [p["file"] for p in _meta(idx)["db_parts"]] == ["index.duckdb"]
    synonyms([p for p in ps if p.id not in [*alicia, "p0"]], fresh)
    assert_equivalent(idx, fresh)
    synonyms(["p0"], early, "delete")
    assert [p["generation"] for p in _meta(early)["db_parts"]] == [3]
    index = Index.open(early)
    assert index.sql("SELECT count(*) AS n FROM synonymy")["n"][0] == 1
    index.close()
    synonyms([p for p in ps if p.id != "p0"], fresh)
    assert_equivalent(early, fresh)


def test_one_part_reads_plain_tables_and_sql_stays_read_only(tmp_path):
    builder().build(corpus(12), tmp_path / "idx")
    index = Index.open(tmp_path / "idx")
    assert index.sql("SELECT current_database() AS d")["d"][0] == "index"  # the file itself
    for table in ("passages", "mentions", "entities"):
        plan = index.sql(f"EXPLAIN SELECT * FROM {table} WHERE 1 = 1")["explain_value"][0]
        assert "ANTI" not in plan and "UNION" not in plan, table
    for bad in ("DROP VIEW passages", "CREATE OR REPLACE VIEW passages AS SELECT 1", "DETACH p0"):
        with pytest.raises(InputError, match="read-only"):
            index.sql(bad)
    index.sql("CREATE TEMP TABLE mine AS SELECT passage_id FROM passages")
    assert index.sql("SELECT count(*) AS n FROM mine")["n"][0] == 12
    with pytest.raises(duckdb.PermissionException):
        index.sql("SELECT * FROM read_csv('/etc/hostname')")
    with pytest.raises(duckdb.Error):
        index.sql("SET enable_external_access = true")
    index.close()


def test_thread_cursors_read_a_many_part_index(tmp_path):
    ps = corpus(20)
    idx = tmp_path / "idx"
    builder().build(ps[:16], idx)
    for p in ps[16:]:
        builder().insert([p], idx)
    builder().delete(["p1"], idx)
    index = Index.open(idx)
    assert len(index.meta["db_parts"]) > 1
    want = index.sql("SELECT passage_idx FROM passages ORDER BY 1")["passage_idx"].to_list()
    errors, seen = [], []

    def read() -> None:
        try:
            for _ in range(20):
                seen.append(sorted(index.entities_of_passages(want)))
                index.passages(want[:5])
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=read) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(seen) == 80 and all(s == want for s in seen)
    assert np.array_equal(np.flatnonzero(index.live("passages")), want)
    index.close()


def test_compact_writes_one_full_part(tmp_path):
    ps = corpus(20)
    idx = tmp_path / "idx"
    synonyms(ps[:16], idx)
    synonyms(ps[16:], idx, "insert")
    synonyms(["p3"], idx, "delete")
    assert len(_meta(idx)["db_parts"]) > 1
    report = builder().compact(idx)
    meta = _meta(idx)
    assert meta["db_parts"] == [
        {
            "file": "index.duckdb",
            "generation": report.generation,
            "rows": tables.live_rows(meta["counts"]),
            "tombstones": {},
        }
    ]
    synonyms([p for p in ps if p.id != "p3"], tmp_path / "fresh")
    assert_equivalent(idx, tmp_path / "fresh")
