"""One flipped byte (same size) in any file of a multi-generation index is a clean error.

Every file of a four-generation index (DuckDB parts, array pieces and
patches, HNSW segments, graph deltas, the commit point) is damaged in turn;
opening it and reading it as retrieval does must raise ``IndexFormatError``,
never a raw exception, a crash of hnswlib, or silently read the bad bytes.
Through the CLI the same damage is one error line and exit status 2.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from hipporag.errors import IndexFormatError
from hipporag.index import Index
from hipporag.index.format import ARRAYS, HNSW_INDEXES, STATE_ARRAYS
from retrievers.config import RetrievalConfig
from retrievers.graph import GraphRetriever
from tests.fakes import HashEmbedder
from tests.faults.test_cli_errors import assert_one_line_error, cli
from tests.test_living import builder, corpus


@pytest.fixture(scope="module")
def generations(tmp_path_factory) -> Path:
    ps = corpus(44)
    d = tmp_path_factory.mktemp("gens") / "i"
    builder().build(ps[:40], d)  # small changes to a larger base: pieces, parts, deltas
    builder().insert(ps[40:42], d)
    builder().delete(["p1", "d5"], d)
    builder().insert(ps[42:], d)  # four generations, files of each in use
    assert Index.open(d).generation == 4
    return d


def read_everything(path: Path) -> None:
    """Open the index and read what a query can touch: every array, HNSW, table; retrieve."""
    idx = Index.open(path)
    try:
        for name in [*ARRAYS, *STATE_ARRAYS]:
            idx.array(name)
        for name in HNSW_INDEXES:
            idx.hnsw(name)
        _ = idx.graph
        idx.tables()
        retriever = GraphRetriever(idx, RetrievalConfig(), embedder=HashEmbedder())
        for mode in ("dense", "hipporag2", "hybrid"):
            retriever.retrieve("Alice met Bob in Berlin", k=3, mode=mode)
    finally:
        idx.close()


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x5A
    path.write_bytes(bytes(data))


def test_the_undamaged_index_reads(generations):
    read_everything(generations)


def files_in_use(root: Path) -> list[str]:
    meta = json.loads((root / "meta.json").read_text())
    return sorted({e["path"] for e in meta["files"].values()})


def test_every_file_with_one_flipped_byte_is_a_clean_error(generations, tmp_path):
    files = files_in_use(generations)
    kinds = {Path(f).suffix for f in files}
    assert {".npy", ".bin", ".duckdb"} <= kinds and len({f[:12] for f in files}) >= 3
    missed = []
    for i, rel in enumerate(files):
        size = (generations / rel).stat().st_size
        for at in sorted({size // 2, min(size - 1, 12)}):  # the body, and the header
            copy = tmp_path / f"c{i}-{at}"
            shutil.copytree(generations, copy, ignore=shutil.ignore_patterns("leases"))
            flip(copy / rel, at)
            try:
                read_everything(copy)
            except IndexFormatError as err:
                assert "damaged" in err.message, err.message
            else:
                missed.append(f"{rel}@{at}")
            shutil.rmtree(copy)
    assert not missed, missed


@pytest.mark.parametrize(
    "damage",
    ["generation-abc", "meta-not-json", "meta-bad-path", "manifest-random-bytes"],
)
def test_damaged_manifests_are_clean_errors(generations, tmp_path, damage):
    copy = tmp_path / "c"
    shutil.copytree(generations, copy, ignore=shutil.ignore_patterns("leases"))
    meta = json.loads((copy / "meta.json").read_text())
    if damage == "generation-abc":
        meta["generation"] = "abc"
        (copy / "meta.json").write_text(json.dumps(meta))
    elif damage == "meta-bad-path":
        next(iter(meta["files"].values()))["path"] = "../../etc/passwd"
        (copy / "meta.json").write_text(json.dumps(meta))
    elif damage == "meta-not-json":
        flip(copy / "meta.json", 0)
    if damage == "manifest-random-bytes":
        (copy / "generations" / "000002.json").write_bytes(os.urandom(300) + b"\xff\xfe")
        for cmd in (["history", str(copy)], ["gc", str(copy), "--grace", "0"]):
            out = cli(*cmd)
            assert out.returncode in (0, 2) and "Traceback" not in out.stderr, out.stderr
            if out.returncode == 2:
                assert_one_line_error(out)
        assert (copy / "data" / "g000002").is_dir()  # gc does not guess what it used
        return
    with pytest.raises(IndexFormatError):
        read_everything(copy)
    assert_one_line_error(cli("info", str(copy)))


def test_damaged_hnsw_and_npy_header_through_the_cli(demo_index_path, tmp_path):
    copy = tmp_path / "c"
    shutil.copytree(demo_index_path, copy, ignore=shutil.ignore_patterns("leases"))
    meta = json.loads((copy / "meta.json").read_text())
    # the fact index: every graph mode searches it (a small dense query may be answered exactly)
    hnsw = copy / meta["files"]["hnsw/facts.bin"]["path"]
    flip(hnsw, hnsw.stat().st_size // 3)
    line = assert_one_line_error(cli("retrieve", str(copy), "Who wrote it?", "--mode", "hybrid"))
    assert "damaged" in line and "facts.bin" in line
    copy2 = tmp_path / "c2"
    shutil.copytree(demo_index_path, copy2, ignore=shutil.ignore_patterns("leases"))
    npy = copy2 / meta["files"]["arrays/graph_indptr.npy"]["path"]
    flip(npy, 30)  # inside the header's dict literal
    assert_one_line_error(cli("retrieve", str(copy2), "Who wrote it?"))


def test_checksums_on_first_use_cost(demo_index_path, tmp_path, monkeypatch):
    """Report the open-time cost of checking every file once (the figure is in the docs)."""
    from hipporag.index import integrity

    def timed(limit: int) -> float:
        monkeypatch.setenv(integrity.LIMIT_ENV, str(limit))
        integrity._CHECKED.clear()
        t0 = time.perf_counter()
        idx = Index.open(demo_index_path)
        for name in [*ARRAYS, *STATE_ARRAYS]:
            idx.array(name)
        for name in HNSW_INDEXES:
            idx.hnsw(name)
        idx.tables()
        idx.close()
        return time.perf_counter() - t0

    checked, unchecked = timed(1 << 40), timed(0)
    print(f"open+load with checksums {checked * 1e3:.1f} ms, without {unchecked * 1e3:.1f} ms")
    assert checked > 0 and unchecked > 0
