"""Adapters to other RAG frameworks (optional extras).

* :mod:`pipelines.adapters.langchain` -- a LangChain retriever
  (``pip install 'hipporag-toolkit[langchain]'``);
* :mod:`pipelines.adapters.llamaindex` -- a LlamaIndex retriever
  (``pip install 'hipporag-toolkit[llamaindex]'``).

Both return the passages of :meth:`HippoRAG.retrieve`, in its order, with the
same metadata (see :func:`hit_metadata`).

Example:
    >>> from hipporag.types import Hit
    >>> sorted(hit_metadata(Hit("p_1", "Paris", "Paris is ...", 0.9, 1), mode="graph"))
    ['explanation', 'mode', 'passage_id', 'rank', 'score', 'title']
"""

from __future__ import annotations

from typing import Any

from hipporag.errors import RetrievalError
from hipporag.sections import suggest
from hipporag.types import Hit, RetrievalResult


def hit_metadata(hit: Hit, mode: str | None = None) -> dict[str, Any]:
    """The metadata both adapters attach to a retrieved passage.

    Keys: ``passage_id``, ``title``, ``score``, ``rank``, ``explanation`` (the
    :meth:`~hipporag.types.Explanation.to_dict` dict, or None) and ``mode``.
    """
    return {
        "passage_id": hit.passage_id,
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


def run_retrieve(rag: Any, query: str, k: int, mode: str | None) -> RetrievalResult:
    """Call ``rag.retrieve``; ``mode`` is passed only when set (any Retriever fits)."""
    if mode is None:
        return rag.retrieve(query, k=k)
    check_adapter_mode(rag, mode)
    return rag.retrieve(query, k=k, mode=mode)


def missing_extra(framework: str, extra: str, err: ImportError) -> ImportError:
    """An ImportError telling which extra to install."""
    return ImportError(
        f"the {framework} adapter needs {err.name or 'its library'}, which is not installed; "
        f"install it with: pip install 'hipporag-toolkit[{extra}]'"
    )


__all__ = ["check_adapter_mode", "hit_metadata", "missing_extra", "run_retrieve"]
