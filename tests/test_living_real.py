"""A living index with real spaCy, MiniLM and DuckDB on the demo corpus."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from hipporag import HippoRAG
from hipporag.config import IndexConfig
from hipporag.types import Passage
from indexers.builder import IndexBuilder
from indexers.readers import read_corpus
from tests.living_helpers import assert_equivalent, brute_force_synonymy, snapshot

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def parts(demo_corpus_path):
    passages, _ = read_corpus(demo_corpus_path)
    return passages[:24], passages[24:]


@pytest.fixture(scope="module")
def built_a(parts, tmp_path_factory):
    out = tmp_path_factory.mktemp("living") / "a"
    IndexBuilder(IndexConfig()).build(parts[0], out)
    return out


def top10(path, questions):
    rag = HippoRAG.open(path)
    return [[h.passage_id for h in rag.retrieve(q, k=10)] for q in questions]


def test_build_plus_insert_equals_full_build(
    built_a, parts, demo_index_path, demo_questions_path, tmp_path
):
    a = tmp_path / "a"
    shutil.copytree(built_a, a)
    report = IndexBuilder(IndexConfig()).insert(parts[0][:3] + parts[1], a)
    assert report.added["passages"] == len(parts[1]) and report.input["already_indexed"] == 3
    assert report.timings_s["openie"] >= 0 and report.generation == 2
    assert_equivalent(a, demo_index_path, vectors=False)
    syn = {frozenset(n[2:] for n in e[1]) for e in snapshot(a)["edges"] if e[0] == "synonymy"}
    assert syn == brute_force_synonymy(demo_index_path)
    questions = [q["question"] for q in json.loads(demo_questions_path.read_text())]
    assert top10(a, questions) == top10(demo_index_path, questions)


def test_delete_and_update_equal_fresh_builds(built_a, parts, demo_index_path, tmp_path):
    full = tmp_path / "full"
    shutil.copytree(demo_index_path, full)
    report = HippoRAG.open(full).delete([p.id for p in parts[1]])
    assert report.removed["passages"] == len(parts[1])
    assert_equivalent(full, built_a, vectors=False)
    old = parts[0][5]
    edited = Passage(old.id, old.title, old.text.replace(".", ", said Imre Valko.", 1))
    rag = HippoRAG.open(full)
    r = rag.update([edited, parts[0][6]])
    assert r.input["replaced"] == 1 and r.input["unchanged"] == 1
    fresh = tmp_path / "fresh"
    final = [edited if p.id == old.id else p for p in parts[0]]
    IndexBuilder(IndexConfig()).build(final, fresh)
    assert_equivalent(full, fresh, vectors=False)
    assert old.id in rag.index.passage_ids  # refreshed after its own change
    assert rag.index.passages([rag.index.passage_ids.index(old.id)])[0].text == edited.text
    before = rag.index.generation
    assert rag.compact().operation == "compact" and rag.index.generation == before + 1
    assert_equivalent(full, fresh, vectors=False)


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_cli_lifecycle(demo_index_path, tmp_path, capsys, executor):
    from hipporag.index import Index
    from pipelines.cli import main

    idx = tmp_path / "idx"
    shutil.copytree(demo_index_path, idx, ignore=shutil.ignore_patterns("leases"))
    extra = tmp_path / "extra.json"
    marta = "Marta Oyelaran founded the Kelderhaven Film Festival in 1971."
    tide = "Tide Lines is a novel by Marta Oyelaran."
    extra.write_text(
        json.dumps(
            [{"title": "Marta Oyelaran", "text": marta}, {"title": "Tide Lines", "text": tide}]
        )
    )
    first, _ = read_corpus(extra)
    ray = ["--executor", "ray", "--workers", "1"] if executor == "ray" else []
    assert main(["add", str(idx), str(extra), *ray]) == 0
    out = capsys.readouterr().out
    assert "insert: generation 2" in out and "added passages 2" in out
    assert main(["add", str(idx), str(extra)]) == 0  # again: nothing new, no generation
    assert "no new generation" in capsys.readouterr().out
    upd = tmp_path / "upd.json"
    upd.write_text(
        json.dumps(
            [
                {"title": "Tide Lines", "text": tide},
                {"title": "Harbour Light", "text": "Harbour Light is a film by Imre Valko."},
            ]
        )
    )
    assert main(["update", str(idx), str(upd), *ray]) == 0
    out = capsys.readouterr().out
    assert "unchanged 1" in out and "unknown_ids 1" in out and "generation 3" in out
    assert main(["delete", str(idx), "--ids", first[0].id, "missing-id"]) == 0
    out = capsys.readouterr().out
    assert "removed passages 1" in out and "unknown_ids 1" in out
    assert main(["history", str(idx), "--json"]) == 0
    hist = json.loads(capsys.readouterr().out)
    assert [h["operation"] for h in hist] == ["build", "insert", "update", "delete"]
    assert main(["compact", str(idx)]) == 0
    assert "compact: generation 5" in capsys.readouterr().out
    assert main(["gc", str(idx), "--grace", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["kept"] == [5]
    assert main(["verify", str(idx)]) == 0
    final = Index.open(idx)
    assert not np.asarray(final.passage_embeddings)[~final.live("passages")].any()
    live = {final.passage_ids[i] for i in final.live("passages").nonzero()[0]}
    assert first[1].id in live and first[0].id not in live and len(live) == 34


@pytest.mark.parametrize("mode", ["dense", "hipporag1", "hipporag2", "hybrid"])
def test_retrieval_after_delete_equals_a_fresh_build(
    mode, built_a, parts, demo_index_path, demo_questions_path, tmp_path
):
    """Every mode: deleted passages never come back, and the top-10 equals build(A)'s."""
    full = tmp_path / "full"
    shutil.copytree(demo_index_path, full)
    rag = HippoRAG.open(full)
    deleted = {p.id for p in parts[1]}
    rag.delete(sorted(deleted))
    questions = [q["question"] for q in json.loads(demo_questions_path.read_text())]
    fresh = HippoRAG.open(built_a)
    for q in questions:
        got = rag.retrieve(q, k=10, mode=mode)
        assert len(got) == 10 and not deleted & set(got.passage_ids)
        assert all(h.text for h in got)
        assert got.passage_ids == fresh.retrieve(q, k=10, mode=mode).passage_ids, q
