"""Evaluation with answers: each question is retrieved, then answered with citations.

:class:`AnswerRunner` is the runner ``hipporag eval`` uses for a retrieval
mode when an LLM is configured (``--llm-base-url``): recall is measured on the
retrieval as usual, then the reader answers from the top passages
(:class:`~pipelines.answers.CitingReader`). Per question it adds ``em`` and
``f1`` (SQuAD-normalised, best over the answer and its aliases; a refusal
scores 0), ``cited_gold`` (the citations name a gold passage), ``supported``
(the answer cites a passage shown) and ``calls_llm``. :func:`answer_report`
moves their means to an ``answers`` object of the ``--json`` report.

Example:
    >>> from pipelines.evaluate import evaluate, load_questions
    >>> from pipelines.facade import HippoRAG
    >>> class Fake:  # a chat model that always cites passage 1
    ...     def chat(self, messages, json_schema=None, **params):
    ...         return "Imre Valko [1]"
    >>> rag = HippoRAG.open(DEMO_INDEX)
    >>> report = evaluate(rag, load_questions(DEMO_QUESTIONS), runner=AnswerRunner(Fake()))
    >>> sorted(answer_report(report.to_dict())["answers"])
    ['cited_gold', 'em', 'f1', 'supported']
"""

from __future__ import annotations

from typing import Any

from pipelines.answers import CitingReader
from pipelines.evaluate import Outcome, Question
from pipelines.metrics_qa import citation_scores, qa_scores

ANSWER_KEYS = ("em", "f1", "cited_gold", "supported")


class AnswerRunner:
    """Runner of the retrieval modes that also answers (see the module docstring).

    Args:
        llm: The chat model of the reader.
        passages: Top passages shown to the reader.
        passage_chars: Each passage is cut to this many characters.
    """

    def __init__(self, llm: Any, *, passages: int = 5, passage_chars: int = 600) -> None:
        self.reader = CitingReader(llm, max_passages=passages, passage_chars=passage_chars)

    def __call__(self, rag: Any, question: Question, k: int, mode: str) -> Outcome:
        result = rag.retrieve(question.question, k=k, mode=mode)
        cited = self.reader.answer(question.question, hits=result.hits)
        extra = {"no_seeds": float("no_seeds" in result.flags), "calls_llm": 1.0}
        raw = getattr(question, "raw", None) or {}
        if isinstance(raw.get("answer"), str):
            aliases = raw.get("answer_aliases") or []
            extra.update(qa_scores(cited.answer or "", raw["answer"], aliases))
        extra.update(citation_scores(cited, question.gold))
        return Outcome(list(dict.fromkeys(h.document for h in result.hits)), extra)


def answer_runner(runner: Any, llm: Any) -> Any:
    """:class:`AnswerRunner` in place of the plain retrieval runner; other runners as they are.

    A runner registered for another mode does not answer: a warning says why
    the LLM is not used for answers then.
    """
    from pipelines.evaluate import retrieval_runner

    if runner is retrieval_runner:
        return AnswerRunner(llm)
    import sys

    print(
        f"warning: the evaluation runner {getattr(runner, '__name__', type(runner).__name__)} "
        "does not answer; EM/F1 and citations are reported for the retrieval modes and "
        "--mode note only",
        file=sys.stderr,
    )
    return runner


def answer_report(report: dict[str, Any]) -> dict[str, Any]:
    """Move the answer metrics of an ``EvalReport.to_dict()`` from ``extra`` to ``answers``."""
    out = dict(report)
    extra = dict(out.get("extra", {}))
    out["answers"] = {name: extra.pop(name) for name in ANSWER_KEYS if name in extra}
    out["extra"] = extra
    return out


__all__ = ["ANSWER_KEYS", "AnswerRunner", "answer_report", "answer_runner"]
