"""Tokenize, run and pool with onnxruntime: the engine of the ONNX backend (no torch).

:class:`OnnxRunner` reproduces sentence-transformers' pooling, its
``max_seq_length`` truncation and its L2 normalisation on the output of an
exported transformer (see :mod:`hipporag.embedders.onnx_export`).

Texts are batched by a token budget rather than a row count: after sorting by
token length, each batch holds as many texts as fit in ``token_budget`` padded
tokens, so short entity names go in batches of a thousand and long passages in
batches of a few dozen.

Example:
    >>> [b.tolist() for b in token_batches(np.array([3, 1, 2, 8]), budget=8)]
    [[1, 2], [0], [3]]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from hipporag.errors import ConfigError

DEFAULT_TOKEN_BUDGET = 2048
MAX_ROWS = 2048


def require_onnxruntime(*, load: bool = True) -> None:
    """Import onnxruntime, onnx and tokenizers, or raise a :class:`ConfigError` saying how to get them.

    ``load=False`` only looks onnx up (importing it takes seconds; it is needed
    only to export a model, when the embedder loads).
    """
    try:
        import tokenizers  # noqa: F401

        from hipporag.embedders.ort_quiet import import_onnxruntime

        import_onnxruntime()
        if not load:
            import importlib.util

            if importlib.util.find_spec("onnx") is None:
                raise ImportError("No module named 'onnx'")
            return
        import onnx  # noqa: F401  (needed to export and fuse)
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
        device: ``"cpu"`` or a resolved ``"cuda:N"`` (onnxruntime's CUDA provider).

    Raises:
        ConfigError: a CUDA device, but this onnxruntime has no CUDA provider.
    """

    def __init__(
        self,
        model: str | os.PathLike[str],
        tokenizer: str | os.PathLike[str],
        settings: dict[str, Any],
        *,
        threads: int | None = None,
        max_seq_length: int | None = None,
        device: str = "cpu",
    ) -> None:
        from tokenizers import Tokenizer

        from hipporag.embedders.ort_quiet import import_onnxruntime

        ort = import_onnxruntime()

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
        providers: list[Any] = ["CPUExecutionProvider"]
        if device.startswith("cuda"):
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ConfigError(
                    f"embedding.backend = 'onnx' on {device}, but this onnxruntime has no "
                    "CUDA provider",
                    hint="pip install onnxruntime-gpu, or use backend = 'torch' (or 'auto') "
                    "on GPUs",
                )
            idx = int(device.split(":")[1]) if ":" in device else 0
            providers = [("CUDAExecutionProvider", {"device_id": idx}), "CPUExecutionProvider"]
        elif device != "cpu":
            raise ConfigError(
                f"the onnx embedding backend runs on the CPU or CUDA, not {device!r}",
                hint="use backend = 'torch' on this device",
            )
        self.device = device
        self.session = ort.InferenceSession(str(model), so, providers=providers)
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


__all__ = ["DEFAULT_TOKEN_BUDGET", "MAX_ROWS", "OnnxRunner", "require_onnxruntime", "token_batches"]
