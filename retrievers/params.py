"""Validated parameters of the retrievers, one section per retriever family.

Each retriever declares the parameters it reads as a frozen
:class:`~hipporag.sections.Section` (strict construction, "did you mean"
suggestions, dict/TOML round trip). They nest by inheritance: every graph
retriever has the PPR parameters, fact-seeded ones add fact linking, and so on.
The user-facing :class:`~retrievers.config.RetrievalConfig` is the flat union
of them (the ``[retrieval]`` table and ``--set`` keys); ``Params.from_config``
picks a retriever's own fields out of it.

Example:
    >>> p = PPRParams(damping=0.6)
    >>> PPRParams.from_dict(p.to_dict()) == p, "damping" in PPRParams.field_names()
    (True, True)
    >>> PPRParams(damping=1.0)
    Traceback (most recent call last):
    ...
    hipporag.errors.ConfigError: retrieval.damping must be in [0, 1), got 1.0
      how to fix: it is the probability to follow an edge; HippoRAG uses 0.5
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from hipporag.config import LLMConfig
from hipporag.sections import Section, check

FUSION_METHODS = ("dense_prior", "hipporag2", "rrf")
PPR_METHODS = ("auto", "power", "push")


@dataclass(frozen=True)
class BaseParams(Section):
    """Parameters every retriever has.

    Attributes:
        explain: Attach an :class:`~hipporag.types.Explanation` to every hit.
    """

    _name: ClassVar[str] = "retrieval"
    explain: bool = True

    @classmethod
    def from_config(cls, config: Any):
        """This section's fields taken from a config object with (at least) the same names."""
        return cls(**{k: getattr(config, k) for k in cls.field_names()})


@dataclass(frozen=True)
class PPRParams(BaseParams):
    """Personalized PageRank and explanation parameters of the graph retrievers.

    Attributes:
        damping: Probability to follow an edge (HippoRAG: 0.5).
        ppr_method: ``"auto"`` (local push, power iteration when push gets expensive),
            ``"push"`` or ``"power"``.
        ppr_eps: Residual threshold of the local push.
        path_hops: Longest seed-to-passage path shown in explanations.
    """

    damping: float = 0.5
    ppr_method: str = "auto"
    ppr_eps: float = 1e-6
    path_hops: int = 4

    def validate(self) -> None:
        check(
            self.ppr_method in PPR_METHODS,
            f"retrieval.ppr_method must be one of {PPR_METHODS}, got {self.ppr_method!r}",
            "'auto' picks the cheaper of local push and power iteration",
        )
        check(
            0.0 <= self.damping < 1.0,
            f"retrieval.damping must be in [0, 1), got {self.damping}",
            "it is the probability to follow an edge; HippoRAG uses 0.5",
        )
        check(
            0.0 < self.ppr_eps < 1.0,
            f"retrieval.ppr_eps must be in (0, 1), got {self.ppr_eps}",
            "typical values are 1e-6 .. 1e-8",
        )
        check(
            1 <= self.path_hops <= 8,
            f"retrieval.path_hops must be in [1, 8], got {self.path_hops}",
        )


@dataclass(frozen=True)
class FactParams(PPRParams):
    """Fact-seeded graph retrieval (HippoRAG 2 linking, optional LLM recognition filter).

    Attributes:
        top_facts: Facts nearest to the query that give seeds (HippoRAG 2: 5).
        recognition: Filter those facts with an LLM (``llm``).
        recognition_max_facts: Facts the filter may keep.
        passage_weight: HippoRAG 2's passage reset factor (0.05).
        dense_candidates: Dense passages considered by fusions that use only the best ones.
        llm: Endpoint of the recognition filter.
    """

    top_facts: int = 5
    recognition: bool = False
    recognition_max_facts: int = 4
    passage_weight: float = 0.05
    dense_candidates: int = 50
    llm: LLMConfig = field(default_factory=LLMConfig)

    def validate(self) -> None:
        super().validate()
        check(self.top_facts >= 1, f"retrieval.top_facts must be >= 1, got {self.top_facts}")
        check(
            self.recognition_max_facts >= 1,
            f"retrieval.recognition_max_facts must be >= 1, got {self.recognition_max_facts}",
        )
        check(
            self.passage_weight >= 0,
            f"retrieval.passage_weight must be >= 0, got {self.passage_weight}",
        )
        check(
            self.dense_candidates >= 1,
            f"retrieval.dense_candidates must be >= 1, got {self.dense_candidates}",
        )


__all__ = ["FUSION_METHODS", "PPR_METHODS", "BaseParams", "FactParams", "PPRParams"]
