"""The default :class:`~hipporag.protocols.Embedder`: sentence-transformers.

Example:
    >>> emb = SentenceTransformerEmbedder()          # all-MiniLM-L6-v2, offline
    >>> vecs = emb.encode(["Paris is in France."])
    >>> vecs.shape
    (1, 384)
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from hipporag.config import EmbeddingConfig


class SentenceTransformerEmbedder:
    """Unit-norm float32 embeddings from a sentence-transformers model.

    The model loads lazily on first use (or :meth:`warm_up`). Objects pickle
    as their config only, so they are cheap to send to Ray workers.

    Args:
        config: model name/path, batch size, device, optional prefixes.
    """

    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        self.config = config or EmbeddingConfig()
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.config.model

    @property
    def dim(self) -> int:
        self.warm_up()
        getter = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        return int(getter())

    def warm_up(self) -> None:
        if self._model is not None:
            return
        with self._lock:
            if self._model is None:
                from hipporag.models import load_sentence_transformer

                model = load_sentence_transformer(self.config.model, self.config.device)
                if self.config.max_seq_length:
                    model.max_seq_length = self.config.max_seq_length
                self._model = model

    def encode(
        self, texts: Sequence[str], *, is_query: bool = False, batch_size: int | None = None
    ) -> np.ndarray:
        """Encode texts; returns ``(len(texts), dim)`` float32, rows L2-normalised."""
        self.warm_up()
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self.config.query_prefix if is_query else self.config.passage_prefix
        items = [prefix + t for t in texts] if prefix else list(texts)
        vecs = self._model.encode(
            items,
            batch_size=batch_size or self.config.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vecs, dtype=np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "sentence-transformers", **self.config.to_dict()}

    def __getstate__(self) -> dict[str, Any]:
        return {"config": self.config}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["config"])  # type: ignore[misc]


__all__ = ["SentenceTransformerEmbedder"]
