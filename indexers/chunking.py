"""Chunking documents into passages that fit the embedder's window (on by default).

Windows are counted in tokens of the embedding model's own tokenizer (loaded
alone with ``transformers.AutoTokenizer``, not the model) and sized by its
``max_seq_length``, less the special tokens, the title and the passage prefix
(all embedded with every chunk). Windows end at sentence ends (``. ! ? 。 ！ ？``
and line breaks) where possible; a sentence longer than a window is cut at
token boundaries, so texts without spaces (Chinese, Japanese) are split too.
Consecutive windows overlap by about ``overlap_tokens`` (whole sentences).

Ids: a document that fits one window is returned unchanged (its id stays the
record id, or the content-derived id, so HippoRAG OpenIE files and evaluation
gold keep matching). A longer one becomes chunks ``f"{doc_id}#{n}"``
(n = 0, 1, ...), each with ``doc_id``, ``chunk = n``, ``span = (start, end)``
such that ``document_text[start:end] == chunk.text``, and the document's title
and metadata.

Example:
    >>> from hipporag.config import ChunkConfig
    >>> from hipporag.types import Passage
    >>> p = Passage.from_text("T", "a b c d e")
    >>> [c.text for c in chunk_passages([p], ChunkConfig(max_words=2, overlap_words=1))]
    ['a b', 'b c', 'c d', 'd e']
    >>> s = "One two three four five six seven. "
    >>> doc = Passage("d1", "", (s * 3).strip(), doc_id="d1")
    >>> cfg = ChunkConfig(max_tokens=16, overlap_tokens=0)
    >>> for c in chunk_passages([doc], cfg, tokenizer=RegexTokenizer()):
    ...     print(c.id, c.chunk, c.span, doc.text[c.span[0] : c.span[1]] == c.text)
    d1#0 0 (0, 69) True
    d1#1 1 (70, 104) True
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from hipporag.config import ChunkConfig, EmbeddingConfig
from hipporag.embedders.loading import check_hub_model, resolve_embedding_model
from hipporag.errors import InputError
from hipporag.log import get_logger
from hipporag.types import Passage
from indexers.chunk_bound import surely_fit

logger = get_logger(__name__)

MAX_UNCHUNKED_CHARS = 1_000_000
"""Whole passages longer than this are refused when chunking is off (spaCy's limit)."""

_SENTENCE_END = re.compile(r"[.!?。！？…]+[\"'”’)\]]*\s+|[。！？]+|\n\s*")
_TOKEN_RE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\uf900-\ufaff]|\w+|[^\w\s]")


class Tokenizer(Protocol):
    """What the chunker needs: token character offsets of a text."""

    def offsets(self, text: str) -> list[tuple[int, int]]: ...


class RegexTokenizer:
    """A model-free estimate: one token per word, punctuation mark or CJK character."""

    name = "regex"

    def offsets(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in _TOKEN_RE.finditer(text)]


