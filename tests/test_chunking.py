"""Token chunking with the embedder's own tokenizer (real MiniLM tokenizer)."""

from __future__ import annotations

import itertools
import json
import logging

import pytest

from hipporag.config import ChunkConfig, EmbeddingConfig
from hipporag.errors import ConfigError, InputError
from hipporag.types import Passage
from indexers.chunking import (
    MAX_UNCHUNKED_CHARS,
    RegexTokenizer,
    chunk_passages,
    chunk_passages_with_stats,
    window_for,
)
from indexers.readers import passages_from_records


@pytest.fixture(scope="module")
def window():
    w = window_for(EmbeddingConfig())
    assert w.tokens == 256 and w.tokenizer.name != "regex"  # the model's own tokenizer
    return w


def n_tokens(window, text: str) -> int:
    return len(window.tokenizer.tok(text)["input_ids"])  # with special tokens, as embedded


def _doc(text: str, title: str = "Report", doc_id: str = "doc-7") -> Passage:
    (p,), _ = passages_from_records([{"id": doc_id, "title": title, "text": text}])
    return p


def test_long_document_fits_the_window_and_spans_point_back(window) -> None:
    text = " ".join(
        f"Paragraph {i} describes the {['north', 'south', 'east'][i % 3]} wing in detail."
        for i in range(1500)
    )
    doc = _doc(text)
    chunks = chunk_passages([doc], ChunkConfig(), embedding=EmbeddingConfig())
    assert len(chunks) > 20
    assert [c.chunk for c in chunks] == list(range(len(chunks)))
    assert [c.id for c in chunks] == [f"doc-7#{i}" for i in range(len(chunks))]
    for c in chunks:
        assert c.doc_id == "doc-7" and c.title == "Report" and c.span is not None
        assert doc.text[c.span[0] : c.span[1]] == c.text
        assert n_tokens(window, c.content) <= window.tokens  # nothing cut off when embedded
        assert c.text.endswith(".")  # windows end at sentence ends here
    # The document is covered from start to end, windows in order, overlapping a little.
    assert chunks[0].span[0] == 0 and chunks[-1].span[1] == len(doc.text)
    for a, b in itertools.pairwise(chunks):
        assert a.span[0] < b.span[0] <= a.span[1] + 1


def test_text_without_spaces_is_chunked(window) -> None:
    text = "".join(f"第{i}章では東京と大阪の歴史を詳しく説明します。" for i in range(300))
    text += "終" * 2000  # and a run with no sentence end at all
    doc = _doc(text, title="", doc_id="ja")
    chunks = chunk_passages([doc], ChunkConfig(), embedding=EmbeddingConfig())
    assert len(chunks) > 10
    for c in chunks:
        assert doc.text[c.span[0] : c.span[1]] == c.text
        assert n_tokens(window, c.content) <= window.tokens
    assert sum(c.text.endswith("。") for c in chunks) >= len(chunks) // 2
    assert chunks[-1].span[1] == len(doc.text)


def test_short_passages_are_unchanged_and_keep_their_ids(window) -> None:
    ps, _ = passages_from_records([{"title": "A", "text": "short"}, {"id": "x", "text": "tiny"}])
    assert chunk_passages(ps, ChunkConfig(), embedding=EmbeddingConfig()) == ps


def test_max_tokens_and_overlap(window) -> None:
    text = " ".join(f"Sentence {i} is here." for i in range(200))
    doc = _doc(text, title="")
    cfg = ChunkConfig(max_tokens=40, overlap_tokens=10)
    chunks = chunk_passages([doc], cfg, embedding=EmbeddingConfig())
    assert all(n_tokens(window, c.content) <= 40 + window.special for c in chunks)
    overlaps = [a.span[1] - b.span[0] for a, b in itertools.pairwise(chunks)]
    assert all(o > 0 for o in overlaps)  # consecutive windows share a sentence
    no = chunk_passages([doc], ChunkConfig(max_tokens=40, overlap_tokens=0))
    assert all(b.span[0] > a.span[1] - 1 for a, b in itertools.pairwise(no))
    with pytest.raises(ConfigError):
        ChunkConfig(max_tokens=20, overlap_tokens=20)


def test_chunking_off_warns_how_many_are_truncated(window, caplog) -> None:
    long = _doc("word " * 2000, doc_id="long")
    short = _doc("a few words", doc_id="short")
    with caplog.at_level(logging.WARNING):
        out, stats = chunk_passages_with_stats(
            [long, short], ChunkConfig(enabled=False), EmbeddingConfig()
        )
    assert out == [long, short] and stats.truncated == 1
    assert "1 of 2 passages are longer" in caplog.text
    huge = _doc("x " * (MAX_UNCHUNKED_CHARS // 2 + 10), doc_id="huge")
    with pytest.raises(InputError, match="chunking is off") as err:
        chunk_passages([huge], ChunkConfig(enabled=False), EmbeddingConfig())
    assert "chunking.enabled" in err.value.hint
    # With chunking on, the same passage is simply chunked.
    assert len(chunk_passages([huge], ChunkConfig(), tokenizer=RegexTokenizer())) > 1000


def test_word_windows_still_available() -> None:
    doc = _doc(" ".join(f"w{i}" for i in range(10)), title="")
    chunks = chunk_passages([doc], ChunkConfig(max_words=4, overlap_words=1))
    assert [c.text.split()[0] for c in chunks] == ["w0", "w3", "w6"]
    assert all(doc.text[c.span[0] : c.span[1]] == c.text for c in chunks)


def test_openie_import_with_chunking_matches_all_musique100(shared_data) -> None:
    from indexers.openie_import import HippoRAGOpenIEImporter
    from indexers.readers import read_corpus

    passages, _ = read_corpus(shared_data / "musique100" / "corpus.json")
    chunks, stats = chunk_passages_with_stats(passages, ChunkConfig(), EmbeddingConfig())
    assert stats.chunked > 0  # some musique passages are longer than MiniLM's window
    imp = HippoRAGOpenIEImporter(shared_data / "musique100" / "openie_gpt-3.5-turbo-1106.json")
    extractions = imp.extract(chunks)
    assert imp.stats["missing"] == 0 and imp.stats["matched"] == len(chunks)
    assert imp.stats["matched_chunks"] > 0
    # Every document's triples land in at least one of its chunks.
    file = json.loads((shared_data / "musique100" / "openie_gpt-3.5-turbo-1106.json").read_text())
    n_file = {d["title"] + "\n" + d["text"]: len(d["extracted_triples"]) for d in file["docs"]}
    by_doc: dict[str, int] = {}
    for c, e in zip(chunks, extractions, strict=True):
        by_doc[c.document] = by_doc.get(c.document, 0) + len(e.triples)
    docs = {p.id: p for p in passages}
    chunked_docs = {c.document for c in chunks if c.span is not None}
    for d in chunked_docs:
        if n_file.get(docs[d].title + "\n" + docs[d].text):
            assert by_doc[d] > 0
