"""Answers that cite their passages: retrieve, then read with numbered evidence.

The reader sees the retrieved passages numbered ``[1]..[n]`` (and, from the
note loop, its note) and is asked for a short answer followed by the numbers
of the passages that support it, or ``NOT SUPPORTED``. The reply is parsed
strictly:

* citations are ``[n]`` or ``[n, m]`` markers; numbers that were not shown are
  dropped and listed in :attr:`Answer.invalid_citations` (flag
  ``invalid_citations``);
* a reply that says it is not supported, or that cites no passage shown, is a
  refusal: :attr:`Answer.answer` is None, :attr:`Answer.supported` False and
  :attr:`Answer.refusal` says why (:data:`REFUSAL` plus the reason).

Each citation maps its number to the passage id, document id, title and
character span of the passage (:class:`Citation`), so a caller can show the
exact source. :meth:`Answer.to_dict` is the stable JSON form used by
``hipporag answer --json`` and the HTTP service.

Example:
    >>> from hipporag.types import Hit
    >>> hits = [Hit("p1", "Salt Harbour", "Salt Harbour was directed by Imre Valko.", 1.0, 1,
    ...             doc_id="d1", span=(0, 40))]
    >>> class Fake:
    ...     def chat(self, messages, json_schema=None, **params):
    ...         return "Imre Valko [1] [7]"
    >>> a = CitingReader(Fake()).answer("Who directed Salt Harbour?", hits=hits)
    >>> a.answer, [c.passage_id for c in a.citations], a.invalid_citations, a.supported
    ('Imre Valko', ['p1'], [7], True)
    >>> a.to_dict()["citations"][0]["span"]
    [0, 40]
    >>> "<b>answer:</b> Imre Valko [1] [7]" in a._repr_html_()
    True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from hipporag.types import Hit

REFUSAL = "not supported by the retrieved passages"
"""The refusal text of an answer the retrieved passages do not support."""

_MARKER = re.compile(r"\[\s*(\d{1,4}(?:\s*,\s*\d{1,4})*)\s*\]")
_NOT_SUPPORTED = re.compile(r"\bnot\s+supported\b", re.IGNORECASE)
_LABEL = re.compile(r"^\s*(?:final\s+)?answer\s*[:\-]\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Citation:
    """One cited passage: the number the reader saw and where it comes from.

    Attributes:
        n: The number shown to the reader (``[n]``).
        passage_id: The cited passage (chunk).
        doc_id: Its document.
        title: Its title.
        span: ``(start, end)`` character offsets in the document, or None for a whole record.
        rank: Its rank in the retrieval result.
    """

    n: int
    passage_id: str
    doc_id: str
    title: str
    span: tuple[int, int] | None
    rank: int

    @classmethod
    def of(cls, n: int, hit: Hit) -> Citation:
        """The citation of passage ``[n]``, shown as ``hit``."""
        return cls(n, hit.passage_id, hit.document, hit.title, hit.span, hit.rank)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "passage_id": self.passage_id,
            "doc_id": self.doc_id,
            "title": self.title,
            "span": list(self.span) if self.span else None,
            "rank": self.rank,
        }


@dataclass(slots=True)
class Answer:
    """An answer with its citations, or a refusal.

    Attributes:
        question: The question.
        answer: The short answer, citation markers removed; None when refused.
        text: The reader's answer as written, with its ``[n]`` markers.
        supported: True when the answer cites at least one passage shown.
        refusal: Why there is no answer (starts with :data:`REFUSAL`), else None.
        citations: The valid citations, in the order first cited.
        invalid_citations: Numbers cited that were not shown (dropped).
        passages: The numbered passages shown to the reader (``passages[n - 1]`` is ``[n]``).
        mode: The retrieval mode.
        flags: Markers: ``invalid_citations``, ``no_valid_citation``, ``model_refused``,
            ``no_passages``, and the retrieval result's flags.
        timings_ms: Retrieval stages plus ``read`` (the LLM call) and ``total``.
        llm_calls: Chat requests made.
        raw: The model's full reply.
    """

    question: str
    answer: str | None
    text: str = ""
    supported: bool = False
    refusal: str | None = None
    citations: list[Citation] = field(default_factory=list)
    invalid_citations: list[int] = field(default_factory=list)
    passages: list[Hit] = field(default_factory=list)
    mode: str = ""
    flags: list[str] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    llm_calls: int = 0
    raw: str = ""

    @property
    def cited_ids(self) -> list[str]:
        """Passage ids cited, in citation order."""
        return [c.passage_id for c in self.citations]

    @property
    def cited_documents(self) -> list[str]:
        """Document ids cited, in citation order, without repeats."""
        return list(dict.fromkeys(c.doc_id for c in self.citations))

    def _repr_html_(self) -> str:
        """Rich display in Jupyter: the answer (or refusal) and its numbered sources."""
        from hipporag.display._html import esc

        head = esc(self.text) if self.supported else f"<i>{esc(self.refusal)}</i>"
        cited = {c.n for c in self.citations}
        bold = ' style="font-weight:600"'
        rows = "".join(
            f"<li{bold if i in cited else ''}>[{i}] {esc(h.title)} "
            f"<small>{esc(h.passage_id)}</small></li>"
            for i, h in enumerate(self.passages, 1)
        )
        return f"<div><p><b>answer:</b> {head}</p><ol style='list-style:none'>{rows}</ol></div>"

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form (keys as documented on the attributes)."""
        return {
            "question": self.question,
            "answer": self.answer,
            "text": self.text,
            "supported": self.supported,
            "refusal": self.refusal,
            "citations": [c.to_dict() for c in self.citations],
            "invalid_citations": list(self.invalid_citations),
            "passages": [{"n": i, **h.to_dict()} for i, h in enumerate(self.passages, 1)],
            "mode": self.mode,
            "flags": list(self.flags),
            "timings_ms": dict(self.timings_ms),
            "llm_calls": self.llm_calls,
            "raw": self.raw,
        }


