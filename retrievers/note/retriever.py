"""``note``: the adaptive note loop as a registered retriever (an iterative mode).

:class:`NoteRetriever` is a :class:`~retrievers.note.loop.NoteLoop` over a
ranker (anything with ``retrieve(query, k, extra_seeds=..., exclude=...)``,
such as :class:`~retrievers.graph.GraphRetriever` or the facade), with the
policy chosen by ``config.policy`` (:func:`make_policy`). Its parameters are
the ``[note]`` section, :class:`~retrievers.note.config.NoteConfig`. It is
registered with ``ranker=False``: it calls a ranker several times per
question, so it is run through its own API (``hipporag answer``, the ``note``
evaluation runner) rather than ``retrieve(mode="note")``.

Example:
    >>> from retrievers import registry
    >>> registry.spec("note").params.__name__, registry.spec("note").ranker
    ('NoteConfig', False)
"""

from __future__ import annotations

from typing import Any

from hipporag.errors import ConfigError
from hipporag.protocols import LLM, IndexView
from retrievers.note.config import NoteConfig
from retrievers.note.graph_policy import GraphNotePolicy
from retrievers.note.graph_view import IndexGraphView
from retrievers.note.llm_policy import LLMNotePolicy
from retrievers.note.loop import NoteLoop
from retrievers.note.policy import NotePolicy
from retrievers.registration import register


def make_policy(index: IndexView, config: NoteConfig, llm: LLM | None = None) -> NotePolicy:
    """The note policy named by ``config.policy`` (``auto``: LLM if given, else graph).

    Raises:
        ConfigError: ``policy = "llm"`` without an LLM.
    """
    view = IndexGraphView(index)
    kind = config.policy if config.policy != "auto" else ("llm" if llm is not None else "graph")
    if kind == "llm":
        if llm is None:
            raise ConfigError(
                "note.policy = 'llm' needs an LLM",
                hint="pass --llm-base-url and --llm-model, or use note.policy = 'graph'",
            )
        return LLMNotePolicy(llm, config, view)
    return GraphNotePolicy(view, config)


@register(
    "note",
    params=NoteConfig,
    summary="adaptive note loop: iterative retrieval over a ranker (eval/answer)",
    ranker=False,
)
class NoteRetriever(NoteLoop):
    """The note loop over ``ranker`` on ``index``, its policy built from ``config``.

    Args:
        ranker: The retriever the loop calls (seeds and exclusions are forwarded
            when it declares them in ``accepts``).
        index: The index the policy reads (entities, facts, PPR mass).
        config: The ``[note]`` parameters.
        llm: Chat model of the LLM policy (None: the graph policy under ``auto``).
    """

    def __init__(
        self,
        ranker: Any,
        index: IndexView,
        config: NoteConfig | None = None,
        llm: LLM | None = None,
    ) -> None:
        config = config or NoteConfig()
        super().__init__(
            ranker, make_policy(index, config, llm), config, entity_names=index.entity_names
        )
        self.index = index
        self.llm = llm

    def to_dict(self) -> dict[str, Any]:
        """``{"type": "note", "init_parameters": {...}}``."""
        return {"type": "note", "init_parameters": self.config.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any], index: IndexView, **parts: Any) -> NoteRetriever:
        """Rebuild over ``index``; ``parts`` must hold the ``ranker`` (and may hold ``llm``)."""
        config = NoteConfig.from_dict(data.get("init_parameters", {}))
        return cls(parts["ranker"], index, config, parts.get("llm"))


__all__ = ["NoteRetriever", "make_policy"]
