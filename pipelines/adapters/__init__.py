"""Adapters to other RAG frameworks (optional extras).

* :mod:`pipelines.adapters.langchain` -- a LangChain retriever
  (``pip install 'hipporag-toolkit[langchain]'``);
* :mod:`pipelines.adapters.llamaindex` -- a LlamaIndex retriever
  (``pip install 'hipporag-toolkit[llamaindex]'``).

Both return the passages of :meth:`HippoRAG.retrieve`, in its order, with the
same metadata (see :func:`hit_metadata`): the document's own metadata keys
(``source``, ``lang``, ...) plus ``passage_id``, ``doc_id``, ``title``,
``span``, ``score``, ``rank``, ``explanation`` and ``mode``. Both take metadata
filters (LangChain ``search_kwargs={"filters": ...}``, LlamaIndex
``MetadataFilters``), passed to ``retrieve(..., filters=...)``.

Example:
    >>> from hipporag.types import Hit
    >>> meta = hit_metadata(Hit("d#1", "Paris", "...", 0.9, 1, doc_id="d", metadata={"lang": "fr"},
    ...                         span=(10, 20)), mode="graph")
    >>> sorted(meta)
    ['doc_id', 'explanation', 'lang', 'mode', 'passage_id', 'rank', 'score', 'span', 'title']
"""

from __future__ import annotations

from typing import Any

from hipporag.errors import RetrievalError
from hipporag.sections import suggest
from hipporag.types import Hit, RetrievalResult

RESERVED_KEYS = ("passage_id", "doc_id", "title", "span", "score", "rank", "explanation", "mode")


def hit_metadata(hit: Hit, mode: str | None = None) -> dict[str, Any]:
    """The metadata both adapters attach to a retrieved passage.

    Keys: the document's metadata, then ``passage_id``, ``doc_id``, ``title``,
    ``span`` (``[start, end]`` in the document, or None), ``score``, ``rank``,
    ``explanation`` (the :meth:`~hipporag.types.Explanation.to_dict` dict, or
    None) and ``mode``; a document metadata key named like one of these is
    shadowed (it stays in the index).
    """
    return {
        **hit.metadata,
        "passage_id": hit.passage_id,
        "doc_id": hit.document,
        "span": list(hit.span) if hit.span else None,
        "title": hit.title,
        "score": float(hit.score),
        "rank": int(hit.rank),
        "explanation": hit.explanation.to_dict() if hit.explanation is not None else None,
        "mode": mode,
    }


def check_adapter_mode(rag: Any, mode: str | None) -> None:
    """Refuse a mode ``rag`` does not offer (its ``modes()``, the retriever registry's list).

    Raises:
        RetrievalError: Unknown mode, with a "did you mean" hint.
    """
    modes = getattr(rag, "modes", None)
    if mode is None or not callable(modes):
        return
    known = tuple(modes())
    if mode not in known:
        raise RetrievalError(f"unknown retrieval mode {mode!r}", hint=suggest(mode, known))


def _retrieve_kwargs(
    rag: Any, k: int, mode: str | None, filters: dict[str, Any] | None
) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"k": k}
    if mode is not None:
        check_adapter_mode(rag, mode)
        kwargs["mode"] = mode
    if filters:
        kwargs["filters"] = filters
    return kwargs


def run_retrieve(
    rag: Any, query: str, k: int, mode: str | None, filters: dict[str, Any] | None = None
) -> RetrievalResult:
    """Call ``rag.retrieve``; ``mode`` and ``filters`` are passed only when set."""
    return rag.retrieve(query, **_retrieve_kwargs(rag, k, mode, filters))


async def arun_retrieve(
    rag: Any, query: str, k: int, mode: str | None, filters: dict[str, Any] | None = None
) -> RetrievalResult:
    """:func:`run_retrieve` without blocking the event loop.

    Uses ``rag.aretrieve`` (the facade's async API); an object without one is
    called in a worker thread.
    """
    kwargs = _retrieve_kwargs(rag, k, mode, filters)
    aretrieve = getattr(rag, "aretrieve", None)
    if aretrieve is not None:
        return await aretrieve(query, **kwargs)
    import asyncio

    return await asyncio.to_thread(lambda: rag.retrieve(query, **kwargs))


def missing_extra(framework: str, extra: str, err: ImportError) -> ImportError:
    """An ImportError telling which extra to install."""
    return ImportError(
        f"the {framework} adapter needs {err.name or 'its library'}, which is not installed; "
        f"install it with: pip install 'hipporag-toolkit[{extra}]'"
    )


__all__ = [
    "RESERVED_KEYS",
    "arun_retrieve",
    "check_adapter_mode",
    "hit_metadata",
    "missing_extra",
    "run_retrieve",
]
