"""The HippoRAG facade: open/build, retrieve, pickling, lazy import, bad indexes and configs."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hipporag.errors import ConfigError, IndexFormatError, RetrievalError
from hipporag.types import RetrievalResult
from pipelines.facade import HippoRAG
from retrievers.config import RetrievalConfig

ROOT = Path(__file__).resolve().parents[1]
Q = "Who directed the film that won the Golden Heron Award in 1987?"


@pytest.fixture(scope="module")
def rag(demo_index_path) -> HippoRAG:
    return HippoRAG.open(demo_index_path)


@pytest.mark.slow
def test_retrieve_returns_an_explained_result_convertible_to_polars(rag) -> None:
    res = rag.retrieve(Q, k=4)
    assert isinstance(res, RetrievalResult) and res.mode == "hybrid" and len(res) == 4
    df = res.to_polars()
    assert df.height == 4 and df["rank"].to_list() == [1, 2, 3, 4]
    assert df["ppr_score"].null_count() == 0 and df["dense_score"].null_count() == 0
    assert res.timings_ms["total"] > 0
    assert rag.retrieve(Q, k=2, mode="dense").mode == "dense"


@pytest.mark.slow
def test_pickled_facade_is_small_lazy_and_gives_the_same_results(rag) -> None:
    before = {m: rag.retrieve(Q, k=5, mode=m).passage_ids for m in ("hybrid", "hipporag2")}
    blob = pickle.dumps(rag)
    assert len(blob) < 4000  # path + parameters only
    clone = pickle.loads(blob)
    assert clone._retriever is None and clone._index is None  # nothing loaded yet
    assert clone.config == rag.config
    for mode, ids in before.items():
        assert clone.retrieve(Q, k=5, mode=mode).passage_ids == ids


@pytest.mark.slow
def test_open_overrides_are_validated(demo_index_path) -> None:
    rag = HippoRAG.open(demo_index_path, mode="hipporag2", top_facts=3)
    assert rag.config.mode == "hipporag2" and rag.config.top_facts == 3
    base = RetrievalConfig(damping=0.7)
    assert HippoRAG.open(demo_index_path, base, explain=False).config.damping == 0.7
    with pytest.raises(ConfigError, match="did you mean 'top_facts'"):
        HippoRAG.open(demo_index_path, top_fact=3)
    with pytest.raises(ConfigError, match=r"retrieval\.mode"):
        HippoRAG.open(demo_index_path, mode="bm25")
    with pytest.raises(RetrievalError, match="unknown retrieval mode"):
        HippoRAG.open(demo_index_path).retrieve(Q, mode="bm25")


@pytest.mark.slow
def test_link_and_entity_index(rag) -> None:
    seeds = rag.link(Q)
    assert seeds and all(s.kind == "entity" for s in seeds)
    idx = rag.entity_index("  Golden Heron Award ")
    assert idx is not None and rag.index.entity_names[idx] == "golden heron award"
    assert rag.entity_index("no such entity anywhere") is None
    with pytest.raises(RetrievalError, match="empty"):
        rag.link("  ")


def test_index_of_another_format_version_is_refused(demo_index_path, tmp_path) -> None:
    copy = tmp_path / "old-index"
    shutil.copytree(demo_index_path, copy)
    meta = json.loads((copy / "meta.json").read_text())
    meta["format_version"] = 999
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(IndexFormatError, match="format version 999") as err:
        HippoRAG.open(copy)
    assert "rebuild" in str(err.value)


def test_missing_index_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(IndexFormatError, match="no index at"):
        HippoRAG.open(tmp_path / "nowhere")


def test_import_hipporag_is_light_and_reexports_lazily() -> None:
    code = (
        "import sys, hipporag\n"
        "assert 'torch' not in sys.modules and 'pipelines' not in sys.modules\n"
        "from hipporag import HippoRAG\n"
        "assert HippoRAG.__module__ == 'pipelines.facade'\n"
        "assert 'torch' not in sys.modules\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.slow
def test_build_from_records_then_retrieve(tmp_path) -> None:
    records = [
        {"title": "Orsk Bridge", "text": "The Orsk Bridge was designed by Lena Varr."},
        {"title": "Lena Varr", "text": "Lena Varr was born in the town of Meltby."},
        {"title": "Meltby", "text": "Meltby is a fishing town on the river Ause."},
    ]
    rag = HippoRAG.build(records, tmp_path / "tiny", retrieval=RetrievalConfig(mode="hipporag2"))
    assert rag.index.n_passages == 3 and rag.config.mode == "hipporag2"
    res = rag.retrieve("Where was the designer of the Orsk Bridge born?", k=10)
    assert len(res) == 3  # k > corpus: every passage, no error
    with pytest.raises(Exception, match="corpus must be a path"):
        HippoRAG.build(42, tmp_path / "bad")  # type: ignore[arg-type]
    same = rag.update(records)  # unchanged documents: nothing to do
    assert not same.committed and rag.generation == 1
    again = rag.update(records[:2], reextract=True)  # extracted again on request
    assert again.committed and again.input["reextracted"] == 2 and rag.generation == 2


@pytest.mark.slow
def test_encode_query_fast_path_equals_encode(rag) -> None:
    emb = rag.retriever.embedder
    texts = [Q, "Zürich, 東京 and Москва?", "a", "why " * 400]
    full = emb.encode(texts, is_query=True)
    for t, v in zip(texts, full, strict=True):
        fast = emb.encode_query(t)
        assert fast.dtype == np.float32 and fast.shape == v.shape
        assert np.abs(fast - v).max() < 1e-5
