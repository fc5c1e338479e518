"""A cross-encoder reranker: one relevance score per (query, passage) pair.

Any sentence-transformers ``CrossEncoder`` works: a hub name (needs network
the first time) or a local folder (loaded offline). The model loads once per
process and model/device (:func:`cross_encoder`).

Example:
    >>> class Fake:  # anything with predict(pairs, batch_size=...) -> scores
    ...     def predict(self, pairs, batch_size=32, show_progress_bar=False):
    ...         return [len(text) for _, text in pairs]
    >>> r = CrossEncoderReranker("fake", model=Fake())
    >>> r.scores("q", ["short", "a longer passage"]).tolist()
    [5.0, 16.0]
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from hipporag.errors import ConfigError

_MODELS: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def cross_encoder(name: str, device: str = "cpu") -> Any:
    """The ``CrossEncoder`` named ``name`` on ``device`` (loaded once per process).

    Raises:
        ConfigError: The model cannot be loaded (with how to fix it).
    """
    key = (name, device)
    with _LOCK:
        found = _MODELS.get(key)
        if found is not None:
            return found
        if os.path.isdir(name):
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            from sentence_transformers import CrossEncoder

            resolved = None if device == "auto" else device
            found = CrossEncoder(name, device=resolved)
        except Exception as err:  # the library raises many types (OSError, HTTP errors)
            raise ConfigError(
                f"could not load cross-encoder {name!r}: {type(err).__name__}: {err}",
                hint="give a local CrossEncoder folder, or a hub name with network access",
            ) from err
        _MODELS[key] = found
        return found


class CrossEncoderReranker:
    """Scores each passage against the query with a cross-encoder; higher is better.

    Args:
        name: Model name or local path (shown in flags and ``to_dict``).
        device: Where it runs (``cpu`` by default).
        batch_size: Pairs per forward pass.
        model: An already loaded model (else :func:`cross_encoder` loads ``name``).
    """

    kind = "cross-encoder"

    def __init__(
        self, name: str, *, device: str = "cpu", batch_size: int = 32, model: Any = None
    ) -> None:
        self.name = name
        self.device = device
        self.batch_size = batch_size
        self._model = model

    @property
    def model(self) -> Any:
        if self._model is None:
            self._model = cross_encoder(self.name, self.device)
        return self._model

    def scores(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """One score per text, in order (float64)."""
        if not texts:
            return np.zeros(0)
        pairs = [(query, t) for t in texts]
        out = self.model.predict(pairs, batch_size=self.batch_size, show_progress_bar=False)
        return np.asarray(out, dtype=np.float64).reshape(len(texts))

    def order(self, query: str, texts: Sequence[str]) -> tuple[list[int], list[float] | None]:
        """Positions of ``texts`` best first (stable on ties), and their scores."""
        s = self.scores(query, texts)
        order = np.argsort(-s, kind="stable")
        return [int(i) for i in order], [float(s[i]) for i in order]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "model": self.name, "device": self.device}


__all__ = ["CrossEncoderReranker", "cross_encoder"]