class HFTokenizer:
    """A Hugging Face (fast) tokenizer, used for its offsets only."""

    def __init__(self, tok: Any, name: str) -> None:
        self.tok = tok
        self.name = name

    def offsets(self, text: str) -> list[tuple[int, int]]:
        enc = self.tok(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        return [(int(a), int(b)) for a, b in enc["offset_mapping"] if b > a]

    def n_special(self) -> int:
        return len(self.tok("", add_special_tokens=True)["input_ids"])


@dataclass
class Window:
    """The token budget of one chunk (before the title and prefix are taken off)."""

    tokens: int
    tokenizer: Tokenizer
    special: int = 0
    prefix: str = ""


@dataclass
class ChunkStats:
    """What :func:`chunk_passages_with_stats` did."""

    documents: int = 0
    chunked: int = 0
    chunks: int = 0
    truncated: int = 0
    duplicates: int = 0
    window_tokens: int = 0
    tokenizer: str = ""
    warnings: list[str] = field(default_factory=list)


def _max_seq_length(path: str, config: EmbeddingConfig, tok: Any) -> int:
    if config.max_seq_length:
        return int(config.max_seq_length)
    cfg = Path(path) / "sentence_bert_config.json"
    if cfg.is_file():
        try:
            value = json.loads(cfg.read_text(encoding="utf-8")).get("max_seq_length")
            if isinstance(value, int) and value > 0:
                return value
        except (OSError, ValueError):
            pass
    value = getattr(tok, "model_max_length", None)
    return int(value) if isinstance(value, int) and 0 < value <= 100_000 else 512


@lru_cache(maxsize=4)
def _load_window(config: EmbeddingConfig) -> Window:
    path = resolve_embedding_model(config.model)
    if os.path.isdir(path):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
    else:  # a hub name: fail in seconds when it cannot be fetched (embedding would fail too)
        check_hub_model(path)
    try:
        from transformers import AutoTokenizer
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
        tok = AutoTokenizer.from_pretrained(path)
        if not getattr(tok, "is_fast", False):
            raise ValueError("no fast tokenizer (offsets are needed)")
    except Exception as err:  # hub errors, missing files, no fast tokenizer
        logger.warning(
            "chunking: could not load the tokenizer of %r (%s: %s); windows are estimated "
            "from words instead",
            config.model,
            type(err).__name__,
            err,
        )
        return Window(config.max_seq_length or 256, RegexTokenizer(), 2, config.passage_prefix)
    hf = HFTokenizer(tok, config.model)
    return Window(_max_seq_length(path, config, tok), hf, hf.n_special(), config.passage_prefix)


def window_for(config: EmbeddingConfig | None) -> Window:
    """The token window of an embedding model (its tokenizer is loaded once per process)."""
    return _load_window(config or EmbeddingConfig())


def _sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of sentences (each includes its trailing whitespace)."""
    out, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        if m.end() > start:
            out.append((start, m.end()))
            start = m.end()
    if start < len(text):
        out.append((start, len(text)))
    return out


def _units(text: str, offsets: list[tuple[int, int]], budget: int) -> list[tuple[int, int, int]]:
    """Sentences as ``(char_start, char_end, n_tokens)``, long ones cut to ``budget`` tokens."""
    units: list[tuple[int, int, int]] = []
    t = 0
    for s, e in _sentences(text):
        first = t
        while t < len(offsets) and offsets[t][0] < e:
            t += 1
        n = t - first
        if n <= budget:
            units.append((s, e, n))
            continue
        for a in range(first, t, budget):
            b = min(a + budget, t)
            cs = s if a == first else offsets[a][0]
            ce = e if b == t else offsets[b][0]
            units.append((cs, ce, b - a))
    return units


def _windows(units: list[tuple[int, int, int]], budget: int, overlap: int) -> list[tuple[int, int]]:
    """Greedy packing of units into ``[i, j)`` ranges of at most ``budget`` tokens."""
    out: list[tuple[int, int]] = []
    i = 0
    while i < len(units):
        j, used = i, 0
        while j < len(units) and (j == i or used + units[j][2] <= budget):
            used += units[j][2]
            j += 1
        out.append((i, j))
        if j >= len(units):
            break
        back, k = 0, j
        while k - 1 > i and back + units[k - 1][2] <= overlap:
            k -= 1
            back += units[k][2]
        i = k
    return out


def _strip_span(text: str, s: int, e: int) -> tuple[int, int]:
    while s < e and text[s].isspace():
        s += 1
    while e > s and text[e - 1].isspace():
        e -= 1
    return s, e


def split_document(p: Passage, window: Window, config: ChunkConfig) -> list[Passage]:
    """One document as chunks (``[p]`` itself when it fits one window)."""
    tok = window.tokenizer
    max_tokens = config.max_tokens or window.tokens
    head = len(tok.offsets(p.title)) + 1 if p.title else 0
    head += len(tok.offsets(window.prefix)) if window.prefix else 0
    budget = max(16, min(max_tokens, window.tokens - window.special) - head)
    offsets = tok.offsets(p.text)
    if len(offsets) <= budget:
        return [p]
    units = _units(p.text, offsets, budget)
    out = []
    doc = p.document
    for i, j in _windows(units, budget, config.overlap_tokens):
        s, e = _strip_span(p.text, units[i][0], units[j - 1][1])
        if e <= s:
            continue
        n = len(out)
        out.append(replace(p, id=f"{doc}#{n}", text=p.text[s:e], doc_id=doc, chunk=n, span=(s, e)))
    return out


def _word_windows(p: Passage, config: ChunkConfig) -> list[Passage]:
    words = list(re.finditer(r"\S+", p.text))
    if len(words) <= config.max_words:
        return [p]
    step = config.max_words - config.overlap_words
    out = []
    for start in range(0, len(words), step):
        piece = words[start : start + config.max_words]
        s, e = piece[0].start(), piece[-1].end()
        out.append(
            replace(
                p,
                id=f"{p.document}#{len(out)}",
                text=p.text[s:e],
                doc_id=p.document,
                chunk=len(out),
                span=(s, e),
            )
        )
        if start + config.max_words >= len(words):
            break
    return out


def _check_collision(first: Passage, piece: Passage) -> None:
    """Two inputs with one passage id must be the same passage (else one would be lost)."""
    if (first.document, first.text, first.title) != (piece.document, piece.text, piece.title):
        raise InputError(
            f"passage id {piece.id!r:.60} is used twice with different text (documents "
            f"{first.document!r:.60} and {piece.document!r:.60}); a chunk of a long "
            "document is named DOC#N",
            hint="rename the document whose id looks like another document's chunk id "
            "(ids ending in #N), or merge the two records",
        )


def chunk_passages_with_stats(
    passages: Sequence[Passage],
    config: ChunkConfig,
    embedding: EmbeddingConfig | None = None,
    *,
    tokenizer: Tokenizer | None = None,
) -> tuple[list[Passage], ChunkStats]:
    """:func:`chunk_passages`, also returning what it did (see :class:`ChunkStats`)."""
    stats = ChunkStats(documents=len(passages))
    if config.max_words > 0:
        split = lambda p: _word_windows(p, config)  # noqa: E731
        stats.tokenizer = "words"
    elif tokenizer is None and (fits := surely_fit(passages, config, embedding)) is not None:
        split = lambda p: [p]  # noqa: E731
        stats.window_tokens = fits
        stats.tokenizer = "not needed (every passage is shorter than the window)"
    else:
        window = (
            window_for(embedding)
            if tokenizer is None
            else Window(
                (embedding.max_seq_length if embedding else None) or config.max_tokens or 256,
                tokenizer,
            )
        )
        stats.window_tokens = config.max_tokens or window.tokens
        stats.tokenizer = getattr(window.tokenizer, "name", type(window.tokenizer).__name__)
        split = lambda p: split_document(p, window, config)  # noqa: E731
    out: list[Passage] = []
    seen: dict[str, Passage] = {}
    for p in passages:
        if not config.enabled:
            pieces = [p]
            if len(p.text) > MAX_UNCHUNKED_CHARS:
                raise InputError(
                    f"passage {p.id!r:.60} has {len(p.text)} characters, more than "
                    f"{MAX_UNCHUNKED_CHARS} (chunking is off)",
                    hint="turn chunking on (chunking.enabled = true) or split the document",
                )
            if len(split(p)) > 1:
                stats.truncated += 1
        else:
            pieces = split(p)
            if len(pieces) > 1:
                stats.chunked += 1
        for piece in pieces:
            # Repeats are kept: the change pipeline drops them and reports how many.
            first = seen.get(piece.id)
            if first is not None:
                _check_collision(first, piece)
                stats.duplicates += 1
            seen[piece.id] = piece
            out.append(piece)
    stats.chunks = len(seen)
    if stats.truncated:
        msg = (
            f"chunking is off: {stats.truncated} of {stats.documents} passages are longer "
            f"than the embedder's window ({stats.window_tokens} tokens) and will be truncated "
            "when embedded; turn chunking on (chunking.enabled = true) to index all their text"
        )
        stats.warnings.append(msg)
        logger.warning(msg)
    return out, stats


def chunk_passages(
    passages: Sequence[Passage],
    config: ChunkConfig,
    embedding: EmbeddingConfig | None = None,
    *,
    tokenizer: Tokenizer | None = None,
) -> list[Passage]:
    """Split documents longer than the embedder's window into chunks.

    Args:
        passages: whole documents (from :mod:`indexers.readers`) or passages.
        config: ``IndexConfig.chunking``.
        embedding: ``IndexConfig.embedding``; its tokenizer and ``max_seq_length``
            size the windows (default: the default embedding model).
        tokenizer: overrides the model's tokenizer (e.g. :class:`RegexTokenizer`).

    Raises:
        InputError: chunking is off and a passage is over ``MAX_UNCHUNKED_CHARS``.
    """
    return chunk_passages_with_stats(passages, config, embedding, tokenizer=tokenizer)[0]


__all__ = [
    "MAX_UNCHUNKED_CHARS",
    "ChunkStats",
    "HFTokenizer",
    "RegexTokenizer",
    "Tokenizer",
    "Window",
    "chunk_passages",
    "chunk_passages_with_stats",
    "split_document",
    "window_for",
]
