"""A LlamaIndex retriever over a HippoRAG index (extra: ``hipporag-toolkit[llamaindex]``).

:class:`HippoRAGRetriever` is a ``llama_index.core.retrievers.BaseRetriever``:
plug it into ``RetrieverQueryEngine`` or any LlamaIndex pipeline. Each hit
becomes a ``NodeWithScore`` holding a ``TextNode`` (``id_`` = passage id,
``text`` = passage text, ``ref_doc_id`` = the document id) with the document's
metadata plus ``passage_id``, ``doc_id``, ``title``, ``span``, ``score``,
``rank``, ``explanation`` (a dict) and ``mode``. The document's metadata and
``title`` are shown to the LLM; our bookkeeping keys stay out of prompts.

Filters: ``filters=`` takes LlamaIndex ``MetadataFilters`` (operators ``==``,
``!=``, ``>``, ``>=``, ``<``, ``<=``, ``in``, ``nin``, ``any``, ``contains``,
``is_empty``; AND, or OR over one key; NOT of one filter) or a filter spec of
:mod:`hipporag.filters`; :func:`to_filter_spec` does the mapping.

Example:
    >>> from pipelines.facade import HippoRAG
    >>> from pipelines.adapters.llamaindex import HippoRAGRetriever
    >>> retriever = HippoRAGRetriever(HippoRAG.open(DEMO_INDEX), k=3)
    >>> nodes = retriever.retrieve("Who directed the 1987 Golden Heron winner?")
    >>> len(nodes), "title" in nodes[0].node.metadata
    (3, True)
    >>> from llama_index.core.query_engine import RetrieverQueryEngine  # doctest: +SKIP
    >>> engine = RetrieverQueryEngine.from_args(retriever, llm=my_llm)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from pipelines.adapters import arun_retrieve, hit_metadata, missing_extra, run_retrieve

try:
    from llama_index.core.retrievers import BaseRetriever
    from llama_index.core.schema import (
        NodeRelationship,
        NodeWithScore,
        QueryBundle,
        RelatedNodeInfo,
        TextNode,
    )
    from llama_index.core.vector_stores.types import (
        FilterCondition,
        FilterOperator,
        MetadataFilter,
        MetadataFilters,
    )
except ImportError as _err:  # pragma: no cover - exercised with the extra missing
    raise missing_extra("LlamaIndex", "llamaindex", _err) from _err

from hipporag.errors import InputError
from hipporag.filters import and_filters

_HIDDEN_FROM_LLM = ["passage_id", "doc_id", "span", "score", "rank", "explanation", "mode"]
_OPS = {
    FilterOperator.EQ: "eq",
    FilterOperator.NE: "ne",
    FilterOperator.GT: "gt",
    FilterOperator.GTE: "gte",
    FilterOperator.LT: "lt",
    FilterOperator.LTE: "lte",
    FilterOperator.IN: "in",
    FilterOperator.NIN: "nin",
    FilterOperator.ANY: "in",
    FilterOperator.CONTAINS: "eq",  # a list-valued key contains the value
}
_HINT = "use AND of per-key filters (==, !=, >, >=, <, <=, in, nin, any, contains, is_empty)"


def _one(f: MetadataFilter) -> tuple[str, dict[str, Any]]:
    if f.operator == FilterOperator.IS_EMPTY:
        return f.key, {"exists": False}
    op = _OPS.get(f.operator)
    if op is None:
        raise InputError(
            f"LlamaIndex filter operator {f.operator.value!r} is not supported", hint=_HINT
        )
    return f.key, {op: f.value}


def to_filter_spec(filters: MetadataFilters | dict[str, Any] | None) -> dict[str, Any] | None:
    """A :mod:`hipporag.filters` spec from LlamaIndex ``MetadataFilters`` (a dict passes through).

    Example:
        >>> to_filter_spec(MetadataFilters(filters=[
        ...     MetadataFilter(key="lang", value="en"),
        ...     MetadataFilter(key="year", value=2020, operator=">=")]))
        {'lang': {'eq': 'en'}, 'year': {'gte': 2020}}
    """
    if filters is None or isinstance(filters, dict):
        return filters or None
    cond = filters.condition or FilterCondition.AND
    items = []
    for f in filters.filters:
        if isinstance(f, MetadataFilters):
            sub = to_filter_spec(f) or {}
            items.extend((k, v) for k, v in sub.items())
        else:
            items.append(_one(f))
    if cond == FilterCondition.NOT:
        if len(items) != 1:
            raise InputError("a NOT MetadataFilters must hold exactly one filter", hint=_HINT)
        key, c = items[0]
        return {key: {"not": c}}
    if cond == FilterCondition.OR:
        keys = {k for k, _ in items}
        if len(keys) != 1 or not all(set(c) == {"eq"} for _, c in items):
            raise InputError(
                "OR of MetadataFilters is supported only for == on one key", hint=_HINT
            )
        return {keys.pop(): {"in": [c["eq"] for _, c in items]}}
    spec: dict[str, Any] | None = {}
    for key, c in items:  # AND: two conditions on one key must both hold
        spec = and_filters(spec, {key: c})
    return spec or None


class HippoRAGRetriever(BaseRetriever):
    """LlamaIndex retriever returning HippoRAG's passages, in its order.

    Args:
        rag: a :class:`pipelines.facade.HippoRAG` (or any object with
            ``retrieve(query, k=..., mode=...) -> RetrievalResult``).
        k: passages per query.
        mode: retrieval mode passed to ``rag.retrieve`` (its default when None).
        filters: ``MetadataFilters`` or a :mod:`hipporag.filters` spec, for every query.
        **kwargs: passed to LlamaIndex's ``BaseRetriever`` (``callback_manager``, ``verbose``).
    """

    def __init__(
        self,
        rag: Any,
        k: int = 5,
        mode: str | None = None,
        filters: MetadataFilters | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if int(k) < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.rag = rag
        self.k = int(k)
        self.mode = mode
        self.filters = to_filter_spec(filters)
        super().__init__(**kwargs)

    @classmethod
    def from_index(
        cls, index_dir: str, *, k: int = 5, mode: str | None = None, **kwargs: Any
    ) -> HippoRAGRetriever:
        """Open an index directory with :class:`pipelines.facade.HippoRAG` and wrap it."""
        from pipelines.facade import HippoRAG

        return cls(HippoRAG.open(index_dir), k=k, mode=mode, **kwargs)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = run_retrieve(self.rag, query_bundle.query_str, self.k, self.mode, self.filters)
        return self._nodes(result)

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        # The facade's async API: the work runs off the event loop.
        q = query_bundle.query_str
        return self._nodes(await arun_retrieve(self.rag, q, self.k, self.mode, self.filters))

    def _nodes(self, result: Any) -> list[NodeWithScore]:
        out = []
        for hit in result.hits:
            node = TextNode(
                id_=hit.passage_id,
                text=hit.text,
                metadata=hit_metadata(hit, result.mode),
                excluded_llm_metadata_keys=list(_HIDDEN_FROM_LLM),
                excluded_embed_metadata_keys=list(_HIDDEN_FROM_LLM),
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=hit.document)},
            )
            out.append(NodeWithScore(node=node, score=float(hit.score)))
        return out


__all__ = ["HippoRAGRetriever", "to_filter_spec"]
