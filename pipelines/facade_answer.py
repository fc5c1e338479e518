"""The facade's answer path and rerank stage (a mixin of :class:`~pipelines.facade.HippoRAG`).

* :meth:`AnswerMixin.answer`: retrieve, then read: an :class:`~pipelines.answers.Answer`
  whose ``[n]`` citations map to passage ids, document ids and spans, or a
  refusal when nothing retrieved supports an answer.
* The rerank stage: when the retrieval config has a ``[rerank]`` section
  (``kind = "cross-encoder"`` or ``"llm"``), every retrieval fetches
  ``max(k, top_n)`` candidates with its mode and reorders the first ``top_n``
  (see :mod:`retrievers.rerank`); the time spent is ``timings_ms["rerank"]``.

Example:
    >>> from pipelines.facade import HippoRAG
    >>> rag = HippoRAG.open(DEMO_INDEX)
    >>> rag.reranker is None  # off unless configured
    True
    >>> class Fake:  # any chat model: here one that cites passage 1
    ...     def chat(self, messages, json_schema=None, **params):
    ...         return "Imre Valko [1]"
    >>> out = rag.answer("Who directed Salt Harbour?", k=3, llm=Fake())
    >>> out.supported, out.citations[0].n, out.citations[0].passage_id == out.passages[0].passage_id
    (True, 1, True)
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from hipporag.types import RetrievalResult


class AnswerMixin:
    """Answers with citations and the optional rerank stage, for :class:`HippoRAG`.

    Uses the host's ``config`` (a :class:`~retrievers.config.RetrievalConfig`),
    ``retriever`` and ``retrieve``.
    """

    config: Any
    retriever: Any

    # -- rerank ------------------------------------------------------------------------
    @property
    def reranker(self) -> Any:
        """The configured reranker (``config.rerank``), or None when it is off."""
        from retrievers.rerank import make_reranker

        return make_reranker(self.config.rerank, self.config.llm)

    def _ranked(self, query: str, k: int, kwargs: Mapping[str, Any]) -> RetrievalResult:
        """``retriever.retrieve`` followed by the rerank stage when one is configured."""
        reranker = self.reranker
        if reranker is None:
            return self.retriever.retrieve(query, k, **kwargs)
        from retrievers.rerank import rerank_result

        top_n = self.config.rerank.top_n
        result = self.retriever.retrieve(query, max(k, top_n), **kwargs)
        return rerank_result(result, reranker, top_n=top_n, k=k)

    def _ranked_batch(
        self, queries: Any, k: int, mode: str | None, allow: Any
    ) -> list[RetrievalResult]:
        """``retriever.retrieve_batch`` followed by the rerank stage when one is configured."""
        reranker = self.reranker
        if reranker is None:
            return self.retriever.retrieve_batch(queries, k, mode=mode, allow=allow)
        from retrievers.rerank import rerank_result

        top_n = self.config.rerank.top_n
        results = self.retriever.retrieve_batch(queries, max(k, top_n), mode=mode, allow=allow)
        return [rerank_result(r, reranker, top_n=top_n, k=k) for r in results]

    # -- answers -----------------------------------------------------------------------
    @property
    def llm(self) -> Any:
        """The chat model of ``config.llm`` (with its response cache), made on first use."""
        found = self.__dict__.get("_answer_llm")
        if found is None:
            from hipporag.llm import LLMCache, OpenAIChatLLM

            cfg = self.config.llm
            found = self.__dict__["_answer_llm"] = OpenAIChatLLM(
                cfg, cache=LLMCache.from_config(cfg)
            )
        return found

    def answer(
        self,
        question: str,
        k: int = 5,
        mode: str | None = None,
        *,
        filters: Mapping[str, Any] | None = None,
        llm: Any = None,
        passage_chars: int = 600,
        max_tokens: int = 64,
    ) -> Any:
        """Retrieve ``k`` passages, then answer from them with ``[n]`` citations.

        Args:
            question: The question.
            k: Passages retrieved and shown to the reader, numbered ``[1]..[k]``.
            mode: Retrieval mode (default ``config.mode``); a configured reranker applies.
            filters: A metadata filter spec, as for :meth:`retrieve`.
            llm: The chat model (default: :attr:`llm`, from ``config.llm``).
            passage_chars: Each passage is cut to this many characters.
            max_tokens: Completion budget of the answer.

        Returns:
            An :class:`~pipelines.answers.Answer`: the short answer and its citations
            (passage ids, document ids, spans), or ``answer=None`` with ``refusal``
            when nothing retrieved supports one. ``to_dict()`` is its JSON form.

        Raises:
            RetrievalError: Empty question, bad ``k`` or mode.
            LLMError: The chat endpoint failed after its retries.
        """
        from pipelines.answers import CitingReader

        start = time.perf_counter()
        result = self.retrieve(question, k=k, mode=mode, filters=filters)  # type: ignore[attr-defined]
        reader = CitingReader(
            llm if llm is not None else self.llm,
            max_passages=k,
            passage_chars=passage_chars,
            max_tokens=max_tokens,
        )
        read = time.perf_counter()
        out = reader.answer(question, hits=result.hits)
        end = time.perf_counter()
        out.mode = result.mode
        out.flags = [*result.flags, *out.flags]
        timings = {n: v for n, v in result.timings_ms.items() if n != "total"}
        out.timings_ms = {
            **timings,
            "retrieve": (read - start) * 1e3,
            "read": (end - read) * 1e3,
            "total": (end - start) * 1e3,
        }
        return out


__all__ = ["AnswerMixin"]
