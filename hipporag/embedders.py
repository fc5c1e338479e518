"""Pick the embedding backend named by :attr:`EmbeddingConfig.backend`.

* ``"torch"``: :class:`~hipporag.embedding.SentenceTransformerEmbedder`;
* ``"onnx"``: :class:`~hipporag.embedding_onnx.OnnxEmbedder` (raises
  :class:`~hipporag.errors.ConfigError` when onnxruntime or onnx is missing);
* ``"auto"``: ONNX when onnxruntime and onnx import, else torch; a model the
  ONNX backend cannot reproduce falls back to torch too.

Both give the same vectors (cosine >= 0.99999), so an index built with one
backend can be queried with the other.

Example:
    >>> from hipporag.config import EmbeddingConfig
    >>> type(make_embedder(EmbeddingConfig(backend="torch"))).__name__
    'SentenceTransformerEmbedder'
"""

from __future__ import annotations

from hipporag.config import EmbeddingConfig
from hipporag.errors import ConfigError
from hipporag.protocols import Embedder


def onnx_available() -> bool:
    """True when the ONNX backend's libraries (onnxruntime, onnx, tokenizers) import."""
    from hipporag.embedding_onnx import require_onnxruntime

    try:
        require_onnxruntime()
    except ConfigError:
        return False
    return True


def make_embedder(config: EmbeddingConfig | None = None) -> Embedder:
    """The embedder for ``config`` (default config: the default backend)."""
    config = config or EmbeddingConfig()
    backend = config.backend
    if backend == "auto":
        backend = "onnx" if onnx_available() else "torch"
    if backend == "onnx":
        from hipporag.embedding_onnx import OnnxEmbedder

        return OnnxEmbedder(config, fallback=config.backend == "auto")
    from hipporag.embedding import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(config)


__all__ = ["make_embedder", "onnx_available"]
