"""A LlamaIndex retriever over a HippoRAG index (extra: ``hipporag-toolkit[llamaindex]``).

:class:`HippoRAGRetriever` is a ``llama_index.core.retrievers.BaseRetriever``:
plug it into ``RetrieverQueryEngine`` or any LlamaIndex pipeline. Each hit
becomes a ``NodeWithScore`` holding a ``TextNode`` (``id_`` = passage id,
``text`` = passage text) with metadata ``passage_id``, ``title``, ``score``,
``rank``, ``explanation`` (a dict) and ``mode``. Only ``title`` is shown to the
LLM and the embedder; the other keys stay out of prompts.

Example:
    >>> from pipelines.facade import HippoRAG                         # doctest: +SKIP
    >>> from pipelines.adapters.llamaindex import HippoRAGRetriever   # doctest: +SKIP
    >>> retriever = HippoRAGRetriever(HippoRAG.open("my-index"), k=3)  # doctest: +SKIP
    >>> nodes = retriever.retrieve("Who directed the 1987 Golden Heron winner?")  # doctest: +SKIP
    >>> nodes[0].node.metadata["title"], nodes[0].score               # doctest: +SKIP
    ('Golden Heron Award', 0.41)
    >>> from llama_index.core.query_engine import RetrieverQueryEngine  # doctest: +SKIP
    >>> engine = RetrieverQueryEngine.from_args(retriever, llm=my_llm)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from pipelines.adapters import hit_metadata, missing_extra, run_retrieve

try:
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
except ImportError as _err:  # pragma: no cover - exercised with the extra missing
    raise missing_extra("LlamaIndex", "llamaindex", _err) from _err

_HIDDEN_FROM_LLM = ["passage_id", "score", "rank", "explanation", "mode"]


class HippoRAGRetriever(BaseRetriever):
    """LlamaIndex retriever returning HippoRAG's passages, in its order.

    Args:
        rag: a :class:`pipelines.facade.HippoRAG` (or any object with
            ``retrieve(query, k=..., mode=...) -> RetrievalResult``).
        k: passages per query.
        mode: retrieval mode passed to ``rag.retrieve`` (its default when None).
        **kwargs: passed to LlamaIndex's ``BaseRetriever`` (``callback_manager``, ``verbose``).
    """

    def __init__(self, rag: Any, k: int = 5, mode: str | None = None, **kwargs: Any) -> None:
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.rag = rag
        self.k = int(k)
        self.mode = mode
        super().__init__(**kwargs)

    @classmethod
    def from_index(
        cls, index_dir: str, *, k: int = 5, mode: str | None = None, **kwargs: Any
    ) -> HippoRAGRetriever:
        """Open an index directory with :class:`pipelines.facade.HippoRAG` and wrap it."""
        from pipelines.facade import HippoRAG

        return cls(HippoRAG.open(index_dir), k=k, mode=mode, **kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = run_retrieve(self.rag, query_bundle.query_str, self.k, self.mode)
        out = []
        for hit in result.hits:
            node = TextNode(
                id_=hit.passage_id,
                text=hit.text,
                metadata=hit_metadata(hit, result.mode),
                excluded_llm_metadata_keys=list(_HIDDEN_FROM_LLM),
                excluded_embed_metadata_keys=list(_HIDDEN_FROM_LLM),
            )
            out.append(NodeWithScore(node=node, score=float(hit.score)))
        return out


__all__ = ["HippoRAGRetriever"]
