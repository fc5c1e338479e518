"""The LLM note policy: notes, queries and verdicts written by a chat model.

Any :class:`~hipporag.protocols.LLM` works; with
:class:`~hipporag.llm.OpenAIChatLLM` every answer is cached, so re-running a
question costs no requests. The compare verdict is parsed strictly as a JSON
object and checked against :data:`~retrievers.note.prompts.COMPARE_SCHEMA`
(nothing is ever evaluated). Unusable outputs never stop the loop; each is
counted in the run's :class:`~retrievers.note.policy.Meter` and replaced by a
safe default:

============  ===========================  ===================================
role          unusable output              fallback
============  ===========================  ===================================
first note    empty                        the passages themselves, cut
next query    empty                        ``None``: the loop stops
refine        empty                        the best note, unchanged (rejected)
judge         not JSON / wrong schema      reject: the best note is kept
============  ===========================  ===================================

Example:
    >>> from hipporag.llm import OpenAIChatLLM                          # doctest: +SKIP
    >>> llm = OpenAIChatLLM(LLMConfig(base_url="http://127.0.0.1:8080/v1"))  # doctest: +SKIP
    >>> policy = LLMNotePolicy(llm, NoteConfig())                       # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from hipporag.llm.jsonparse import ModelOutputError, parse_json_object
from hipporag.protocols import LLM
from hipporag.types import Hit
from retrievers.note import prompts
from retrievers.note.config import NoteConfig
from retrievers.note.graph_view import IndexGraphView
from retrievers.note.policy import Meter, Note, Verdict

_PREFIX = re.compile(r"^\s*(?:(?:new\s+)?(?:search\s+)?query|question)\s*[:\-]\s*", re.IGNORECASE)
_ECHO = re.compile(r"\s(?:Passages|Note so far|Searches already made|Current note):")
_MAX_QUERY_CHARS = 300


def clean_query(text: str) -> str:
    """First non-empty line of a model's query answer, without labels, bullets or quotes.

    Example:
        >>> clean_query('  \\n Query: "Where was Imre Valko born?"\\nBecause...')
        'Where was Imre Valko born?'
        >>> clean_query("Question: Who won? Passages: [1] ...")  # an echoed prompt
        'Who won?'
    """
    for line in text.splitlines():
        line = _PREFIX.sub("", line.strip().lstrip("-*# ").strip())
        line = _ECHO.split(line, maxsplit=1)[0]
        line = line.strip().strip("\"'`").strip()
        if line:
            return line[:_MAX_QUERY_CHARS]
    return ""


class LLMNotePolicy:
    """First note, next query, refine and compare by prompting a chat model.

    Args:
        llm: The chat model (``chat(messages, json_schema=None, **params) -> str``).
        config: Prompt budgets (``passage_chars``, ``note_chars``,
            ``llm_max_tokens``) and ``max_note_seeds``.
        view: Optional index lookups; when given, the entities of the note's
            passages that the note names become its PPR seeds.

    Example:
        >>> class Scripted:
        ...     def chat(self, messages, json_schema=None, **params):
        ...         return '{"b_is_better": true, "reason": "adds the director"}' \\
        ...             if json_schema else "Salt Harbour was directed by Imre Valko."
        >>> policy = LLMNotePolicy(Scripted())
        >>> meter = Meter()
        >>> policy.judge("Who?", Note("a"), Note("b"), meter).accept, meter.llm_calls
        (True, 1)
    """

    name = "llm"

    def __init__(
        self, llm: LLM, config: NoteConfig | None = None, view: IndexGraphView | None = None
    ) -> None:
        self.llm = llm
        self.config = config or NoteConfig()
        self.view = view

    def first_note(self, question: str, hits: Sequence[Hit], meter: Meter) -> Note:
        pids = tuple(h.passage_id for h in hits)
        if not hits:
            return Note("", pids)
        cfg = self.config
        text = self._chat(
            meter,
            prompts.first_note_messages(question, hits, cfg.passage_chars),
            max_tokens=cfg.llm_max_tokens,
        )
        if not text:
            meter.bad("first_note", "empty note; using the passages instead")
            text = prompts.render_passages(hits, cfg.passage_chars)[: cfg.note_chars]
        return self._note(text, pids)

    def next_query(
        self, question: str, note: Note, queries: Sequence[str], meter: Meter
    ) -> str | None:
        messages = prompts.next_query_messages(question, note.text, queries, self.config.note_chars)
        query = clean_query(self._chat(meter, messages, max_tokens=64))
        if not query:
            meter.bad("next_query", "empty query; stopping")
            return None
        return query

    def refine(self, question: str, note: Note, hits: Sequence[Hit], meter: Meter) -> Note:
        cfg = self.config
        messages = prompts.refine_messages(
            question, note.text, hits, cfg.passage_chars, cfg.note_chars
        )
        text = self._chat(meter, messages, max_tokens=cfg.llm_max_tokens)
        if not text:
            meter.bad("refine", "empty note; keeping the best note")
            return note
        return self._note(text, (*note.passage_ids, *(h.passage_id for h in hits)))

    def judge(self, question: str, best: Note, candidate: Note, meter: Meter) -> Verdict:
        if candidate.text.strip() == best.text.strip():
            return Verdict(False, "the refined note is unchanged")
        if not candidate.text.strip():
            meter.bad("judge", "empty candidate note")
            return Verdict(False, "the refined note is empty", error="empty note")
        messages = prompts.compare_messages(
            question, best.text, candidate.text, self.config.note_chars
        )
        raw = self._chat(meter, messages, json_schema=prompts.COMPARE_SCHEMA, max_tokens=128)
        try:
            data = parse_json_object(raw, prompts.COMPARE_SCHEMA)
        except ModelOutputError as err:
            meter.bad("judge", f"unusable verdict ({err.message}): {raw[:80]!r}")
            return Verdict(False, "unusable verdict; keeping the best note", error=err.message)
        accept = bool(data["b_is_better"])
        reason = str(data.get("reason", "")).strip() or ("B is better" if accept else "A kept")
        return Verdict(accept, reason[:300])

    # -- internals -------------------------------------------------------------------
    def _chat(self, meter: Meter, messages: list[dict[str, str]], **params: Any) -> str:
        meter.llm_calls += 1
        return (self.llm.chat(messages, **params) or "").strip()

    def _note(self, text: str, pids: Sequence[str]) -> Note:
        seeds: Mapping[int, float] = {}
        entities: tuple[str, ...] = ()
        if self.view is not None and self.config.max_note_seeds > 0:
            seeds = self.view.link_text(text, list(pids), limit=self.config.max_note_seeds)
            entities = tuple(self.view.names[e] for e in seeds)
        return Note(
            text[: self.config.note_chars], tuple(dict.fromkeys(pids)), (), entities, dict(seeds)
        )


__all__ = ["LLMNotePolicy", "clean_query"]
