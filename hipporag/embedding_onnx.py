"""An :class:`~hipporag.protocols.Embedder` on ONNX Runtime: sentence-transformers' vectors, faster.

:class:`OnnxEmbedder` runs the model exported by :mod:`hipporag.onnx_export`
(cached on disk; exported on first use) with onnxruntime and the model's own
fast tokenizer, and reproduces the pooling, the ``max_seq_length`` truncation
and the L2 normalisation of sentence-transformers: the vectors agree with
:class:`~hipporag.embedding.SentenceTransformerEmbedder` to cosine >= 0.99999.

Texts are batched by a token budget rather than a row count: after sorting by
token length, each batch holds as many texts as fit in ``token_budget`` padded
tokens, so short entity names go in batches of a thousand and long passages in
batches of a few dozen. Using a cached export needs neither torch nor
sentence-transformers in the process.

Example:
    >>> from hipporag.config import EmbeddingConfig
    >>> emb = OnnxEmbedder(EmbeddingConfig())                 # all-MiniLM-L6-v2
    >>> emb.encode(["Paris is in France."]).shape             # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.config import EmbeddingConfig
from hipporag.errors import ConfigError

DEFAULT_TOKEN_BUDGET = 2048
MAX_ROWS = 2048


def require_onnxruntime() -> None:
    """Import onnxruntime, onnx and tokenizers, or raise a :class:`ConfigError` saying how to get them."""
    try:
        import onnx  # noqa: F401  (needed to export and fuse)
        import onnxruntime  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as err:
        raise ConfigError(
            f"the onnx embedding backend needs onnxruntime and onnx ({err})",
            hint="pip install 'onnxruntime>=1.18' 'onnx>=1.16', or set embedding.backend = 'torch'",
        ) from err


def token_batches(lengths: np.ndarray, budget: int, max_rows: int = MAX_ROWS) -> list[np.ndarray]:
    """Split indices, sorted by length, into batches of at most ``budget`` padded tokens.

    Example:
        >>> [b.tolist() for b in token_batches(np.array([3, 1, 2, 8]), budget=8)]
        [[1, 2], [0], [3]]
    """
    order = np.argsort(lengths, kind="stable")
    sorted_len = np.maximum(lengths[order], 1)
    out: list[np.ndarray] = []
    s, n = 0, len(order)
    while s < n:
        # rows s..e-1 fit when (e - s) * sorted_len[e - 1] <= budget (lengths ascend)
        e = s + 1
        limit = min(n, s + max_rows)
        while e < limit and (e + 1 - s) * sorted_len[e] <= budget:
            e += 1
        out.append(order[s:e])
        s = e
    return out


class OnnxRunner:
    """Tokenize, run and pool with one onnxruntime session (no torch involved).

    Args:
        model: path of the ``.onnx`` file.
        tokenizer: path of the ``tokenizer.json`` file.
        settings: the export's settings (pooling, max_seq_length, pad_id, inputs).
        threads: onnxruntime intra-op threads (default: the CPUs this process may use).
        max_seq_length: overrides ``settings["max_seq_length"]``.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        tokenizer: str | os.PathLike[str],
        settings: dict[str, Any],
        *,
        threads: int | None = None,
        max_seq_length: int | None = None,
    ) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.settings = settings
        self.pooling: str = settings["pooling"]
        self.max_len = int(max_seq_length or settings["max_seq_length"])
        self.tokenizer = Tokenizer.from_file(str(tokenizer))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(
            self.max_len, direction=settings.get("truncation_side", "right")
        )
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = threads or len(os.sched_getaffinity(0))
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        # Spinning workers burn CPU between small batches; on a shared machine that hurts.
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        # Without the arena, memory of the largest batch goes back to the OS afterwards
        # (same peak, lower RSS for the stages that follow; no measurable slowdown).
        so.enable_cpu_mem_arena = False
        self.session = ort.InferenceSession(str(model), so, providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, truncated to the maximum sequence length."""
        if self.settings.get("lowercase"):
            texts = [t.lower() for t in texts]
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def embed(
        self,
        texts: Sequence[str],
        *,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        max_rows: int = MAX_ROWS,
    ) -> np.ndarray:
        """Unit-norm float32 embeddings, ``(len(texts), dim)``, in input order."""
        ids = self.tokenize(texts)
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        out = np.empty((len(ids), int(self.settings["dim"])), dtype=np.float32)
        pad = int(self.settings.get("pad_id", 0))
        for idx in token_batches(lengths, token_budget, max_rows):
            lens = lengths[idx]
            width = int(lens.max())
            mask = (np.arange(width)[None, :] < lens[:, None]).astype(np.int64)
            tokens = np.full((len(idx), width), pad, dtype=np.int64)
            tokens[mask.astype(bool)] = np.fromiter(
                (t for i in idx for t in ids[i]), dtype=np.int64, count=int(lens.sum())
            )
            feed = {
                "input_ids": tokens,
                "attention_mask": mask,
                "token_type_ids": np.zeros_like(tokens),
            }
            hidden = self.session.run(None, {k: feed[k] for k in self.inputs})[0]
            out[idx] = self._pool(hidden, mask, lens)
        return out

    def _pool(self, hidden: np.ndarray, mask: np.ndarray, lens: np.ndarray) -> np.ndarray:
        """The sentence-transformers pooling, then L2 normalisation (eps 1e-12)."""
        m = mask.astype(np.float32)
        if self.pooling == "cls":
            v = hidden[:, 0]
        elif self.pooling == "lasttoken":
            v = hidden[np.arange(hidden.shape[0]), lens - 1]
        elif self.pooling == "max":
            v = np.where(m[..., None] > 0, hidden, np.float32(-1e9)).max(axis=1)
        else:
            summed = np.matmul(m[:, None, :], hidden)[:, 0, :]
            count = np.maximum(m.sum(axis=1, keepdims=True), 1e-9)
            v = summed / (np.sqrt(count) if self.pooling == "mean_sqrt_len_tokens" else count)
        v = v.astype(np.float32, copy=False)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


class OnnxEmbedder:
    """Unit-norm float32 embeddings from a sentence-transformers model, run by onnxruntime.

    The export is loaded (or made, once, into ``cache_dir``) lazily on first
    use or :meth:`warm_up`. Objects pickle as their settings only.

    Args:
        config: model name/path, prefixes, ``max_seq_length`` override.
        cache_dir: where exports are kept (default
            :func:`hipporag.onnx_export.default_cache_dir`).
        threads: onnxruntime intra-op threads (default: all usable CPUs).
        token_budget: padded tokens per batch.
        fallback: on a model the onnx backend cannot reproduce, use
            :class:`~hipporag.embedding.SentenceTransformerEmbedder` instead of
            raising (what ``backend = "auto"`` does).

    Raises:
        ConfigError: onnxruntime, onnx or tokenizers is not installed.
    """

    def __init__(
        self,
        config: EmbeddingConfig | None = None,
        *,
        cache_dir: str | os.PathLike[str] | None = None,
        threads: int | None = None,
        token_budget: int = DEFAULT_TOKEN_BUDGET,
        fallback: bool = False,
    ) -> None:
        require_onnxruntime()
        self.config = config or EmbeddingConfig()
        self.cache_dir = str(cache_dir) if cache_dir is not None else None
        self.threads = threads
        self.token_budget = int(token_budget)
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
            from hipporag.onnx_export import ensure_artifact

            try:
                art = ensure_artifact(self.config.model, self.cache_dir)
            except ConfigError:
                if not self.fallback:
                    raise
                from hipporag.embedding import SentenceTransformerEmbedder

                self._delegate = SentenceTransformerEmbedder(self.config)
                return
            self.artifact_path = art.path
            self._runner = OnnxRunner(
                art.model_file,
                art.tokenizer_file,
                art.settings,
                threads=self.threads,
                max_seq_length=self.config.max_seq_length,
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
        return runner.embed(items, token_budget=self.token_budget, max_rows=batch_size or MAX_ROWS)

    def encode_query(self, text: str) -> np.ndarray:
        """Encode one query (with ``query_prefix``); returns a ``(dim,)`` float32 unit vector."""
        return self.encode([text], is_query=True)[0]

    def to_dict(self) -> dict[str, Any]:
        if self._delegate is not None:
            return self._delegate.to_dict()
        return {"kind": "onnx", **self.config.to_dict()}

    def __getstate__(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "cache_dir": self.cache_dir,
            "threads": self.threads,
            "token_budget": self.token_budget,
            "fallback": self.fallback,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state.pop("config"), **state)  # type: ignore[misc]


__all__ = ["OnnxEmbedder", "OnnxRunner", "require_onnxruntime", "token_batches"]