def number_passages(hits: Sequence[Hit], passage_chars: int = 600) -> str:
    """The passages as the reader sees them: ``[n] Title: text`` per line.

    Example:
        >>> number_passages([Hit("p", "T", "Some text.", 1.0, 1)])
        '[1] T: Some text.'
    """
    lines = []
    for i, h in enumerate(hits, 1):
        text = " ".join(h.text.split())[:passage_chars]
        lines.append(f"[{i}] {h.title}: {text}" if h.title else f"[{i}] {text}")
    return "\n".join(lines)


def cite_messages(question: str, passages: str, note: str = "") -> list[dict[str, str]]:
    """The reader's prompt: a short answer that cites passage numbers, or NOT SUPPORTED.

    Example:
        >>> "NOT SUPPORTED" in cite_messages("Who?", "[1] T: x")[1]["content"]
        True
    """
    evidence = f"Note:\n{note.strip()}\n\n" if note.strip() else ""
    return [
        {
            "role": "system",
            "content": "You answer questions only from the numbered passages you are given, "
            "and cite them.",
        },
        {
            "role": "user",
            "content": f"{evidence}Passages:\n{passages}\n\nQuestion: {question}\n\n"
            "Reply on one line with a short answer taken from the passages (a name, a date, "
            "a number...), followed by the numbers of the passages that support it in "
            "brackets, e.g.: Paris [2]\n"
            "If the passages do not contain the answer, reply exactly: NOT SUPPORTED",
        },
    ]


def parse_cited(reply: str, n: int) -> tuple[str, str, list[int], list[int], bool]:
    """``(text, short, valid, invalid, refused)`` of a reader reply citing ``[1]..[n]``.

    ``text`` is the answer line with its markers, ``short`` the answer before its
    first marker (the whole line without markers when it starts with one);
    ``valid`` are the cited numbers shown (first-cited order), ``invalid`` the others.

    Example:
        >>> parse_cited("Answer: Imre Valko [2, 9].", 3)
        ('Imre Valko [2, 9]', 'Imre Valko', [2], [9], False)
        >>> parse_cited("NOT SUPPORTED", 3)[4]
        True
    """
    line = ""
    for candidate in (reply or "").splitlines():
        candidate = _LABEL.sub("", candidate.strip()).strip().strip("*`").strip()
        if candidate and not candidate.endswith(":"):
            line = candidate
            break
    valid: list[int] = []
    invalid: list[int] = []
    for m in _MARKER.finditer(reply or ""):
        for num in (int(x) for x in m.group(1).split(",")):
            target = valid if 1 <= num <= n else invalid
            if num not in target:
                target.append(num)
    text = line.rstrip(".").strip()
    first = _MARKER.search(text)
    head = text[: first.start()] if first and first.start() > 0 else _MARKER.sub(" ", text)
    short = " ".join(head.split()).strip(" .,;:\"'")
    refused = bool(_NOT_SUPPORTED.search(reply or ""))
    return text, short, valid, invalid, refused


class CitingReader:
    """Answers from numbered passages (and an optional note) with one LLM call.

    Args:
        llm: The chat model (:class:`~hipporag.protocols.LLM`).
        max_passages: Passages shown (the best first).
        passage_chars: Each passage is cut to this many characters.
        max_tokens: Completion budget of the answer.
    """

    def __init__(
        self, llm: Any, *, max_passages: int = 5, passage_chars: int = 600, max_tokens: int = 64
    ) -> None:
        self.llm = llm
        self.max_passages = max_passages
        self.passage_chars = passage_chars
        self.max_tokens = max_tokens

    def answer(self, question: str, note: Any = None, hits: Sequence[Hit] = ()) -> Answer:
        """Read ``hits`` (and ``note``, a text or a note with ``.text``) and answer with citations."""
        shown = list(hits)[: self.max_passages]
        out = Answer(question, None, passages=shown)
        if not shown:
            out.refusal = f"{REFUSAL}: nothing was retrieved"
            out.flags.append("no_passages")
            return out
        note_text = getattr(note, "text", note) or ""
        messages = cite_messages(
            question, number_passages(shown, self.passage_chars), str(note_text)
        )
        out.raw = self.llm.chat(messages, max_tokens=self.max_tokens) or ""
        out.llm_calls = 1
        out.text, short, valid, out.invalid_citations, refused = parse_cited(out.raw, len(shown))
        if out.invalid_citations:
            out.flags.append("invalid_citations")
        out.citations = [Citation.of(n, shown[n - 1]) for n in valid]
        if refused:
            out.refusal = f"{REFUSAL}: the model said so"
            out.flags.append("model_refused")
        elif not valid or not short:
            dropped = f" (dropped {out.invalid_citations})" if out.invalid_citations else ""
            out.refusal = f"{REFUSAL}: the reply cites no passage shown{dropped}"
            out.flags.append("no_valid_citation")
        else:
            out.answer, out.supported = short, True
        return out


__all__ = [
    "REFUSAL",
    "Answer",
    "Citation",
    "CitingReader",
    "cite_messages",
    "number_passages",
    "parse_cited",
]
