"""The Python API: open (or build) an index and retrieve with explanations.

Example:
    >>> from hipporag import HippoRAG
    >>> rag = HippoRAG.open("my-index")                                   # doctest: +SKIP
    >>> result = rag.retrieve("Who directed the film that won the award?", k=5)
    ...                                                                   # doctest: +SKIP
    >>> result.to_polars().select("rank", "title", "score")               # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from hipporag.config import EmbeddingConfig, IndexConfig, RetrievalConfig
from hipporag.errors import ConfigError, InputError
from hipporag.index import Index
from hipporag.protocols import Embedder
from hipporag.text import normalize_entity
from hipporag.types import Passage, RetrievalResult, Seed

_EMBEDDERS: dict[EmbeddingConfig, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def shared_embedder(config: EmbeddingConfig, backend: str = "index") -> Embedder:
    """One embedder per embedding config and process (models are loaded once).

    ``backend`` other than ``"index"`` replaces ``config.backend`` (query encoding only).
    """
    from hipporag.embedders import make_embedder

    if backend != "index":
        config = dataclasses.replace(config, backend=backend)
    with _EMBEDDERS_LOCK:
        emb = _EMBEDDERS.get(config)
        if emb is None:
            emb = _EMBEDDERS[config] = make_embedder(config)
        return emb


def _passages(corpus: Any) -> tuple[list[Passage], Any]:
    """Passages (and read stats) from a corpus path or a list of passages/records/strings."""
    from indexers.readers import passages_from_records, read_corpus

    if isinstance(corpus, str | os.PathLike):
        return read_corpus(corpus)
    if isinstance(corpus, Sequence):
        if corpus and all(isinstance(p, Passage) for p in corpus):
            return list(corpus), None
        return passages_from_records(corpus)
    raise InputError(
        f"corpus must be a path or a list of passages, got {type(corpus).__name__}",
        hint='pass "corpus.json" or [{"title": ..., "text": ...}, ...]',
    )


def _merge(config: RetrievalConfig | None, overrides: Mapping[str, Any]) -> RetrievalConfig:
    if config is not None and not isinstance(config, RetrievalConfig):
        raise ConfigError(
            f"config must be a RetrievalConfig, got {type(config).__name__}",
            hint="build one with RetrievalConfig(...) or RetrievalConfig.from_dict({...})",
        )
    base = config or RetrievalConfig()
    if not overrides:
        return base
    return RetrievalConfig.from_dict({**base.to_dict(), **dict(overrides)})


class HippoRAG:
    """An index plus retrieval parameters: the main entry point of the toolkit.

    Cheap to create and to pickle (the index path and the parameters only);
    models, graph matrices and tables load on first use in each process.

    Args:
        index_dir: An index directory written by ``hipporag index`` or :meth:`build`.
        config: Retrieval parameters (default :class:`RetrievalConfig`: mode ``"hybrid"``).

    Example:
        >>> rag = HippoRAG.open("my-index", mode="hipporag2", top_facts=5)  # doctest: +SKIP
        >>> res = rag.retrieve("Who directed Big Eyes?", k=3)               # doctest: +SKIP
        >>> res[0].title, res[0].explanation.path                           # doctest: +SKIP
        ('Big Eyes', ['big eyes', '[Big Eyes]'])
        >>> import pickle; pickle.loads(pickle.dumps(rag)).retrieve("...")  # doctest: +SKIP
    """

    def __init__(
        self,
        index_dir: str | os.PathLike[str],
        config: RetrievalConfig | None = None,
        *,
        auto_refresh: float | None = None,
    ):
        self.path = Path(index_dir).absolute()
        self.config = _merge(config, {})
        self.auto_refresh = auto_refresh
        self._checked = time.monotonic()
        self._index: Index | None = None
        self._retriever: Any = None
        self._entity_ids: dict[str, int] | None = None
        self._lock = threading.RLock()

    # -- construction ----------------------------------------------------------------
    @classmethod
    def open(
        cls,
        index_dir: str | os.PathLike[str],
        config: RetrievalConfig | None = None,
        *,
        auto_refresh: float | None = None,
        **overrides: Any,
    ) -> HippoRAG:
        """Open an index; ``overrides`` replace fields of ``config`` (validated).

        ``auto_refresh=N`` checks the index's commit point at most every ``N``
        seconds before a query and moves to a newer generation when there is one
        (off by default: an open object stays on its generation until
        :meth:`refresh`).

        Raises:
            IndexFormatError: No index there, or of another format version.
            ConfigError: An unknown or invalid retrieval parameter.
        """
        rag = cls(index_dir, _merge(config, overrides), auto_refresh=auto_refresh)
        _ = rag.index  # fail now, with a clear message, if the index is unusable
        return rag

    @classmethod
    def build(
        cls,
        corpus: str | os.PathLike[str] | Sequence[Passage | Mapping[str, Any] | str],
        out_dir: str | os.PathLike[str],
        config: IndexConfig | None = None,
        retrieval: RetrievalConfig | None = None,
    ) -> HippoRAG:
        """Index a corpus file/folder (JSON, JSONL, .txt folder) or passages, then open it.

        Args:
            corpus: A path, or a list of :class:`Passage`, ``{"title", "text"}`` dicts or strings.
            out_dir: Where to write the index (replaced atomically).
            config: Index parameters (default :class:`IndexConfig`: spaCy OpenIE, MiniLM).
            retrieval: Retrieval parameters of the returned object.
        """
        from indexers.builder import IndexBuilder

        passages, stats = _passages(corpus)
        IndexBuilder(config).build(
            passages, out_dir, read_stats=stats.to_dict() if stats is not None else None
        )
        return cls.open(out_dir, retrieval)

    # -- parts -----------------------------------------------------------------------
    @property
    def index(self) -> Index:
        """The open :class:`~hipporag.index.Index`."""
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = Index.open(self.path)
        return self._index

    # -- a living index --------------------------------------------------------------
    def refresh(self) -> bool:
        """Move to the index's newest generation; True when it changed (cheap otherwise).

        Queries already running finish on the generation they started on.
        """
        with self._lock:
            self._checked = time.monotonic()
            if self._index is None:
                return False
            new = self._index.refresh()
            if new is self._index:
                return False
            self._index, self._retriever, self._entity_ids = new, None, None
            return True

    def _maybe_refresh(self) -> None:
        if self.auto_refresh is not None and time.monotonic() - self._checked >= self.auto_refresh:
            self.refresh()

    def _change(self, operation: str, corpus: Any = (), ids: Sequence[str] = (), **kw: Any) -> Any:
        from indexers.builder import IndexBuilder

        config = self.index.config
        kw.setdefault("embedder", shared_embedder(config.embedding))  # loaded once per process
        builder = IndexBuilder(config, **kw)
        if operation == "delete":
            report = builder.delete(list(ids), self.path)
        else:
            passages, _ = _passages(corpus)
            report = getattr(builder, operation)(passages, self.path)
        self.refresh()
        return report

    def insert(self, corpus: Any, **components: Any) -> Any:
        """Add passages the index does not hold (a path or a list, as for :meth:`build`).

        OpenIE runs only on the new passages, and only texts the index lacks are
        embedded. ``components`` may give ``extractor=`` / ``embedder=``.
        Returns a :class:`~indexers.pipeline.ChangeReport` (counts added and
        removed per table, seconds per stage, the generation committed).
        """
        return self._change("insert", corpus, **components)

    def delete(self, ids: str | Sequence[str], **components: Any) -> Any:
        """Remove passages by passage id or document id; unknown ids are reported."""
        return self._change(
            "delete", ids=[ids] if isinstance(ids, str) else list(ids), **components
        )

    def update(self, corpus: Any, **components: Any) -> Any:
        """Upsert by document: changed documents are replaced, unchanged ones cost nothing."""
        return self._change("update", corpus, **components)

    @property
    def retriever(self) -> Any:
        """The :class:`~retrievers.graph.GraphRetriever` doing the work."""
        if self._retriever is None:
            with self._lock:
                if self._retriever is None:
                    from retrievers.graph import GraphRetriever

                    index = self.index
                    embedder = shared_embedder(index.config.embedding, self.config.query_backend)
                    self._retriever = GraphRetriever(index, self.config, embedder=embedder)
        return self._retriever

    def warm_up(self) -> HippoRAG:
        """Load models and matrices now (otherwise the first query pays for it)."""
        self.retriever.warm_up()
        return self

    # -- retrieval -------------------------------------------------------------------
    def retrieve(
        self,
        query: str,
        k: int = 5,
        mode: str | None = None,
        *,
        extra_seeds: Mapping[int, float] | None = None,
        exclude: Iterable[str | int] | None = None,
    ) -> RetrievalResult:
        """The ``k`` best passages for ``query``, each with an explanation.

        Args:
            query: The question.
            k: Number of hits (>= 1; more than the corpus returns all passages).
            mode: ``"hybrid"``, ``"hipporag2"``, ``"hipporag1"`` or ``"dense"``
                (default: ``config.mode``).
            extra_seeds: ``{entity_idx: weight}`` added to the query's seeds (see
                :meth:`entity_index`); weight 1.0 equals all linked seeds together.
            exclude: Passages to leave out (``passage_id`` or ``passage_idx``).

        Raises:
            RetrievalError: Empty query, bad ``k``, unknown mode, bad seeds.
        """
        self._maybe_refresh()
        return self.retriever.retrieve(
            query, k, mode=mode, extra_seeds=extra_seeds, exclude=exclude
        )

    def retrieve_batch(
        self, queries: Sequence[str], k: int = 5, mode: str | None = None
    ) -> list[RetrievalResult]:
        """:meth:`retrieve` for a list of queries (encoded in one batch)."""
        self._maybe_refresh()
        return self.retriever.retrieve_batch(queries, k, mode=mode)

    def link(self, query: str, mode: str | None = None) -> list[Seed]:
        """The entity seeds the query links to (strongest first), without running PPR."""
        return self.retriever.link(query, mode).seeds

    def entity_index(self, name: str) -> int | None:
        """``entity_idx`` of an entity by name (normalised as the index does), or None."""
        if self._entity_ids is None:
            self._entity_ids = {n: i for i, n in enumerate(self.index.entity_names)}
        return self._entity_ids.get(normalize_entity(name))

    # -- pickling: reference + parameters only ---------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "config": self.config.to_dict()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], RetrievalConfig.from_dict(state["config"]))  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"HippoRAG({str(self.path)!r}, mode={self.config.mode!r})"


__all__ = ["HippoRAG", "shared_embedder"]
