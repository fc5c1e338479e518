"""The ``[rerank]`` configuration section: an optional stage after retrieval.

Off unless configured (``kind = "none"``). ``kind = "cross-encoder"`` scores
(query, passage) pairs with a sentence-transformers ``CrossEncoder`` (``model``
is a model name or a local path); ``kind = "llm"`` asks the chat model of the
``[llm]`` section to order the passages (listwise; ``model``, when given,
replaces ``llm.model``). Either one reorders the ``top_n`` best hits of any
retrieval mode.

Example:
    >>> RerankConfig.from_dict({"kind": "cross-encoder", "model": "/models/ce"}).top_n
    20
    >>> RerankConfig(kind="cross_encoder")
    Traceback (most recent call last):
    ...
    hipporag.errors.ConfigError: rerank.kind must be one of ('none', 'cross-encoder', 'llm'), got 'cross_encoder'
      how to fix: did you mean 'cross-encoder'?
    >>> RerankConfig.parse("cross-encoder:/models/ce").model
    '/models/ce'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hipporag.config import valid_device
from hipporag.errors import ConfigError
from hipporag.sections import Section, check, suggest

RERANK_KINDS = ("none", "cross-encoder", "llm")


@dataclass(frozen=True)
class RerankConfig(Section):
    """Parameters of the rerank stage.

    Attributes:
        kind: ``"none"`` (default: no rerank), ``"cross-encoder"`` or ``"llm"``.
        model: Cross-encoder name or local path (required for ``cross-encoder``);
            for ``llm`` an optional model name replacing ``llm.model``.
        top_n: How many of the best hits are reranked (the rest keep their order).
        batch_size: Pairs scored per cross-encoder batch.
        device: Where the cross-encoder runs: ``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``.
        passage_chars: Each passage is cut to this many characters in the LLM prompt.
        max_tokens: Completion budget of the LLM's reply.
    """

    _name: ClassVar[str] = "rerank"
    kind: str = "none"
    model: str = ""
    top_n: int = 20
    batch_size: int = 32
    device: str = "cpu"
    passage_chars: int = 400
    max_tokens: int = 128

    @property
    def enabled(self) -> bool:
        """True unless ``kind`` is ``"none"``."""
        return self.kind != "none"

    def validate(self) -> None:
        check(
            self.kind in RERANK_KINDS,
            f"rerank.kind must be one of {RERANK_KINDS}, got {self.kind!r}",
            suggest(self.kind, RERANK_KINDS),
        )
        check(
            self.kind != "cross-encoder" or bool(self.model.strip()),
            "rerank.kind = 'cross-encoder' needs rerank.model",
            "give a sentence-transformers CrossEncoder name or a local model folder",
        )
        check(self.top_n >= 1, f"rerank.top_n must be >= 1, got {self.top_n}")
        check(self.batch_size >= 1, f"rerank.batch_size must be >= 1, got {self.batch_size}")
        check(self.passage_chars >= 20, "rerank.passage_chars must be >= 20")
        check(self.max_tokens >= 8, "rerank.max_tokens must be >= 8")
        check(
            valid_device(self.device),
            f"rerank.device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}",
        )

    @classmethod
    def parse(cls, spec: str, **overrides: object) -> RerankConfig:
        """A config from a command-line spec: ``cross-encoder:MODEL``, ``llm``, ``llm:MODEL``
        or ``none``.
        """
        kind, _, model = spec.strip().partition(":")
        if kind not in RERANK_KINDS:
            raise ConfigError(
                f"--rerank {spec!r}: unknown kind {kind!r}",
                hint="use cross-encoder:MODEL (a name or a local path), llm, llm:MODEL or none",
            )
        return cls.from_dict({"kind": kind, "model": model.strip(), **overrides})


__all__ = ["RERANK_KINDS", "RerankConfig"]
