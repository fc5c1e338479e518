"""Question answering on top of the note loop: wiring, a reader, and one call per question.

* :func:`make_note_loop` builds a :class:`~retrievers.note.NoteLoop` over an
  opened :class:`~pipelines.facade.HippoRAG` (or anything with ``index`` and
  ``retrieve(query, k, extra_seeds=...)``), with the LLM policy when an LLM is
  given and the LLM-free graph policy otherwise.
* :class:`Reader` answers a question with an LLM from the best note and the top
  passages.
* :class:`NoteQA` runs both and returns a :class:`QAResult`.

Example:
    >>> from pipelines.facade import HippoRAG
    >>> rag = HippoRAG.open(DEMO_INDEX)
    >>> qa = NoteQA(rag, llm=make_llm("http://127.0.0.1:8080/v1", "m"))  # doctest: +SKIP
    >>> out = qa.ask("Who directed the film that won the award in 1987?")  # doctest: +SKIP
    >>> out.answer, out.result.trace.retrieval_calls                 # doctest: +SKIP
    ('Imre Valko', 2)
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hipporag.config import LLMConfig
from hipporag.protocols import LLM
from hipporag.types import Hit
from pipelines.answers import CitingReader
from pipelines.evaluate import KS, Outcome, Question, recall_at
from pipelines.metrics_qa import citation_scores, qa_scores
from retrievers.note import NoteLoop
from retrievers.note.config import NoteConfig
from retrievers.note.policy import Note, NotePolicy
from retrievers.note.prompts import render_passages
from retrievers.note.retriever import NoteRetriever
from retrievers.note.retriever import make_policy as _make_policy
from retrievers.note.trace import NoteResult

_ECHO = re.compile(r"(?:question|evidence|note|passages)\s*:", re.IGNORECASE)
_ANSWER_PREFIX = re.compile(r"^\s*(?:final\s+)?answer\s*[:\-]\s*", re.IGNORECASE)


def make_llm(base_url: str, model: str, *, cache_dir: str | None = None, **overrides: Any) -> LLM:
    """An :class:`~hipporag.llm.OpenAIChatLLM` with its persistent response cache.

    Args:
        base_url: OpenAI-compatible endpoint, e.g. ``http://127.0.0.1:8080/v1``.
        model: Model name as the server knows it.
        cache_dir: Cache directory (default: ``~/.cache/hipporag/llm``).
        **overrides: Other :class:`~hipporag.config.LLMConfig` fields.
    """
    from hipporag.llm import LLMCache, OpenAIChatLLM

    config = LLMConfig(base_url=base_url, model=model, cache_dir=cache_dir, **overrides)
    return OpenAIChatLLM(config, cache=LLMCache.from_config(config))


def make_policy(rag: Any, config: NoteConfig, llm: LLM | None = None) -> NotePolicy:
    """The note policy named by ``config.policy`` (``auto``: LLM if given, else graph).

    Raises:
        ConfigError: ``policy = "llm"`` without an LLM.
    """
    return _make_policy(rag.index, config, llm)


def answer_messages(question: str, context: str) -> list[dict[str, str]]:
    """The reader's prompt: a short answer from a note or passages.

    Example:
        >>> answer_messages("Who?", "Note: Ann did it.")[1]["content"].startswith("Evidence:")
        True
    """
    return [
        {"role": "system", "content": "You answer questions from the evidence you are given."},
        {
            "role": "user",
            "content": f"Evidence:\n{context}\n\nQuestion: {question}\n\n"
            "Answer with a short phrase taken from the evidence (a name, a date, a "
            "number...), not a sentence. If the evidence does not contain the answer, give "
            "your best guess. Reply with the answer only.",
        },
    ]


def make_note_loop(rag: Any, config: NoteConfig | None = None, llm: LLM | None = None) -> NoteLoop:
    """A note loop over ``rag`` (its ``retrieve`` receives the note's entity seeds).

    Example:
        >>> from pipelines.facade import HippoRAG
        >>> loop = make_note_loop(HippoRAG.open(DEMO_INDEX))
        >>> loop.run("Who directed Big Eyes?").mode
        'note'
    """
    return NoteRetriever(rag, rag.index, config or NoteConfig(), llm)


def clean_answer(text: str) -> str:
    """First line of a reader answer that says something: no label, heading or end period.

    Example:
        >>> clean_answer("Evidence:\\nAnswer: Imre Valko.\\nHe directed it.")
        'Imre Valko'
        >>> clean_answer("Question: Who directed it?\\nImre Valko")  # an echoed prompt line
        'Imre Valko'
    """
    for line in text.splitlines():
        line = _ANSWER_PREFIX.sub("", line.strip()).strip().strip("\"'*`").strip()
        if line and not line.endswith(":") and not _ECHO.match(line):
            return line.rstrip(".").strip()
    return ""


def build_context(
    note: Note | None, hits: Sequence[Hit], *, max_passages: int = 5, passage_chars: int = 600
) -> str:
    """Evidence for the reader: the note (if any) then the top passages."""
    parts = []
    if note is not None and not note.empty:
        parts.append(f"Note:\n{note.text.strip()}")
    if hits and max_passages > 0:
        parts.append("Passages:\n" + render_passages(list(hits)[:max_passages], passage_chars))
    return "\n\n".join(parts) or "(no evidence found)"


@dataclass(slots=True)
class Answer:
    """A reader's answer.

    Attributes:
        text: The short answer ("" when the model gave nothing usable).
        raw: The model's full reply.
        llm_calls: Chat requests made (1).
    """

    text: str
    raw: str = ""
    llm_calls: int = 1


class Reader:
    """Answers a question from the best note and the top passages with an LLM.

    Args:
        llm: The chat model.
        max_passages: Top passages added after the note.
        passage_chars: Each passage is cut to this many characters.
        max_tokens: Completion budget of the answer.

    Example:
        >>> class Echo:
        ...     def chat(self, messages, json_schema=None, **params):
        ...         return "Answer: Imre Valko."
        >>> Reader(Echo()).answer("Who directed Salt Harbour?", Note("Salt Harbour ...")).text
        'Imre Valko'
    """

    def __init__(
        self, llm: LLM, *, max_passages: int = 5, passage_chars: int = 600, max_tokens: int = 48
    ) -> None:
        self.llm = llm
        self.max_passages = max_passages
        self.passage_chars = passage_chars
        self.max_tokens = max_tokens

    def answer(self, question: str, note: Note | None = None, hits: Sequence[Hit] = ()) -> Answer:
        context = build_context(
            note, hits, max_passages=self.max_passages, passage_chars=self.passage_chars
        )
        raw = self.llm.chat(answer_messages(question, context), max_tokens=self.max_tokens) or ""
        return Answer(clean_answer(raw), raw)


@dataclass(slots=True)
class QAResult:
    """One answered question: the answer (None without a reader) and the loop's result.

    ``cited`` is the reader's :class:`~pipelines.answers.Answer` (citations, refusal)
    when the reader cites; ``answer`` is then its short answer, ``""`` on a refusal.
    """

    question: str
    answer: str | None
    result: NoteResult
    reader_calls: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    cited: Any = None

    @property
    def llm_calls(self) -> int:
        """LLM calls of the loop plus the reader."""
        return self.result.llm_calls + self.reader_calls

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "llm_calls": self.llm_calls,
            "retrieval_calls": self.result.retrieval_calls,
            "result": self.result.to_dict(),
            **(_citation_fields(self.cited) if self.cited is not None else {}),
        }


def _citation_fields(cited: Any) -> dict[str, Any]:
    """The citing reader's part of :meth:`QAResult.to_dict`."""
    data = cited.to_dict()
    keys = ("text", "supported", "refusal", "citations", "invalid_citations", "passages")
    return {k: data[k] for k in keys}


class NoteQA:
    """The note loop followed by the reader.

    Args:
        rag: An opened facade (``index`` and ``retrieve(..., extra_seeds=...)``).
        config: Note loop configuration.
        llm: Chat model for the LLM policy and the reader; None: graph policy, no answer.
        reader: Overrides the default :class:`~pipelines.answers.CitingReader` over ``llm``
            (a :class:`Reader` answers without citations).

    Example:
        >>> from pipelines.facade import HippoRAG
        >>> qa = NoteQA(HippoRAG.open(DEMO_INDEX))
        >>> out = qa.ask("Who directed the film that won the Golden Heron Award in 1987?")
        >>> out.answer is None, out.result.trace.llm_calls, len(out.result.seen_ids) > 0
        (True, 0, True)
    """

    def __init__(
        self,
        rag: Any,
        config: NoteConfig | None = None,
        llm: LLM | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.rag = rag
        self.config = config or NoteConfig()
        self.loop = make_note_loop(rag, self.config, llm)
        self.reader = reader or (CitingReader(llm) if llm is not None else None)

    def ask(
        self, question: str, k: int | None = None, *, filters: Mapping[str, Any] | None = None
    ) -> QAResult:
        """Run the loop and, with a reader, answer from its best note and top passages.

        ``filters`` (a metadata filter spec, see :mod:`hipporag.filters`) restricts
        every retrieval of the loop, so the note and the answer only use matching
        passages.
        """
        allow = None
        if filters:
            allowed = getattr(self.rag, "allowed", None)
            if allowed is not None:
                allow = allowed(filters)
            else:
                from hipporag.filters import allowed_passages

                allow = allowed_passages(self.rag.index, filters)
        result = self.loop.run(question, k=k, allow=allow)
        if self.reader is None:
            return QAResult(question, None, result)
        answer = self.reader.answer(question, result.note, result.hits)
        if hasattr(answer, "citations"):  # a citing reader (the default)
            text = answer.answer or ""
            return QAResult(question, text, result, reader_calls=answer.llm_calls, cited=answer)
        return QAResult(question, answer.text, result, reader_calls=answer.llm_calls)


# -- evaluation: the ``note`` mode of ``hipporag eval`` ----------------------------------


class NoteRunner:
    """Evaluation runner of mode ``note``: one loop run (and answer) per question.

    Its settings are arguments; register it explicitly before evaluating::

        register_runner("note", NoteRunner(NoteConfig(), llm=None))

    Returns the loop's final ranking plus, per question: ``recall_seen@N`` (recall
    over the first N passages seen, in the order the loop saw them, for the
    standard cut-offs; ``recall_seen@all`` over all of them), ``calls_retrieval``,
    ``calls_llm``, ``passages_seen`` and, when a reader answered, ``em`` and ``f1``.

    Args:
        config: Note loop configuration (default :class:`NoteConfig`).
        llm: Chat model for the LLM policy and the reader (None: graph policy, no answer).
    """

    def __init__(self, config: NoteConfig | None = None, llm: LLM | None = None) -> None:
        self.config = config or NoteConfig()
        self.llm = llm
        self._lock = threading.Lock()
        self._qa: dict[int, tuple[Any, NoteQA]] = {}

    def qa_for(self, rag: Any) -> NoteQA:
        """The :class:`NoteQA` over ``rag`` (one per facade)."""
        with self._lock:
            found = self._qa.get(id(rag))
            if found is None or found[0] is not rag:
                found = self._qa[id(rag)] = (rag, NoteQA(rag, self.config, self.llm))
            return found[1]

    def __call__(self, rag: Any, question: Question, k: int, mode: str) -> Outcome:
        out = self.qa_for(rag).ask(question.question)
        seen, gold = out.result.seen_ids, set(question.gold)
        extra: dict[str, float] = {
            f"recall_seen@{c}": recall_at(seen, gold, c) for c in sorted({*KS, k})
        }
        extra["recall_seen@all"] = recall_at(seen, gold, len(seen))
        extra["calls_retrieval"] = float(out.result.retrieval_calls)
        extra["calls_llm"] = float(out.llm_calls)
        extra["passages_seen"] = float(len(seen))
        raw = getattr(question, "raw", None) or {}
        if out.answer is not None and isinstance(raw.get("answer"), str):
            extra.update(qa_scores(out.answer, raw["answer"], raw.get("answer_aliases") or []))
        if out.cited is not None:
            extra.update(citation_scores(out.cited, gold))
        return Outcome(list(dict.fromkeys(h.document for h in out.result.hits[:k])), extra)


def note_report(report: dict[str, Any]) -> dict[str, Any]:
    """Reshape an ``EvalReport.to_dict()`` of mode ``note`` for ``hipporag eval --json``.

    Moves the runner's per-question means out of ``extra``: ``recall_seen`` (same k
    keys as ``recall``, plus ``"all"``), ``calls`` (``retrieval`` and ``llm``, means
    per question), ``passages_seen``, and ``em``/``f1`` when answers were produced.

    Example:
        >>> note_report({"recall": {"5": 0.5}, "extra": {"recall_seen@5": 0.5,
        ...     "recall_seen@all": 0.75, "calls_retrieval": 2.0, "calls_llm": 0.0}})
        ... # doctest: +NORMALIZE_WHITESPACE
        {'recall': {'5': 0.5}, 'extra': {}, 'recall_seen': {'5': 0.5, 'all': 0.75},
         'calls': {'retrieval': 2.0, 'llm': 0.0}}
    """
    out = dict(report)
    extra = dict(out.get("extra", {}))
    keys = [str(k) for k in out.get("recall", {})]
    seen = {k: extra.pop(f"recall_seen@{k}") for k in keys if f"recall_seen@{k}" in extra}
    if "recall_seen@all" in extra:
        seen["all"] = extra.pop("recall_seen@all")
    for name in [n for n in extra if n.startswith("recall_seen@")]:
        extra.pop(name)
    out["extra"] = extra
    out["recall_seen"] = seen
    out["calls"] = {
        "retrieval": extra.pop("calls_retrieval", 0.0),
        "llm": extra.pop("calls_llm", 0.0),
    }
    if "passages_seen" in extra:
        out["passages_seen"] = extra.pop("passages_seen")
    for name in ("em", "f1", "cited_gold", "supported"):
        if name in extra:
            out[name] = extra.pop(name)
    return out


__all__ = [
    "Answer",
    "NoteQA",
    "NoteRunner",
    "QAResult",
    "Reader",
    "answer_messages",
    "build_context",
    "clean_answer",
    "make_llm",
    "make_note_loop",
    "make_policy",
    "note_report",
]
