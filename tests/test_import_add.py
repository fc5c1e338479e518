"""An index remembers how it was extracted; adding what its import file lacks stops.

Through the CLI: an index built from an OpenIE import file, then ``add`` of a
document the file does not cover (one-line error, nothing written), ``add
--openie spacy`` (extracted, recorded in the generation's manifest) and
``update --reextract`` (unchanged documents extracted again).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hipporag.index import Index
from tests.longdocs import write_longdocs
from tests.test_import_chunks import cli

pytestmark = pytest.mark.slow


def manifest(index_dir: Path) -> dict:
    gen = json.loads((index_dir / "meta.json").read_text())["generation"]
    return json.loads((index_dir / "generations" / f"{gen:06d}.json").read_text())


def facts_of(index_dir: Path, title: str) -> int:
    idx = Index.open(index_dir)
    try:
        df = idx.sql(
            "SELECT count(*) AS n FROM fact_provenance JOIN passages USING (passage_idx) "
            "WHERE title = ?",
            [title],
        )
    finally:
        idx.close()
    return int(df["n"][0])


def test_add_into_an_imported_index(tmp_path):
    corpus, openie = write_longdocs(tmp_path / "data")
    out = tmp_path / "idx"
    r = cli("-q", "index", str(corpus), "--out", str(out), "--openie", f"hipporag:{openie}")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout == ""  # -q: no report
    gen = json.loads((out / "meta.json").read_text())["generation"]
    new = tmp_path / "new.json"
    title = "Quillmoor notes"
    new.write_text(json.dumps([{"title": title, "text": "Ada Varga married Bruno Kessel."}]))

    r = cli("add", str(out), str(new))
    assert r.returncode == 2, r.stdout + r.stderr
    err = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(err) == 1 and err[0].startswith("error: 1 of the 1 new passages are not in")
    assert "--openie spacy" in err[0]
    assert json.loads((out / "meta.json").read_text())["generation"] == gen  # nothing written
    assert "settings changed" not in r.stderr

    r = cli("add", str(out), str(new), "--openie", "spacy", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    m = manifest(out)
    assert m["change"]["extracted"]["passages"] == 1
    assert m["change"]["extracted"]["extractor"]["kind"] == "spacy"
    assert facts_of(out, title) > 0

    # A document of the import, extracted again by spaCy on request (unchanged text).
    short = "Marrowgate notes"
    before = facts_of(out, short)
    r = cli("update", str(out), str(corpus), "--openie", "spacy", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["change"]["committed"] is False
    assert "settings changed" not in r.stderr  # a routine change: same settings, other input
    r = cli("update", str(out), str(corpus), "--reextract", "--openie", "spacy", "--json")
    assert r.returncode == 0, r.stderr[-3000:]
    rep = json.loads(r.stdout)["change"]
    assert rep["input"]["reextracted"] == 6 and rep["committed"]
    assert manifest(out)["change"]["extracted"]["extractor"]["kind"] == "spacy"
    assert before > 0 and facts_of(out, short) > 0
