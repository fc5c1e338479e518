"""Closed objects, gc arguments and paths, and files left in TMPDIR."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from hipporag.index import Index
from hipporag.index.integrity import IndexClosedError
from hipporag.index.leases import live_generations
from tests.faults.test_cli_errors import ROOT, assert_one_line_error, cli
from tests.test_index_integrity import make_v1
from tests.test_living import builder, corpus


def test_a_closed_index_raises_a_clear_error(tmp_path):
    builder().build(corpus(4), tmp_path / "a")
    idx = Index.open(tmp_path / "a")
    assert len(idx.passages([0, 1])) == 2  # the passage store is loaded while open
    idx.close()
    for use in (
        lambda: idx.passages([0]),
        lambda: idx.sql("SELECT 1"),
        lambda: idx.array("passage_embeddings"),
        lambda: idx.hnsw("passages"),
        lambda: idx.table("passages"),
    ):
        with pytest.raises(IndexClosedError, match="was closed"):
            use()
    idx.close()  # idempotent


def test_hipporag_close_and_context_manager(demo_index_path):
    from pipelines.facade import HippoRAG

    with HippoRAG.open(demo_index_path) as rag:
        assert len(rag.retrieve("Who directed Salt Harbour?", k=2)) == 2
        gen = rag.index.generation
        assert gen in live_generations(demo_index_path)
    assert rag.closed and gen not in live_generations(demo_index_path)
    with pytest.raises(IndexClosedError, match=r"HippoRAG .* was closed"):
        rag.retrieve("Who directed Salt Harbour?")
    with pytest.raises(IndexClosedError):
        _ = rag.index


@pytest.mark.parametrize("grace", ["nan", "-5", "inf-ish"])
def test_gc_rejects_bad_grace(tmp_path, grace):
    builder().build(corpus(4), tmp_path / "a")
    if grace == "inf-ish":
        out = cli("gc", str(tmp_path / "a"), "--grace", "abc")
        assert out.returncode == 2 and "Traceback" not in out.stderr
        return
    line = assert_one_line_error(cli("gc", str(tmp_path / "a"), "--grace", grace))
    assert "grace" in line


def test_gc_on_a_mistyped_path_creates_nothing(tmp_path):
    line = assert_one_line_error(cli("gc", str(tmp_path / "typo" / "idx"), "--grace", "0"))
    assert "no index" in line
    assert not (tmp_path / "typo").exists()
    (tmp_path / "plain").mkdir()
    assert_one_line_error(cli("gc", str(tmp_path / "plain")))
    assert list((tmp_path / "plain").iterdir()) == []  # no write.lock in a user's folder


def test_gc_on_a_format_1_index_is_a_clean_error(tmp_path):
    builder().build(corpus(4), tmp_path / "v2")
    make_v1(tmp_path / "v2", tmp_path / "v1")
    before = sorted(p.name for p in (tmp_path / "v1").iterdir())
    line = assert_one_line_error(cli("gc", str(tmp_path / "v1"), "--grace", "0"))
    assert "upgrade" in line
    assert sorted(p.name for p in (tmp_path / "v1").iterdir()) == before


def test_onnxruntime_leaves_nothing_in_tmpdir(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    script = (
        "from hipporag.config import EmbeddingConfig\n"
        "from hipporag.embedders import make_embedder\n"
        "print(make_embedder(EmbeddingConfig(backend='onnx')).encode(['hi']).shape)\n"
    )
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert list(tmp.iterdir()) == []
