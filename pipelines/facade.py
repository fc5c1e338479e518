"""The Python API: open (or build) an index and retrieve with explanations.

Example:
    >>> from hipporag import HippoRAG
    >>> rag = HippoRAG.open(DEMO_INDEX)
    >>> result = rag.retrieve("Who directed the film that won the award?", k=5)
    >>> result.to_polars().select("rank", "title", "score").shape
    (5, 3)
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.config import IndexConfig
from hipporag.errors import InputError
from hipporag.filters import allowed_passages, validate_filters
from hipporag.grouping import GROUP_BY, DocumentResult, top_documents
from hipporag.index import Index
from hipporag.index.shardset import is_sharded
from hipporag.text import normalize_entity
from hipporag.types import Passage, RetrievalResult, Seed
from pipelines.facade_answer import AnswerMixin
from pipelines.facade_async import AsyncMixin
from pipelines.facade_lifecycle import ClosableMixin
from pipelines.facade_util import _combine, _merge, _passages, shared_embedder
from pipelines.sharded import ShardedHippoRAG
from retrievers.config import RetrievalConfig


class HippoRAG(ClosableMixin, AnswerMixin, AsyncMixin):
    """An index plus retrieval parameters: the main entry point of the toolkit.

    Cheap to create and to pickle (the index path and the parameters only);
    models, graph matrices and tables load on first use in each process.

    Args:
        index_dir: An index directory written by ``hipporag index`` or :meth:`build`.
        config: Retrieval parameters (default :class:`RetrievalConfig`: mode ``"hybrid"``).

    Example:
        >>> rag = HippoRAG.open(DEMO_INDEX, mode="hipporag2", top_facts=5)
        >>> res = rag.retrieve("Who directed Salt Harbour?", k=3)
        >>> res[0].title, res[0].explanation.path
        ('Salt Harbour', ['salt harbour', '[Salt Harbour]'])
        >>> import pickle
        >>> len(pickle.loads(pickle.dumps(rag)).retrieve("Who directed Salt Harbour?", k=3))
        3
    """

    accepts = frozenset({"extra_seeds", "exclude", "allow"})
    """Options of :meth:`retrieve` the note loop may use (see ``SeededRetriever``)."""

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
        self._allow_cache: dict[str, np.ndarray | None] = {}
        self._allow_index: Index | None = None

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
        if is_sharded(index_dir):  # a set of shards behind the same API
            return ShardedHippoRAG.open(  # type: ignore[return-value]
                index_dir, config, single=cls, auto_refresh=auto_refresh, **overrides
            )
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
        *,
        metadata_fields: Sequence[str] = (),
        shards: int | None = None,
    ) -> HippoRAG:
        """Index a corpus (JSON, JSONL, Parquet, CSV, .txt/.md folder) or records, then open it.

        Args:
            corpus: A path, or a list of :class:`Passage`, record dicts
                (``{"id"?, "title"?, "text", "metadata"?}``) or strings.
            out_dir: Where to write the index (replaced atomically).
            config: Index parameters (default :class:`IndexConfig`: spaCy OpenIE, MiniLM).
            retrieval: Retrieval parameters of the returned object.
            metadata_fields: Top-level record fields to keep as metadata.
            shards: Write a sharded index of this many shards (or a
                :class:`~hipporag.index.shardset.ShardSpec`); see :mod:`pipelines.sharded`.
        """
        from indexers.builder import IndexBuilder

        if shards is not None:
            return ShardedHippoRAG.build(  # type: ignore[return-value]
                corpus,
                out_dir,
                shards,
                config,
                retrieval,
                metadata_fields=metadata_fields,
                single=cls,
            )

        passages, stats = _passages(corpus, metadata_fields)
        IndexBuilder(config).build(
            passages, out_dir, read_stats=stats.to_dict() if stats is not None else None
        )
        return cls.open(out_dir, retrieval)

    # -- parts -----------------------------------------------------------------------
    @property
    def index(self) -> Index:
        """The open :class:`~hipporag.index.Index`."""
        if self._index is None:
            self._check_open()
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

    def _change(
        self,
        operation: str,
        corpus: Any = (),
        ids: Sequence[str] = (),
        reextract: bool = False,
        **kw: Any,
    ) -> Any:
        from indexers.builder import IndexBuilder

        config = self.index.config
        kw.setdefault("embedder", shared_embedder(config.embedding))  # loaded once per process
        builder = IndexBuilder(config, **kw)
        if operation == "delete":
            report = builder.delete(list(ids), self.path)
        elif operation == "compact":
            report = builder.compact(self.path)
        else:
            passages, _ = _passages(corpus)
            extra = {"reextract": True} if reextract else {}
            report = getattr(builder, operation)(passages, self.path, **extra)
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

    def update(self, corpus: Any, *, reextract: bool = False, **components: Any) -> Any:
        """Upsert by document: changed documents are replaced, unchanged ones cost nothing.

        ``reextract=True`` replaces the given documents even when unchanged, so
        they are extracted again (``hipporag update --reextract``), e.g. with a
        new ``extractor=``.
        """
        return self._change("update", corpus, reextract=reextract, **components)

    def compact(self) -> Any:
        """Rewrite the index as one piece per file (see ``hipporag compact``); no model runs."""
        from indexers.builder import IndexBuilder

        report = IndexBuilder(self.index.config).compact(self.path)
        self.refresh()
        return report

    @property
    def generation(self) -> int:
        """The generation this object reads (as a sharded index's shard-set generation)."""
        return int(self.index.generation)

    @property
    def retriever(self) -> Any:
        """The :class:`~retrievers.graph.GraphRetriever` doing the work."""
        if self._retriever is None:
            with self._lock:
                if self._retriever is None:
                    from retrievers.graph import GraphRetriever

                    index = self.index
                    embedder = shared_embedder(
                        index.config.embedding, self.config.query_backend, self.config.query_device
                    )
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
        filters: Mapping[str, Any] | None = None,
        group_by: str | None = None,
        allow: Any = None,
    ) -> RetrievalResult | DocumentResult:
        """The ``k`` best passages for ``query``, each with an explanation.

        Args:
            query: The question.
            k: Number of hits (>= 1; more than the corpus returns all passages).
            mode: A registered retrieval mode (:meth:`modes`: ``"hybrid"``,
                ``"hipporag2"``, ``"hipporag1"``, ``"dense"``); default ``config.mode``.
            extra_seeds: ``{entity_idx: weight}`` added to the query's seeds (see
                :meth:`entity_index`); weight 1.0 equals all linked seeds together.
            exclude: Passages to leave out (``passage_id`` or ``passage_idx``).
            filters: A metadata filter spec (see :mod:`hipporag.filters`), e.g.
                ``{"lang": "en", "year": {"gte": 2020}}``: only matching passages are
                candidates, ranked and returned.
            group_by: ``"document"`` returns a :class:`~hipporag.grouping.DocumentResult`
                of the ``k`` best documents, each with its matching chunks.
            allow: Sorted int64 ``passage_idx`` that may be returned (None: all); with
                ``filters`` too, a passage must satisfy both.

        Raises:
            RetrievalError: Empty query, bad ``k``, unknown mode, bad seeds.
            InputError: A malformed filter spec or an unknown ``group_by``.
        """
        if group_by not in GROUP_BY:
            raise InputError(
                f"unknown group_by {group_by!r}", hint="use None (passages) or 'document'"
            )
        self._maybe_refresh()
        allow = _combine(allow, self.allowed(filters))
        kwargs: dict[str, Any] = {"mode": mode, "extra_seeds": extra_seeds, "exclude": exclude}
        if allow is not None:
            kwargs["allow"] = allow
        if group_by != "document":
            return self._ranked(query, k, kwargs)
        total = self.index.n_passages if allow is None else int(allow.shape[0])
        return top_documents(lambda n: self._ranked(query, n, kwargs), k, total)

    def allowed(
        self, filters: Mapping[str, Any] | None, unknown_keys: str | None = None
    ) -> np.ndarray | None:
        """The allow-list of a filter spec (see :func:`hipporag.filters.allowed_passages`).

        The last few specs' lists are kept per open index, so a repeated filter
        costs no SQL query. ``unknown_keys`` overrides ``config.unknown_filter_keys``.
        """
        policy = unknown_keys or self.config.unknown_filter_keys
        if not filters:
            return allowed_passages(self.index, filters, unknown_keys=policy)
        index = self.index
        validate_filters(filters)  # bounded: the key below cannot overflow
        key = policy + json.dumps(filters, sort_keys=True, default=str)
        with self._lock:
            if self._allow_index is not index:  # the index was reopened or refreshed
                self._allow_cache, self._allow_index = {}, index
            found = self._allow_cache.get(key)
        if found is None:
            found = allowed_passages(index, filters, unknown_keys=policy)
            if found is not None:
                found.setflags(write=False)
            with self._lock:
                if self._allow_index is index:
                    if len(self._allow_cache) >= 64:
                        self._allow_cache.pop(next(iter(self._allow_cache)))
                    self._allow_cache[key] = found
        return found

    def retrieve_batch(
        self,
        queries: Sequence[str],
        k: int = 5,
        mode: str | None = None,
        *,
        filters: Mapping[str, Any] | None = None,
        allow: Any = None,
    ) -> list[RetrievalResult]:
        """:meth:`retrieve` for a list of queries (encoded in one batch), one filter for all."""
        self._maybe_refresh()
        allow = _combine(allow, self.allowed(filters))
        return self._ranked_batch(queries, k, mode, allow)

    @staticmethod
    def modes() -> tuple[str, ...]:
        """The retrieval modes :meth:`retrieve` accepts (from the retriever registry)."""
        from retrievers import registry

        return registry.names(rankers_only=True)

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
