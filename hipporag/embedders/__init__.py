"""Embedders: the one factory and cache, used by every path (build, jobs, insert, query).

``make_embedder(config)`` builds the embedder named by
:class:`~hipporag.config.EmbeddingConfig`; :func:`cached_embedder` returns one
shared instance per (config, backend, device) and process, so a model loads
once. One job per module:

* :mod:`~hipporag.embedders.device`: device, precision and batch-size choice;
* :mod:`~hipporag.embedders.loading`: locating and loading sentence-transformers models;
* :mod:`~hipporag.embedders.torch_backend`: the torch backend (CPU, CUDA, MPS; fp16);
* :mod:`~hipporag.embedders.onnx_runner`: onnxruntime tokenise/run/pool engine;
* :mod:`~hipporag.embedders.onnx_export`: export (and int8 quantisation) with a disk cache;
* :mod:`~hipporag.embedders.onnx_backend`: the ONNX backend (fp32 or int8).

Backends:

* ``"torch"``: sentence-transformers;
* ``"onnx"`` / ``"onnx-int8"``: onnxruntime (:class:`ConfigError` when it is missing);
* ``"auto"``: on a GPU, torch; on a CPU, ONNX when onnxruntime and onnx
  import (measured faster there, docs/benchmarks.md), else torch; a model
  the ONNX backend cannot reproduce falls back to torch.

The float32 backends give the same vectors (cosine >= 0.99999), so an index
built with one can be queried with the other. Every embedder's ``to_dict()``
says what ran (``backend``, ``device``, ``dtype``); the index's meta.json
records it.

Example:
    >>> from hipporag.config import EmbeddingConfig
    >>> type(make_embedder(EmbeddingConfig(backend="torch", device="cpu"))).__name__
    'SentenceTransformerEmbedder'
    >>> cfg = EmbeddingConfig(device="cpu")
    >>> cached_embedder(cfg) is cached_embedder(cfg)
    True
"""

from __future__ import annotations

import dataclasses
import threading

from hipporag.config import EmbeddingConfig
from hipporag.embedders.device import is_gpu, resolve_device
from hipporag.errors import ConfigError
from hipporag.protocols import Embedder

_CACHE: dict[tuple[EmbeddingConfig, str | None], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def onnx_available() -> bool:
    """True when the ONNX backend's libraries (onnxruntime, onnx, tokenizers) are installed.

    onnx is looked up, not imported (that takes seconds; it is needed only to
    export a model, when the backend loads).
    """
    from hipporag.embedders.onnx_runner import require_onnxruntime

    try:
        require_onnxruntime(load=False)
    except ConfigError:
        return False
    return True


def choose_backend(backend: str, device: str) -> str:
    """The backend ``"auto"`` stands for on a resolved ``device`` (others unchanged).

    Example:
        >>> choose_backend("auto", "cuda:0"), choose_backend("onnx", "cpu")
        ('torch', 'onnx')
    """
    if backend != "auto":
        return backend
    if is_gpu(device):
        return "torch"
    return "onnx" if onnx_available() else "torch"


def make_embedder(
    config: EmbeddingConfig | None = None,
    *,
    backend: str | None = None,
    device: str | None = None,
) -> Embedder:
    """A new embedder for ``config`` (default config: the default backend and device).

    Args:
        config: the embedding section of an index config.
        backend: overrides ``config.backend`` (e.g. a query backend).
        device: overrides ``config.device`` (e.g. a query device).

    Raises:
        ConfigError: an explicit device that is not there, or a backend whose
            libraries are missing.
    """
    config = config or EmbeddingConfig()
    if backend is not None and backend != config.backend:
        config = dataclasses.replace(config, backend=backend)
    resolved = resolve_device(device or config.device)
    chosen = choose_backend(config.backend, resolved)
    if chosen in ("onnx", "onnx-int8"):
        from hipporag.embedders.onnx_backend import OnnxEmbedder

        return OnnxEmbedder(
            config,
            device=device,
            quantize=chosen == "onnx-int8",
            fallback=config.backend == "auto",
        )
    from hipporag.embedders.torch_backend import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(config, device=device)


def cached_embedder(
    config: EmbeddingConfig | None = None,
    *,
    backend: str | None = None,
    device: str | None = None,
) -> Embedder:
    """The shared embedder for (config, backend, device) in this process: models load once.

    ``backend`` / ``device`` of ``None`` or ``"index"`` keep the config's own.
    """
    config = config or EmbeddingConfig()
    if backend not in (None, "index") and backend != config.backend:
        config = dataclasses.replace(config, backend=backend)
    dev = None if device in (None, "index") else device
    key = (config, dev)
    with _CACHE_LOCK:
        emb = _CACHE.get(key)
        if emb is None:
            emb = _CACHE[key] = make_embedder(config, device=dev)
        return emb


def clear_cache() -> None:
    """Forget the shared embedders (their models are freed when unreferenced)."""
    with _CACHE_LOCK:
        _CACHE.clear()


__all__ = ["cached_embedder", "choose_backend", "clear_cache", "make_embedder", "onnx_available"]
