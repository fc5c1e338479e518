"""An optional rerank stage after retrieval: a cross-encoder or a listwise LLM.

Configured by the ``[rerank]`` section (:class:`RerankConfig`, a field of
:class:`~retrievers.config.RetrievalConfig`); off by default. The facade
retrieves ``max(k, top_n)`` candidates with any mode and reorders the first
``top_n`` with :func:`rerank_result`.

Example:
    >>> make_reranker(RerankConfig()) is None  # off unless configured
    True
"""

from retrievers.rerank.config import RERANK_KINDS, RerankConfig
from retrievers.rerank.stage import make_reranker, rerank_result

__all__ = ["RERANK_KINDS", "RerankConfig", "make_reranker", "rerank_result"]
