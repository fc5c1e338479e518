"""When chunking needs no tokenizer: every passage surely shorter than the window.

Loading the embedding model's tokenizer costs seconds (``transformers``);
an ``index`` or ``add`` of a few short records should not pay it. A subword
tokenizer makes at most one token per UTF-8 byte plus one per word, so a
passage whose bound (with its title, the passage prefix and a margin for
special tokens) is within the model's window needs no chunking.

Example:
    >>> from hipporag.config import ChunkConfig
    >>> from hipporag.types import Passage
    >>> surely_fit([Passage.from_text("T", "Paris is in France.")], ChunkConfig(), None)
    256
    >>> surely_fit([Passage.from_text("T", "word " * 300)], ChunkConfig(), None) is None
    True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from hipporag.config import ChunkConfig, EmbeddingConfig
from hipporag.embedders.loading import resolve_embedding_model
from hipporag.types import Passage

_SPECIAL_MARGIN = 8
"""Special tokens assumed when the tokenizer is not loaded (BERT adds 2)."""


def _known_seq_length(config: EmbeddingConfig) -> int | None:
    """The model's window from the config or ``sentence_bert_config.json`` (no tokenizer)."""
    if config.max_seq_length:
        return int(config.max_seq_length)
    path = resolve_embedding_model(config.model)
    cfg = Path(path) / "sentence_bert_config.json"
    try:
        value = json.loads(cfg.read_text(encoding="utf-8")).get("max_seq_length")
    except (OSError, ValueError):
        return None
    return value if isinstance(value, int) and value > 0 else None


def _token_bound(text: str) -> int:
    """More tokens than any subword tokenizer makes of ``text`` (bytes plus words).

    Example:
        >>> _token_bound("Paris is in France.")
        23
    """
    return len(text.encode("utf-8")) + len(text.split())


def surely_fit(
    passages: Sequence[Passage], config: ChunkConfig, embedding: EmbeddingConfig | None
) -> int | None:
    """The window when every passage surely fits it without loading a tokenizer, else None."""
    emb = embedding or EmbeddingConfig()
    window = _known_seq_length(emb)
    if window is None:
        return None
    budget = min(config.max_tokens or window, window - _SPECIAL_MARGIN)
    prefix = _token_bound(emb.passage_prefix) if emb.passage_prefix else 0
    for p in passages:
        head = _token_bound(p.title) + 1 if p.title else 0
        if _token_bound(p.text) + head + prefix > budget:
            return None
    return config.max_tokens or window


__all__ = ["surely_fit"]
