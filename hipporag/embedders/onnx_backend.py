"""The ONNX backend: sentence-transformers' vectors from onnxruntime, faster on a CPU.

:class:`OnnxEmbedder` runs the model exported by
:mod:`hipporag.embedders.onnx_export` (cached on disk; exported on first use)
with onnxruntime and the model's own fast tokenizer. In float32 the vectors
agree with the torch backend to cosine >= 0.99999. ``quantize=True`` (backend
``"onnx-int8"``) runs a copy whose weights are dynamically quantised to int8:
smaller and faster, at a small cost in accuracy (see docs/benchmarks.md).
Using a cached export needs neither torch nor sentence-transformers in the
process.

Example:
    >>> from hipporag.config import EmbeddingConfig
    >>> emb = OnnxEmbedder(EmbeddingConfig(device="cpu"))   # all-MiniLM-L6-v2
    >>> emb.to_dict()["backend"], emb.to_dict()["device"]
    ('onnx', 'cpu')
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.config import EmbeddingConfig
from hipporag.embedders.device import default_batch_size, resolve_device
from hipporag.embedders.device import token_budget as device_token_budget
from hipporag.embedders.onnx_export import ensure_artifact
from hipporag.embedders.onnx_runner import OnnxRunner, require_onnxruntime
from hipporag.errors import ConfigError


class OnnxEmbedder:
    """Unit-norm float32 embeddings from a sentence-transformers model, run by onnxruntime.

    The export is loaded (or made, once, into ``cache_dir``) lazily on first
    use or :meth:`warm_up`. Objects pickle as their settings only.

    Args:
        config: model name/path, prefixes, device, ``max_seq_length`` override.
        device: overrides ``config.device``.
        cache_dir: where exports are kept (default
            :func:`hipporag.embedders.onnx_export.default_cache_dir`).
        threads: onnxruntime intra-op threads (default: all usable CPUs).
        token_budget: padded tokens per batch (default: by device).
        quantize: run the int8 dynamically quantised copy of the export.
        fallback: on a model the onnx backend cannot reproduce, use the torch
            backend instead of raising (what ``backend = "auto"`` does).

    Raises:
        ConfigError: onnxruntime, onnx or tokenizers is not installed, or the
            device is not available.
    """

    def __init__(
        self,
        config: EmbeddingConfig | None = None,
        *,
        device: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        token_budget: int | None = None,
        quantize: bool = False,
        fallback: bool = False,
    ) -> None:
        require_onnxruntime(load=False)
        self.config = config or EmbeddingConfig()
        self._device_spec = device
        self.device = resolve_device(device or self.config.device)
        self.cache_dir = str(cache_dir) if cache_dir is not None else None
        self.threads = threads
        self._token_budget = token_budget
        self.token_budget = int(token_budget or device_token_budget(self.device))
        self.max_rows = self.config.batch_size or default_batch_size("onnx", self.device)
        self.quantize = quantize
        self.fallback = fallback
        self.artifact_path: Path | None = None
        self._runner: OnnxRunner | None = None
        self._delegate: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self.config.model

    @property
    def dim(self) -> int:
        self.warm_up()
        if self._delegate is not None:
            return int(self._delegate.dim)
        assert self._runner is not None
        return int(self._runner.settings["dim"])

    def warm_up(self) -> None:
        if self._runner is not None or self._delegate is not None:
            return
        with self._lock:
            if self._runner is not None or self._delegate is not None:
                return
            try:
                require_onnxruntime()
                art = ensure_artifact(self.config.model, self.cache_dir, quantize=self.quantize)
            except ConfigError:
                if not self.fallback:
                    raise
                from hipporag.embedders.torch_backend import SentenceTransformerEmbedder

                self._delegate = SentenceTransformerEmbedder(self.config, device=self._device_spec)
                return
            self.artifact_path = art.path
            self._runner = OnnxRunner(
                art.model_file,
                art.tokenizer_file,
                art.settings,
                threads=self.threads,
                max_seq_length=self.config.max_seq_length,
                device=self.device,
            )

    def encode(
        self, texts: Sequence[str], *, is_query: bool = False, batch_size: int | None = None
    ) -> np.ndarray:
        """Encode texts; returns ``(len(texts), dim)`` float32, rows L2-normalised.

        ``batch_size`` caps the rows per batch (batches are sized by tokens).
        """
        self.warm_up()
        if self._delegate is not None:
            return self._delegate.encode(texts, is_query=is_query, batch_size=batch_size)
        runner = self._runner
        assert runner is not None
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = runner.settings.get("prompt", "") + (
            self.config.query_prefix if is_query else self.config.passage_prefix
        )
        items = [prefix + t for t in texts] if prefix else list(texts)
        return runner.embed(
            items, token_budget=self.token_budget, max_rows=batch_size or self.max_rows
        )

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query (with ``query_prefix``); returns a ``(dim,)`` float32 unit vector."""
        return self.encode([text], is_query=True)[0]

    def to_dict(self) -> dict[str, Any]:
        """The config plus what actually runs: ``backend``, ``device``, ``dtype``, ``batch_size``."""
        if self._delegate is not None:
            return self._delegate.to_dict()
        return {
            "kind": "onnx",
            **self.config.to_dict(),
            "backend": "onnx-int8" if self.quantize else "onnx",
            "device": self.device,
            "dtype": "int8" if self.quantize else "float32",
            "batch_size": self.max_rows,
        }

    def __getstate__(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "device": self._device_spec,
            "cache_dir": self.cache_dir,
            "threads": self.threads,
            "token_budget": self._token_budget,
            "quantize": self.quantize,
            "fallback": self.fallback,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state.pop("config"), **state)  # type: ignore[misc]


__all__ = ["OnnxEmbedder"]
