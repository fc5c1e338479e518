"""Adaptive note-enhanced iterative retrieval (the Adaptive-Note method) over any retriever.

:class:`NoteLoop` runs the loop; a :class:`NotePolicy` writes, refines and
judges notes and proposes queries: :class:`GraphNotePolicy` (LLM-free, from the
knowledge graph) or :class:`LLMNotePolicy` (a chat model). The result is a
:class:`NoteResult` carrying the final ranking, the best note and a
:class:`NoteTrace`. See docs/note_loop.md.

Example:
    >>> from retrievers.note.config import NoteConfig
    >>> from retrievers.note import GraphNotePolicy, IndexGraphView, NoteLoop
    >>> # rag = HippoRAG.open("my-index")
    >>> # loop = NoteLoop(rag, GraphNotePolicy(IndexGraphView(rag.index)), NoteConfig())
    >>> # print(loop.run("Who directed the film that won the award in 1987?").trace)
"""

from retrievers.note.graph_policy import GraphNotePolicy
from retrievers.note.graph_view import Fact, IndexGraphView
from retrievers.note.llm_policy import LLMNotePolicy
from retrievers.note.loop import NoteLoop, RetrieveFn, as_retrieve_fn
from retrievers.note.policy import Meter, Note, NotePolicy, Verdict
from retrievers.note.trace import STOP_REASONS, NoteResult, NoteStep, NoteTrace

__all__ = [
    "STOP_REASONS",
    "Fact",
    "GraphNotePolicy",
    "IndexGraphView",
    "LLMNotePolicy",
    "Meter",
    "Note",
    "NoteLoop",
    "NotePolicy",
    "NoteResult",
    "NoteStep",
    "NoteTrace",
    "RetrieveFn",
    "Verdict",
    "as_retrieve_fn",
]
