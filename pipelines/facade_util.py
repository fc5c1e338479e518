"""Helpers of the :class:`~pipelines.facade.HippoRAG` facade: embedders, corpora, configs.

Example:
    >>> _merge(None, {"mode": "dense"}).mode
    'dense'
    >>> _combine([3, 1, 3], None).tolist()
    [1, 3]
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from hipporag.config import EmbeddingConfig
from hipporag.errors import ConfigError, InputError
from hipporag.protocols import Embedder
from hipporag.types import Passage
from retrievers.config import RetrievalConfig


def shared_embedder(
    config: EmbeddingConfig, backend: str = "index", device: str = "index"
) -> Embedder:
    """One embedder per embedding config, backend and device and process (models load once).

    ``backend`` / ``device`` other than ``"index"`` replace the config's (query
    encoding only). The cache is :func:`hipporag.embedders.cached_embedder`'s.
    """
    from hipporag.embedders import cached_embedder

    return cached_embedder(config, backend=backend, device=device)


def _passages(corpus: Any, metadata_fields: Sequence[str] = ()) -> tuple[list[Passage], Any]:
    """Passages (and read stats) from a corpus path or a list of passages/records/strings."""
    from indexers.readers import passages_from_records, read_corpus

    if isinstance(corpus, str | bytes | os.PathLike):
        return read_corpus(corpus, metadata_fields=metadata_fields)
    if isinstance(corpus, Sequence):
        if corpus and all(isinstance(p, Passage) for p in corpus):
            return list(corpus), None
        return passages_from_records(corpus, metadata_fields=metadata_fields)
    raise InputError(
        f"corpus must be a path or a list of passages, got {type(corpus).__name__}",
        hint='pass "corpus.json" or [{"title": ..., "text": ...}, ...]',
    )


def _merge(config: RetrievalConfig | None, overrides: Mapping[str, Any]) -> RetrievalConfig:
    if config is not None and not isinstance(config, RetrievalConfig):
        raise ConfigError(
            f"config must be a RetrievalConfig, got {type(config).__name__}",
            hint="build one with RetrievalConfig(...) or RetrievalConfig.from_dict({...})",
        )
    base = config or RetrievalConfig()
    if not overrides:
        return base
    return RetrievalConfig.from_dict({**base.to_dict(), **dict(overrides)})


def _combine(allow: Any, filtered: np.ndarray | None) -> np.ndarray | None:
    """The passages in both an explicit allow-list and a filter's (None stands for all)."""
    if allow is None:
        return filtered
    arr = np.unique(np.asarray(allow, dtype=np.int64))
    return arr if filtered is None else np.intersect1d(arr, filtered, assume_unique=True)


__all__ = ["_combine", "_merge", "_passages", "shared_embedder"]
