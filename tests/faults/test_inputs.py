"""Bad inputs are clean errors, never silent loss: id collisions, changed texts, bad CSV,
lone surrogates, huge queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hipporag.config import IndexConfig
from hipporag.errors import InputError, RetrievalError
from hipporag.index import Index
from hipporag.types import Passage
from indexers.builder import IndexBuilder
from tests.fakes import CapitalizedWordsExtractor, HashEmbedder
from tests.faults.test_cli_errors import assert_one_line_error, cli
from tests.test_living import builder, corpus


def chunking_builder() -> IndexBuilder:
    config = IndexConfig.from_dict({"chunking": {"max_words": 6}})
    return IndexBuilder(config, extractor=CapitalizedWordsExtractor(), embedder=HashEmbedder())


def test_document_id_colliding_with_a_chunk_id_is_an_error(tmp_path):
    long = Passage("page", "Page", " ".join(["Alice met Bob in Berlin."] * 4))
    short = Passage("page#0", "Other", "Carol met Dora.")
    with pytest.raises(InputError, match="'page#0' is used twice") as err:
        chunking_builder().build([long, short], tmp_path / "a")
    assert "rename" in err.value.hint
    assert not (tmp_path / "a").exists()


def test_document_id_colliding_through_the_cli(tmp_path):
    text = " ".join(f"Alice met Bob in Berlin on day {i} of the long festival." for i in range(80))
    corpus_file = tmp_path / "c.json"
    records = [{"id": "page", "text": text}, {"id": "page#0", "text": "Carol met Dora."}]
    corpus_file.write_text(json.dumps(records))
    line = assert_one_line_error(cli("index", str(corpus_file), "--out", str(tmp_path / "i")))
    assert "page#0" in line
    assert not (tmp_path / "i").exists()


def test_add_of_an_indexed_id_with_new_text_says_use_update(tmp_path):
    ps = corpus(4)
    builder().build(ps, tmp_path / "a")
    changed = Passage("p1", ps[1].title, "Zed met Carol.", doc_id=ps[1].doc_id)
    with pytest.raises(InputError, match="already indexed with other text") as err:
        builder().insert([changed, Passage("p9", "T9", "Fjord met Evans.")], tmp_path / "a")
    assert "update" in err.value.hint
    idx = Index.open(tmp_path / "a")
    assert idx.generation == 1  # nothing committed
    idx.close()
    r = builder().insert([ps[1]], tmp_path / "a")  # the same text: already indexed, fine
    assert not r.committed and r.input["already_indexed"] == 1


def test_csv_with_an_unclosed_quote_names_the_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text('id,text\na,Alice met Bob.\nb,"Carol met Dora.\nc,Evans met Zed.\n')
    line = assert_one_line_error(cli("index", str(bad), "--out", str(tmp_path / "i")))
    assert "line 3" in line and "quote" in line
    assert not (tmp_path / "i").exists()


def test_lone_surrogate_in_metadata_is_a_clean_error(tmp_path):
    src = tmp_path / "s.json"
    src.write_text('[{"id": "a", "text": "Alice met Bob.", "metadata": {"k": "x\\ud800y"}}]')
    line = assert_one_line_error(cli("index", str(src), "--out", str(tmp_path / "i")))
    assert "surrogate" in line and "metadata['k']" in line


def test_huge_query_is_a_clean_error_in_every_mode(demo_index_path, monkeypatch):
    from pipelines.facade import HippoRAG

    rag = HippoRAG(demo_index_path)
    for mode in ("hipporag1", "hipporag2", "dense"):
        with pytest.raises(RetrievalError, match="characters, more than"):
            rag.retrieve("Who? " * 220_000, mode=mode)
    monkeypatch.setenv("HIPPORAG_MAX_QUERY_CHARS", "10")
    with pytest.raises(RetrievalError, match="limit of 10"):
        rag.retrieve("Who won the Golden Heron Award?", mode="hipporag1")


def test_add_and_update_json_have_the_change_fields(demo_index_path, tmp_path):
    import shutil

    idx = tmp_path / "i"
    shutil.copytree(demo_index_path, idx, ignore=shutil.ignore_patterns("leases"))
    new = tmp_path / "n.json"
    new.write_text(json.dumps([{"id": "extra", "text": "Mira Oduya founded Kelder Press."}]))
    out = cli("add", str(idx), str(new), "--json")
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    for key in ("operation", "generation", "committed", "added", "removed", "input"):
        assert key in rep, key
    assert rep["committed"] and rep["added"]["passages"] == 1
    deleted = json.loads(cli("delete", str(idx), "--ids", "extra", "--json").stdout)
    assert set(deleted) <= set(rep) | {"timings_s"}
    assert Path(rep["path"]) == idx
