"""A change writes what it changed: pieces, patches, HNSW segments, graph deltas, compaction."""

from __future__ import annotations

import json

import numpy as np

from hipporag.index import Index
from hipporag.index.columns import PartedArray
from hipporag.index.format import read_meta
from tests.living_helpers import assert_equivalent
from tests.test_living import builder, corpus


def written(path, generation: int, *, skip_db: bool = True) -> int:
    """Bytes of the files a generation wrote (the DuckDB file aside)."""
    meta = json.loads((path / "generations" / f"{generation:06d}.json").read_text())
    return sum(
        e["size"]
        for k, e in meta["files"].items()
        if e["path"].startswith(f"data/g{generation:06d}/") and not (skip_db and "duckdb" in k)
    )


def test_small_insert_writes_a_small_fraction(tmp_path):
    builder().build(corpus(60), tmp_path / "a")
    r = builder().insert(corpus(62), tmp_path / "a")  # two new passages
    assert r.added["passages"] == 2
    full, change = written(tmp_path / "a", 1), written(tmp_path / "a", 2)
    assert change < 0.15 * full, (change, full)
    meta = read_meta(tmp_path / "a")
    assert len(meta["columns"]["passage_embeddings"]["pieces"]) == 2
    assert [s["start"] for s in meta["segments"]["passages"]] == [0, 60]
    assert (
        meta["graph"]["deltas"]
        and meta["graph"]["entities"] == r.counts["entities"] - (r.added["entities"])
    )
    idx = Index.open(tmp_path / "a")
    assert isinstance(idx.passage_embeddings, PartedArray)
    assert idx.hnsw("passages").get_current_count() == 62
    idx.close()
    builder().build(corpus(62), tmp_path / "b")
    assert_equivalent(tmp_path / "a", tmp_path / "b")


def test_many_small_changes_keep_few_pieces_and_stay_exact(tmp_path):
    ps = corpus(40)
    builder().build(ps[:20], tmp_path / "a")
    for i in range(20, 40):
        builder().insert([ps[i]], tmp_path / "a")
        if i % 5 == 0:
            builder().delete([ps[i - 3].id], tmp_path / "a")
    meta = read_meta(tmp_path / "a")
    for name, entry in meta["columns"].items():
        assert len(entry["pieces"]) <= 6, (name, len(entry["pieces"]))
    for table, segs in meta["segments"].items():
        assert len(segs) <= 6, (table, len(segs))
        stops = [s["start"] for s in segs[1:]]
        assert stops == [s["stop"] for s in segs[:-1]]  # contiguous ranges
    gone = {ps[i - 3].id for i in range(20, 40) if i % 5 == 0}
    builder().build([p for p in ps if p.id not in gone], tmp_path / "b")
    assert_equivalent(tmp_path / "a", tmp_path / "b")


def test_patched_rows_read_their_newest_values(tmp_path):
    from hipporag.types import Passage

    ps = [Passage(f"q{i}", "", f"Name{i} met Other{i} and Alice.") for i in range(30)]
    builder().build(ps[:24], tmp_path / "a")
    builder().insert(ps[24:27], tmp_path / "a")  # raises n_passages of existing entities
    builder().delete([ps[0].id, ps[1].id], tmp_path / "a")  # lowers some again
    builder().insert(ps[27:], tmp_path / "a")
    meta = read_meta(tmp_path / "a")
    assert meta["columns"]["entity_n_passages"]["patches"]  # changed rows went to patches
    builder().build(ps[2:], tmp_path / "b")
    assert_equivalent(tmp_path / "a", tmp_path / "b")


def test_compact_rewrites_one_piece_each_and_zeroes_deleted_vectors(tmp_path):
    from hipporag.index.generations import gc

    ps = corpus(30)
    builder().build(ps[:25], tmp_path / "a")
    builder().insert(ps[25:], tmp_path / "a")
    builder().delete([ps[3].id], tmp_path / "a")
    r = builder().compact(tmp_path / "a")
    assert r.operation == "compact" and r.generation == 4
    meta = read_meta(tmp_path / "a")
    assert all(len(e["pieces"]) == 1 and not e["patches"] for e in meta["columns"].values())
    assert all(len(s) == 1 for s in meta["segments"].values())
    assert not meta["graph"]["deltas"]
    idx = Index.open(tmp_path / "a")
    dead = ~idx.live("passages")
    assert dead.sum() == 1 and not np.asarray(idx.passage_embeddings)[dead].any()
    idx.close()
    out = gc(tmp_path / "a", grace_s=0)
    assert out["dropped"] == [1, 2, 3]
    builder().build([p for p in ps if p.id != ps[3].id], tmp_path / "b")
    assert_equivalent(tmp_path / "a", tmp_path / "b")


def test_an_index_of_the_previous_layout_takes_changes(tmp_path):
    """A manifest without pieces (one file per array) is read and changed as one piece each."""
    ps = corpus(20)
    builder().build(ps[:15], tmp_path / "a")
    path = tmp_path / "a" / "meta.json"
    meta = json.loads(path.read_text())
    for key in ("columns", "segments", "graph"):
        meta.pop(key)
    text = json.dumps(meta, indent=2, sort_keys=True) + "\n"
    path.write_text(text)
    (tmp_path / "a" / "generations" / "000001.json").write_text(text)
    builder().insert(ps[15:], tmp_path / "a")
    builder().build(ps, tmp_path / "b")
    assert_equivalent(tmp_path / "a", tmp_path / "b")
