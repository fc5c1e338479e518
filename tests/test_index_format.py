import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from hipporag.config import IndexConfig
from hipporag.errors import IndexFormatError, InputError
from hipporag.index import FORMAT_VERSION, Index, IndexWriter
from hipporag.index.format import ARRAYS
from hipporag.index.reader import TABLES
from indexers.builder import IndexBuilder
from indexers.readers import passages_from_records, read_corpus
from tests.fakes import CapitalizedWordsExtractor, HashEmbedder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECORDS = [
    {"title": "Alice", "text": "Alice Smith works at Acme Corp in Berlin."},
    {"title": "Acme", "text": "Acme Corp was founded by Bob Jones in Munich."},
    {"title": "Bob", "text": "Bob Jones was born in Hamburg."},
]


def fake_build(out, records=RECORDS):
    passages, _ = passages_from_records(records)
    builder = IndexBuilder(
        IndexConfig(), extractor=CapitalizedWordsExtractor(), embedder=HashEmbedder()
    )
    return builder.build(passages, out)


def assert_same_index(a: Index, b: Index):
    for name in TABLES:
        assert a.table(name).equals(b.table(name)), name
    for name in ARRAYS:
        assert np.array_equal(a.array(name), b.array(name)), name


@pytest.mark.slow
def test_real_build_round_trip(demo_index_path, demo_corpus_path, tmp_path):
    """Build with real spaCy + MiniLM, reopen: tables, arrays and counts are identical."""
    idx = Index.open(demo_index_path)
    assert idx.meta["format_version"] == FORMAT_VERSION
    assert idx.meta["embedding"] == {"model": "all-MiniLM-L6-v2", "dim": 384}
    assert idx.meta["library_versions"]["duckdb"]
    assert idx.meta["components"]["extractor"]["kind"] == "spacy"
    c = idx.counts
    assert c["passages"] == 32 and c["entities"] > 50 and c["facts"] > 30
    assert set(c["edges"]) == {"fact", "passage_entity", "synonymy"}
    assert idx.graph.n_nodes == c["entities"] + c["passages"]
    assert idx.passage_embeddings.shape == (32, 384)
    assert np.allclose(np.linalg.norm(idx.entity_embeddings, axis=1), 1.0, atol=1e-5)
    assert isinstance(idx.passage_embeddings, np.memmap)  # arrays are memory-mapped
    # SQL over the tables
    top = idx.sql("SELECT name, n_passages FROM entities ORDER BY n_passages DESC, name LIMIT 1")
    assert top["n_passages"][0] >= 2
    kinds = idx.sql("SELECT kind, count(*) AS n FROM edges GROUP BY kind ORDER BY kind")
    assert dict(zip(kinds["kind"], kinds["n"], strict=True)) == c["edges"]
    # provenance: every fact comes from at least one passage
    orphan = idx.sql(
        "SELECT count(*) AS n FROM facts WHERE fact_idx NOT IN (SELECT fact_idx FROM fact_provenance)"
    )
    assert orphan["n"][0] == 0
    # a second build of the same corpus gives an identical index
    passages, _ = read_corpus(demo_corpus_path)
    IndexBuilder(IndexConfig()).build(passages, tmp_path / "again")
    assert_same_index(idx, Index.open(tmp_path / "again"))
    # the HNSW indexes answer
    labels, _ = idx.hnsw("passages").knn_query(idx.passage_embeddings[3:4], k=1)
    assert labels[0, 0] == 3


def test_fake_build_round_trip_and_pickle(tmp_path):
    fake_build(tmp_path / "a")
    fake_build(tmp_path / "b")
    a, b = Index.open(tmp_path / "a"), Index.open(tmp_path / "b")
    assert_same_index(a, b)
    c = pickle.loads(pickle.dumps(a))
    assert c.path == a.path and c.counts == a.counts
    assert len(pickle.dumps(a)) < 500  # a reference, not the data
    assert [p.title for p in a.passages([2, 0])] == ["Bob", "Alice"]


def test_unknown_format_version_is_refused(tmp_path):
    fake_build(tmp_path / "idx")
    meta = json.loads((tmp_path / "idx" / "meta.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "idx" / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(IndexFormatError) as err:
        Index.open(tmp_path / "idx")
    assert "format version 99" in str(err.value) and "rebuild" in str(err.value)


def test_missing_or_foreign_directory(tmp_path):
    with pytest.raises(IndexFormatError, match="no index at"):
        Index.open(tmp_path / "nothing")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(IndexFormatError, match="not a hipporag index"):
        Index.open(tmp_path / "other")
    # and the writer never replaces a directory that is not an index
    with pytest.raises(IndexFormatError, match="refusing to replace"):
        fake_build(tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_failed_rebuild_keeps_existing_index(tmp_path):
    fake_build(tmp_path / "idx")
    before = Index.open(tmp_path / "idx")
    with pytest.raises(InputError):
        fake_build(tmp_path / "idx", records=[{"title": "x", "text": "   "}])
    after = Index.open(tmp_path / "idx")
    assert_same_index(before, after)
    assert [p.name for p in tmp_path.iterdir()] == ["idx"]  # no temp dir left behind


def test_writer_abort_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), IndexWriter(tmp_path / "idx") as w:
        w.write_array("entity_n_passages", np.zeros(3, dtype=np.int32))
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("existing", [False, True])
def test_killed_build_leaves_no_half_index(tmp_path, existing):
    """kill -9 in the middle of writing: the target is absent or the old index, intact."""
    target = tmp_path / "idx"
    if existing:
        fake_build(target)
        before = Index.open(target)
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {ROOT!r})
        from hipporag.index import writer
        orig = writer.IndexWriter.save_hnsw
        def killer(self, name, *a, **k):
            orig(self, name, *a, **k)
            if name == "entities":
                os.kill(os.getpid(), signal.SIGKILL)
        writer.IndexWriter.save_hnsw = killer
        from tests.test_index_format import fake_build
        fake_build({str(target)!r}, records=[{{"title": "N", "text": "New Text Here About Zed"}}])
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    if existing:
        assert_same_index(before, Index.open(target))
    else:
        assert not target.exists()
    leftovers = [p for p in tmp_path.iterdir() if p.name != "idx"]
    assert all(p.name.startswith(".idx.tmp-") for p in leftovers)
    shutil.rmtree(tmp_path, ignore_errors=True)
