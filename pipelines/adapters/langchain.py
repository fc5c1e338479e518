"""A LangChain retriever over a HippoRAG index (extra: ``hipporag-toolkit[langchain]``).

:class:`HippoRAGRetriever` is a ``langchain_core.retrievers.BaseRetriever``: use
it wherever LangChain takes a retriever (``invoke``, ``batch``, LCEL chains).
Each hit becomes a ``Document`` whose ``page_content`` is the passage text and
whose ``metadata`` holds ``passage_id``, ``title``, ``score``, ``rank``,
``explanation`` (a dict) and ``mode``; ``Document.id`` is the passage id.

Example:
    >>> from pipelines.facade import HippoRAG                         # doctest: +SKIP
    >>> from pipelines.adapters.langchain import HippoRAGRetriever    # doctest: +SKIP
    >>> retriever = HippoRAGRetriever(rag=HippoRAG.open("my-index"), k=3)  # doctest: +SKIP
    >>> docs = retriever.invoke("Who directed the 1987 Golden Heron winner?")  # doctest: +SKIP
    >>> docs[0].metadata["title"], docs[0].metadata["score"]          # doctest: +SKIP
    ('Golden Heron Award', 0.41)
    >>> from langchain_core.runnables import RunnableLambda           # doctest: +SKIP
    >>> chain = retriever | RunnableLambda(lambda ds: "\\n\\n".join(d.page_content for d in ds))
    ...                                                               # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from pipelines.adapters import hit_metadata, missing_extra, run_retrieve

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict, Field
except ImportError as _err:  # pragma: no cover - exercised with the extra missing
    raise missing_extra("LangChain", "langchain", _err) from _err


class HippoRAGRetriever(BaseRetriever):
    """LangChain retriever returning HippoRAG's passages, in its order.

    Attributes:
        rag: a :class:`pipelines.facade.HippoRAG` (or any object with
            ``retrieve(query, k=..., mode=...) -> RetrievalResult``).
        k: passages per query.
        mode: retrieval mode passed to ``rag.retrieve`` (its default when None).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    rag: Any = Field(description="the HippoRAG facade (or any Retriever)")
    k: int = Field(default=5, ge=1, description="passages per query")
    mode: str | None = Field(default=None, description="retrieval mode (facade default if None)")

    @classmethod
    def from_index(
        cls, index_dir: str, *, k: int = 5, mode: str | None = None, **kwargs: Any
    ) -> HippoRAGRetriever:
        """Open an index directory with :class:`pipelines.facade.HippoRAG` and wrap it."""
        from pipelines.facade import HippoRAG

        return cls(rag=HippoRAG.open(index_dir), k=k, mode=mode, **kwargs)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = run_retrieve(self.rag, query, self.k, self.mode)
        return [
            Document(
                id=hit.passage_id,
                page_content=hit.text,
                metadata=hit_metadata(hit, result.mode),
            )
            for hit in result.hits
        ]


__all__ = ["HippoRAGRetriever"]
