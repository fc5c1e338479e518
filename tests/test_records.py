"""Records (id, title, text, metadata) from every corpus format, and bad inputs."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import polars as pl
import pytest

from hipporag.errors import InputError
from hipporag.text import normalize_entity, passage_id
from indexers.readers import passages_from_records, read_corpus

RECORDS = [
    {"id": "m-1", "title": "Manual", "text": "Reset the router.", "metadata": {"lang": "en"}},
    {"id": "m-2", "title": "Handbuch", "text": "Router neu starten.", "metadata": {"lang": "de"}},
]


def _check(passages):
    assert [p.id for p in passages] == ["m-1", "m-2"]
    assert [p.doc_id for p in passages] == ["m-1", "m-2"]
    assert [p.metadata["lang"] for p in passages] == ["en", "de"]
    assert passages[0].title == "Manual" and passages[0].text == "Reset the router."


def test_metadata_round_trips_from_every_format(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text(json.dumps(RECORDS), encoding="utf-8")
    (tmp_path / "c.jsonl").write_text("\n".join(map(json.dumps, RECORDS)), encoding="utf-8")
    _check(read_corpus(tmp_path / "c.json")[0])
    _check(read_corpus(tmp_path / "c.jsonl")[0])
    _check(passages_from_records(RECORDS)[0])
    # Parquet and CSV: metadata as a struct / JSON column, or top-level columns mapped in.
    pl.DataFrame(RECORDS).write_parquet(tmp_path / "c.parquet")
    _check(read_corpus(tmp_path / "c.parquet")[0])
    flat = [{k: v for k, v in r.items() if k != "metadata"} | r["metadata"] for r in RECORDS]
    pl.DataFrame(flat).write_csv(tmp_path / "c.csv")
    _check(read_corpus(tmp_path / "c.csv", metadata_fields=["lang"])[0])
    pl.DataFrame(flat).write_parquet(tmp_path / "flat.parquet")
    _check(read_corpus(tmp_path / "flat.parquet", metadata_fields=["lang"])[0])


def test_metadata_values_are_typed_and_dates_become_iso() -> None:
    rec = {
        "text": "x",
        "metadata": {
            "year": 2021,
            "score": 0.5,
            "draft": False,
            "tags": ["a", "b"],
            "day": datetime.date(2024, 5, 1),
            "gone": None,
        },
    }
    (p,), _ = passages_from_records([rec])
    assert p.metadata == {
        "year": 2021,
        "score": 0.5,
        "draft": False,
        "tags": ["a", "b"],
        "day": "2024-05-01",
    }
    assert p.id == passage_id("", "x") and p.doc_id == p.id  # no id: content-derived


def test_unknown_fields_are_counted_or_mapped() -> None:
    recs = [{"title": "A", "text": "x", "source": "wiki", "url": "u1"}, {"text": "y", "url": "u2"}]
    ps, stats = passages_from_records(recs)
    assert all(p.metadata == {} for p in ps)
    assert stats.unknown_fields == {"source": 1, "url": 2}
    assert any("--metadata-fields source,url" in w for w in stats.warnings)
    ps, stats = passages_from_records(recs, metadata_fields=["url", "source"])
    assert [p.metadata for p in ps] == [{"source": "wiki", "url": "u1"}, {"url": "u2"}]
    assert stats.unknown_fields == {}


@pytest.mark.parametrize(
    ("record", "fragment"),
    [
        ({"text": "x", "title": 3}, "'title' must be a string"),
        ({"text": "x", "title": ["t"]}, "'title' must be a string"),
        ({"text": "x", "metadata": {"a": {"b": 1}}}, "metadata must be flat"),
        ({"text": "x", "metadata": {"a": [1, 2]}}, "non-strings"),
        ({"text": "x", "metadata": ["lang", "en"]}, "must be a JSON object"),
        ({"text": "x", "metadata": {"a": float("nan")}}, "finite"),
        ({"text": "x", "id": ""}, "'id' must be a non-empty string"),
        ({"text": "x", "id": {"k": 1}}, "'id' must be a non-empty string"),
    ],
)
def test_bad_records_give_one_line_errors(record, fragment) -> None:
    with pytest.raises(InputError) as err:
        passages_from_records([{"text": "fine"}, record])
    assert fragment in err.value.message and "[1]" in err.value.message
    assert "\n" not in err.value.message and err.value.hint


def test_repeated_id_is_an_error_but_repeated_content_is_deduplicated() -> None:
    with pytest.raises(InputError, match="used by another record"):
        passages_from_records([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}])
    ps, stats = passages_from_records([{"text": "x"}, {"text": "x"}])
    assert len(ps) == 1 and stats.duplicates == 1
    ps, _ = passages_from_records([{"id": "a", "text": "x"}, {"id": "b", "text": "x"}])
    assert [p.id for p in ps] == ["a", "b"]  # two documents with the same text


def test_folder_records_paths_and_skips_links_outside(tmp_path: Path) -> None:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("alpha text", encoding="utf-8")
    (root / "sub" / "b.md").write_text("# B\nbeta text", encoding="utf-8")
    (root / "ignored.bin").write_bytes(b"\x00\x01")
    secret = tmp_path / "secret.txt"
    secret.write_text("outside the corpus", encoding="utf-8")
    os.symlink(secret, root / "link.txt")
    os.symlink(root / "a.txt", root / "inside.txt")  # a link within the folder is fine
    ps, stats = read_corpus(root)
    assert [p.metadata["path"] for p in ps] == ["a.txt", "inside.txt", "sub/b.md"]
    assert [p.id for p in ps] == ["a.txt", "inside.txt", "sub/b.md"]
    assert all("outside" not in p.text for p in ps)
    assert stats.symlinks_skipped == 1 and any("link.txt" in w for w in stats.warnings)
    ps, stats = read_corpus(root, follow_symlinks=True)
    assert "link.txt" in [p.id for p in ps] and stats.symlinks_skipped == 0
    assert secret.read_text(encoding="utf-8") == "outside the corpus"  # nothing touched


def test_surrogates_replaced_and_counted_invalid_utf8_rejected(tmp_path: Path) -> None:
    ps, stats = passages_from_records([{"title": "T\ud800", "text": "bad \udfff here"}])
    assert ps[0].text == "bad \ufffd here" and ps[0].title == "T\ufffd"
    assert stats.replaced_chars == 2
    ps[0].text.encode("utf-8")  # encodable now
    p = tmp_path / "c.json"
    p.write_text('[{"text": "escaped \\ud800 surrogate"}]', encoding="utf-8")
    ps, stats = read_corpus(p)
    assert stats.replaced_chars == 1 and "\ufffd" in ps[0].text
    (tmp_path / "bad.jsonl").write_bytes(b'{"text": "caf\xe9"}\n')
    with pytest.raises(InputError, match="not valid UTF-8"):
        read_corpus(tmp_path / "bad.jsonl")


def test_bytes_path_is_a_path(tmp_path: Path) -> None:
    p = tmp_path / "c.json"
    p.write_text(json.dumps(RECORDS), encoding="utf-8")
    _check(read_corpus(os.fsencode(p))[0])


def test_bidi_controls_do_not_make_new_entities() -> None:
    plain = normalize_entity("Stanford University.")
    for ch in ("\u200f", "\u200e", "\u202e", "\u2067", "\u061c"):
        assert normalize_entity(f"Stanford University{ch}.") == plain
        assert normalize_entity(f"{ch}Stanford{ch} University") == plain


def test_folder_front_matter_becomes_metadata(tmp_path: Path) -> None:
    root = tmp_path / "kb"
    root.mkdir()
    (root / "wifi.md").write_text(
        "---\ntitle: Wi-Fi setup\nlang: en\nyear: 2024\ntags: [network, wifi]\n---\n"
        "Hold the button for ten seconds.\n",
        encoding="utf-8",
    )
    (root / "plain.txt").write_text("---\nnot: front: matter\nfree text\n---\nrest", "utf-8")
    ps, _ = read_corpus(root)
    by_id = {p.id: p for p in ps}
    wifi = by_id["wifi.md"]
    assert wifi.title == "Wi-Fi setup" and wifi.text == "Hold the button for ten seconds."
    assert wifi.metadata == {
        "lang": "en",
        "year": 2024,
        "tags": ["network", "wifi"],
        "path": "wifi.md",
    }
    assert by_id["plain.txt"].text.startswith("---")  # not simple front matter: kept as text
    assert by_id["plain.txt"].metadata == {"path": "plain.txt"}


def test_read_inputs_sums_every_count_over_files(tmp_path) -> None:
    import json

    from pipelines.jobs.run import read_inputs

    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps([{"title": "A", "text": "one", "url": "x"}, {"text": ""}]))
    b.write_text(json.dumps([{"title": "B", "text": "two", "url": "y", "lang": "en"}]))
    passages, stats = read_inputs([str(a), str(b)])
    assert len(passages) == 2 and stats["records"] == 3 and stats["empty"] == 1
    assert stats["unknown_fields"] == {"lang": 1, "url": 2}
