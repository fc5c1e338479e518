"""A LangChain retriever over a HippoRAG index (extra: ``hipporag-toolkit[langchain]``).

:class:`HippoRAGRetriever` is a ``langchain_core.retrievers.BaseRetriever``: use
it wherever LangChain takes a retriever (``invoke``, ``batch``, LCEL chains).
Each hit becomes a ``Document`` whose ``page_content`` is the passage text and
whose ``metadata`` holds the document's metadata plus ``passage_id``, ``doc_id``,
``title``, ``span``, ``score``, ``rank``, ``explanation`` (a dict) and ``mode``;
``Document.id`` is the passage id. Metadata filters (see :mod:`hipporag.filters`)
go in ``search_kwargs={"filters": {...}}`` (as with LangChain's vector-store
retrievers) or per call: ``retriever.invoke(q, filters={...})``; a per-call filter
is ANDed with the configured one, never replaces it (a tenant filter set by the
application cannot be widened by a caller).

Example:
    >>> from pipelines.facade import HippoRAG
    >>> from pipelines.adapters.langchain import HippoRAGRetriever
    >>> retriever = HippoRAGRetriever(rag=HippoRAG.open(DEMO_INDEX), k=3)
    >>> docs = retriever.invoke("Who directed the 1987 Golden Heron winner?")
    >>> len(docs), sorted({"title", "score"} & set(docs[0].metadata))
    (3, ['score', 'title'])
    >>> rag = HippoRAG.open(DEMO_INDEX)
    >>> en = HippoRAGRetriever(rag=rag, search_kwargs={"filters": {"lang": "en"}})
    >>> from langchain_core.runnables import RunnableLambda
    >>> chain = retriever | RunnableLambda(lambda ds: "\\n\\n".join(d.page_content for d in ds))
    >>> isinstance(chain.invoke("Who directed Big Eyes?"), str)
    True
"""

from __future__ import annotations

from typing import Any

from hipporag.filters import and_filters
from pipelines.adapters import arun_retrieve, hit_metadata, missing_extra, run_retrieve

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
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
        search_kwargs: ``{"filters": {...}}`` (a metadata filter spec) and/or
            ``{"k": n}`` (overrides ``k``).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    rag: Any = Field(description="the HippoRAG facade (or any Retriever)")
    k: int = Field(default=5, ge=1, description="passages per query")
    mode: str | None = Field(default=None, description="retrieval mode (facade default if None)")
    search_kwargs: dict[str, Any] = Field(
        default_factory=dict, description='{"filters": {...}, "k": n} for every query'
    )

    @classmethod
    def from_index(
        cls, index_dir: str, *, k: int = 5, mode: str | None = None, **kwargs: Any
    ) -> HippoRAGRetriever:
        """Open an index directory with :class:`pipelines.facade.HippoRAG` and wrap it."""
        from pipelines.facade import HippoRAG

        return cls(rag=HippoRAG.open(index_dir), k=k, mode=mode, **kwargs)

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        filters: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        k, spec = self._arguments(filters, kwargs)
        return self._documents(run_retrieve(self.rag, query, k, self.mode, spec))

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        filters: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        # The facade's async API: the work runs off the event loop.
        k, spec = self._arguments(filters, kwargs)
        return self._documents(await arun_retrieve(self.rag, query, k, self.mode, spec))

    def _arguments(
        self, filters: dict[str, Any] | None, kwargs: dict[str, Any]
    ) -> tuple[int, dict[str, Any] | None]:
        unknown = (set(self.search_kwargs) | set(kwargs)) - {"filters", "k"}
        if unknown:
            raise ValueError(
                f"unsupported search arguments {sorted(unknown)}; use 'filters' and 'k'"
            )
        k = int(kwargs.get("k", self.search_kwargs.get("k", self.k)))
        # AND, never a replacement: a per-call filter cannot widen the configured one.
        spec = and_filters(self.search_kwargs.get("filters"), filters)
        return k, spec or None

    def _documents(self, result: Any) -> list[Document]:
        return [
            Document(
                id=hit.passage_id,
                page_content=hit.text,
                metadata=hit_metadata(hit, result.mode),
            )
            for hit in result.hits
        ]


__all__ = ["HippoRAGRetriever"]
