import json

import pytest

from hipporag.config import ChunkConfig
from hipporag.errors import InputError
from indexers.chunking import chunk_passages
from indexers.readers import passages_from_records, read_corpus


def write(tmp_path, name, content, mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def test_json_list(tmp_path):
    p = write(
        tmp_path, "c.json", json.dumps([{"title": "A", "text": "x y"}, {"title": "B", "text": "z"}])
    )
    passages, stats = read_corpus(p)
    assert [x.title for x in passages] == ["A", "B"]
    assert stats.passages == 2 and stats.duplicates == 0


def test_jsonl_and_txt_folder(tmp_path):
    p = write(tmp_path, "c.jsonl", '{"title": "A", "text": "x"}\n\n{"title": "B", "text": "y"}\n')
    assert len(read_corpus(p)[0]) == 2
    d = tmp_path / "docs"
    d.mkdir()
    (d / "one.txt").write_text("first doc", encoding="utf-8")
    (d / "two.txt").write_text("second doc", encoding="utf-8")
    passages, _ = read_corpus(d)
    assert [x.title for x in passages] == ["one", "two"]


def test_duplicates_indexed_once_and_ids_stable(tmp_path):
    recs = [
        {"title": "A", "text": "same"},
        {"title": "A", "text": "same "},
        {"title": "B", "text": "same"},
    ]
    passages, stats = passages_from_records(recs)
    assert len(passages) == 2 and stats.duplicates == 1
    again, _ = passages_from_records(recs)
    assert [p.id for p in passages] == [p.id for p in again]


def test_empty_and_missing_fields_are_counted(tmp_path):
    recs = [{"title": "A", "text": "   "}, {"title": "B"}, {"title": "C", "text": "ok"}, 3]
    passages, stats = passages_from_records(recs)
    assert len(passages) == 1
    assert stats.empty == 1 and stats.missing_text == 2
    assert any("no 'text'" in w for w in stats.warnings)


@pytest.mark.parametrize(
    ("name", "content", "mode", "fragment"),
    [
        ("empty.json", "[]", "w", "no usable passage"),
        ("blank.json", json.dumps([{"title": "t", "text": " \n\t"}]), "w", "no usable passage"),
        (
            "latin1.json",
            '[{"title": "Caf\xe9", "text": "x"}]'.encode("latin-1"),
            "wb",
            "not valid UTF-8",
        ),
        ("broken.json", '[{"title": "A", "text": ', "w", "not valid JSON"),
        ("obj.json", '{"hello": 1}', "w", "not a list of passages"),
        ("bad.jsonl", '{"title": "A", "text": "x"}\nnot json\n', "w", "bad.jsonl:2"),
        ("c.xml", "<a/>", "w", "unsupported corpus file type"),
        ("c.csv", "a,b", "w", "no 'text' column"),
    ],
)
def test_bad_input_gives_clear_error(tmp_path, name, content, mode, fragment):
    p = write(tmp_path, name, content, mode)
    with pytest.raises(InputError) as err:
        read_corpus(p)
    assert fragment in str(err.value)
    assert "how to fix" in str(err.value)


def test_missing_path_and_empty_folder(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_corpus(tmp_path / "nope.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no \.txt files"):
        read_corpus(tmp_path / "empty")


def test_non_english_text_is_kept(tmp_path):
    p = write(
        tmp_path,
        "c.json",
        json.dumps([{"title": "東京", "text": "東京は日本の首都です。"}], ensure_ascii=False),
    )
    passages, _ = read_corpus(p)
    assert passages[0].text == "東京は日本の首都です。"


def test_chunking_windows():
    passages, _ = passages_from_records(
        [{"title": "T", "text": " ".join(f"w{i}" for i in range(10))}]
    )
    chunks = chunk_passages(passages, ChunkConfig(max_words=4, overlap_words=1))
    assert [c.text.split()[0] for c in chunks] == ["w0", "w3", "w6"]
    assert all(len(c.text.split()) <= 4 for c in chunks)
    assert chunk_passages(passages, ChunkConfig()) == passages
