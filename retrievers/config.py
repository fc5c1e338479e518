"""The ``[retrieval]`` configuration section, owned by the retrievers.

:class:`RetrievalConfig` is the flat, user-facing union of the parameters of
every registered retriever (the keys of a ``--config`` TOML file and of
``--set KEY=VALUE``). Each retriever reads its own validated subset through
its ``Params`` section (see :mod:`retrievers.params` and
:mod:`retrievers.registry`); building a ``RetrievalConfig`` validates every
one of them, so a bad value fails at once with the key named.

Example:
    >>> cfg = RetrievalConfig.from_dict({"mode": "hipporag2", "top_facts": 5})
    >>> cfg.damping, RetrievalConfig.from_toml(cfg.to_toml()) == cfg
    (0.5, True)
    >>> RetrievalConfig(mode="hybird")
    Traceback (most recent call last):
    ...
    hipporag.errors.ConfigError: retrieval.mode must be one of ('dense', 'hipporag1', 'hipporag2', 'hybrid', 'lexical'), got 'hybird'
      how to fix: did you mean 'hybrid'?
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from hipporag.config import DEFAULT_SPACY_MODEL, EMBEDDING_BACKENDS, LLMConfig, valid_device
from hipporag.sections import Section, check, suggest
from retrievers.params import BaseParams
from retrievers.rerank.config import RerankConfig


@dataclass(frozen=True)
class RetrievalConfig(Section):
    """Every parameter of online retrieval. Validated when built; round-trips dict/TOML.

    ``mode`` names a registered retriever (:func:`retrievers.registry.names`):
    ``"dense"``, ``"hipporag1"``, ``"hipporag2"``, ``"hybrid"`` (default) or ``"lexical"``;
    each one documents its parameters in its own module. ``query_backend``
    chooses how queries are embedded: ``"index"`` (default) uses the index's
    ``embedding.backend``; ``"torch"``, ``"onnx"`` or ``"auto"`` override it.
    ``query_device`` (default ``"index"``: the index's ``embedding.device``)
    chooses where queries are encoded: ``"auto"``, ``"cpu"``, ``"cuda"``,
    ``"cuda:N"`` or ``"mps"``. ``unknown_filter_keys`` decides what a metadata
    filter naming a key no passage has does: ``"error"`` (default: a "did you
    mean" error) or ``"match_none"`` (the filter matches nothing, with a warning).
    ``rerank`` (a ``[rerank]`` table, off by default) reorders the top hits of
    any mode (see :mod:`retrievers.rerank`).
    """

    _name: ClassVar[str] = "retrieval"
    mode: str = "hybrid"
    damping: float = 0.5
    top_facts: int = 5
    link_k: int = 1
    fusion: str = "dense_prior"
    entity_mass: float = 0.2
    temperature: float = 0.02
    passage_weight: float = 0.05
    dense_candidates: int = 50
    rrf_k: int = 60
    lexical_mass: float = 0.2
    lexical_weight: float = 0.0
    lexical_candidates: int = 5
    lexical_temperature: float = 0.02
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    bridge_hops: int = 0
    bridge_mass: float = 0.5
    bridge_threshold: float = 0.3
    bridge_width: int = 5
    ppr_method: str = "auto"
    ppr_eps: float = 1e-6
    explain: bool = True
    path_hops: int = 4
    recognition: bool = False
    recognition_max_facts: int = 4
    spacy_model: str = DEFAULT_SPACY_MODEL
    query_backend: str = "index"
    query_device: str = "index"
    unknown_filter_keys: str = "error"
    llm: LLMConfig = field(default_factory=LLMConfig)
    rerank: RerankConfig = field(default_factory=RerankConfig)

    def validate(self) -> None:
        from retrievers import registry

        check(
            self.query_backend in ("index", *EMBEDDING_BACKENDS),
            f"retrieval.query_backend must be 'index' or one of {EMBEDDING_BACKENDS}, "
            f"got {self.query_backend!r}",
            "'index' encodes queries with the backend the index was built with; "
            "'onnx' is the fastest for single queries",
        )
        check(
            self.query_device == "index" or valid_device(self.query_device),
            "retrieval.query_device must be 'index', auto, cpu, cuda, cuda:N or mps, "
            f"got {self.query_device!r}",
            "'index' encodes queries on the device setting the index was built with",
        )
        check(
            self.unknown_filter_keys in ("error", "match_none"),
            "retrieval.unknown_filter_keys must be 'error' or 'match_none', "
            f"got {self.unknown_filter_keys!r}",
            "'match_none' makes a filter on a key no passage has match nothing",
        )
        modes = registry.names(rankers_only=True)
        check(
            self.mode in modes,
            f"retrieval.mode must be one of {modes}, got {self.mode!r}",
            suggest(self.mode, modes),
        )
        for name in registry.names():
            params = registry.spec(name).params
            if issubclass(params, BaseParams):
                params.from_config(self)  # each retriever validates its own keys


__all__ = ["RetrievalConfig"]
