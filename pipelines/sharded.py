"""A sharded index behind the :class:`~pipelines.facade.HippoRAG` API.

``HippoRAG.build(corpus, out, shards=4)`` (or ``hipporag index --shards 4``)
writes a sharded index (:mod:`hipporag.index.shardset`); ``HippoRAG.open`` of
such a directory returns a :class:`ShardedHippoRAG`. Each shard is a full
living index with its own graph; a query is encoded once, fanned out to every
shard (threads by default, Ray actors with ``fanout="ray"``) and the shards'
rankings are merged into one (:mod:`pipelines.shard_merge` says how scores are
calibrated). Writes route documents to their shard, commit the shards they
touch, then commit the shard set, so readers move from one consistent set of
shard generations to the next.

Example:
    >>> import tempfile, pathlib
    >>> from pipelines.facade import HippoRAG
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "sharded"
    >>> docs = [{"id": "ada", "text": "Ada Lovelace wrote the first program."},
    ...         {"id": "babbage", "text": "Charles Babbage designed the Analytical Engine."},
    ...         {"id": "both", "text": "Ada Lovelace worked with Charles Babbage."}]
    >>> rag = HippoRAG.build(docs, out, shards=2)
    >>> rag.n_shards, sorted(h.passage_id for h in rag.retrieve("Who is Ada?", k=3))
    (2, ['ada', 'babbage', 'both'])
    >>> rag.delete(["babbage"]).generation, len(rag.retrieve("Babbage", k=3))
    (2, 2)
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.config import IndexConfig
from hipporag.errors import ConfigError, IndexFormatError, InputError
from hipporag.grouping import GROUP_BY, top_documents
from hipporag.index import Index
from hipporag.index.shardset import (
    ShardSpec,
    commit_shardset,
    read_shardset,
    set_lock,
    shard_name,
)
from hipporag.types import RetrievalResult
from pipelines.facade_async import AsyncMixin
from pipelines.facade_util import _merge, _passages, shared_embedder
from pipelines.shard_merge import MERGES, hop_seeds, merge_results, shard_weights
from pipelines.shard_parts import (
    MemoEmbedder,
    ShardAllow,
    ShardedReport,
    ShardUnion,
    first_shard,
    pinned,
    route,
)
from retrievers.config import RetrievalConfig

FANOUTS = ("threads", "ray")


class ShardedHippoRAG(AsyncMixin):
    """Several shards queried as one index (see the module docstring).

    Args:
        index_dir: A sharded index directory.
        config: Retrieval parameters, shared by every shard.
        fanout: ``"threads"`` (default) or ``"ray"`` (one actor per shard).
        merge: How shard rankings are merged (:data:`pipelines.shard_merge.MERGES`).
        hops: 2 re-seeds every shard with the entities of the first round's best
            passages (recovers bridges that cross shards; doubles the work).
        single: The facade class each shard is opened with (``HippoRAG``, which
            opens a sharded index as this class: use ``HippoRAG.open(path, ...)``).
    """

    def __init__(
        self,
        index_dir: str | os.PathLike[str],
        config: RetrievalConfig | None = None,
        *,
        fanout: str = "threads",
        merge: str = "calibrated",
        hops: int = 1,
        auto_refresh: float | None = None,
        single: type,
    ) -> None:
        if fanout not in FANOUTS:
            raise ConfigError(f"unknown fanout {fanout!r}", hint="use 'threads' or 'ray'")
        if merge not in MERGES:
            raise ConfigError(f"unknown merge {merge!r}", hint=f"use one of {', '.join(MERGES)}")
        if hops not in (1, 2):
            raise ConfigError(f"hops must be 1 or 2, got {hops!r}", hint="use hops=1 or hops=2")
        self.path = Path(index_dir).absolute()
        self.config = _merge(config, {})
        # Shards match nothing for a key they lack; the set checks keys against all shards.
        self.shard_config = dataclasses.replace(self.config, unknown_filter_keys="match_none")
        self.single = single
        self.fanout, self.merge, self.hops = fanout, merge, hops
        self.auto_refresh = auto_refresh
        self._lock = threading.RLock()
        self._pool: ThreadPoolExecutor | None = None
        self._ray: Any = None
        self._open(read_shardset(self.path))

    def _open(self, state: dict[str, Any]) -> None:
        self.state = state
        self.spec = ShardSpec.from_dict(state["spec"])
        self.generation = int(state["generation"])
        live = [
            (name, gen)
            for name, gen in zip(state["shards"], state["shard_generations"], strict=True)
            if gen > 0  # 0: no document was routed there yet (no directory)
        ]
        if not live:
            raise IndexFormatError(f"{self.path} has no shard with documents", hint="add documents")
        first = Index.open(self.path / live[0][0], generation=live[0][1])
        self._embedder = MemoEmbedder(
            shared_embedder(
                first.config.embedding, self.config.query_backend, self.config.query_device
            )
        )
        self.shards = [first_shard(self, first)] + [
            pinned(self.single)(self.path / name, self.shard_config, gen, self._embedder)
            for name, gen in live[1:]
        ]

    # -- construction ------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        index_dir: str | os.PathLike[str],
        config: RetrievalConfig | None = None,
        *,
        single: type,
        **overrides: Any,
    ) -> ShardedHippoRAG:
        """Open a sharded index: ``fanout``, ``merge``, ``hops`` and ``auto_refresh`` as
        in the constructor; other ``overrides`` replace retrieval parameters."""
        names = ("fanout", "merge", "hops", "auto_refresh")
        own = {k: overrides.pop(k) for k in names if k in overrides}
        return cls(index_dir, _merge(config, overrides), single=single, **own)

    @classmethod
    def build(
        cls,
        corpus: Any,
        out_dir: str | os.PathLike[str],
        shards: int | ShardSpec,
        config: IndexConfig | None = None,
        retrieval: RetrievalConfig | None = None,
        *,
        metadata_fields: Sequence[str] = (),
        single: type,
        **components: Any,
    ) -> ShardedHippoRAG:
        """Index a corpus into ``shards`` shards (documents routed by a stable hash)."""
        from indexers.builder import IndexBuilder

        spec = shards if isinstance(shards, ShardSpec) else ShardSpec(int(shards))
        out = Path(out_dir).absolute()
        if out.exists() and any(out.iterdir()):
            raise IndexFormatError(
                f"{out} exists and is not empty", hint="choose a new --out directory"
            )
        passages, _ = _passages(corpus, metadata_fields)
        groups = route(spec, passages)
        builder = IndexBuilder(config, **components)
        out.mkdir(parents=True, exist_ok=True)
        with set_lock(out):
            gens = []
            for i in range(spec.n):
                if groups[i]:
                    gens.append(int(builder.build(groups[i], out / shard_name(i)).generation))
                else:
                    gens.append(0)  # empty: created by the first insert routed to it
            commit_shardset(out, spec, gens, operation="build", parent=None)
        return cls.open(out, retrieval, single=single)

    # -- writes ------------------------------------------------------------------------
    def _change(self, operation: str, corpus: Any = (), ids: Sequence[str] = ()) -> Any:
        from pipelines.shard_writes import change_shards

        return change_shards(self, operation, corpus, ids)

    def insert(self, corpus: Any, **_: Any) -> ShardedReport:
        """Add documents, each to its shard (see :meth:`HippoRAG.insert`)."""
        return self._change("insert", corpus)

    def delete(self, ids: str | Sequence[str], **_: Any) -> ShardedReport:
        """Remove passages or documents by id from whichever shard holds them."""
        return self._change("delete", ids=[ids] if isinstance(ids, str) else list(ids))

    def update(self, corpus: Any, **_: Any) -> ShardedReport:
        """Upsert documents, each in its shard."""
        return self._change("update", corpus)

    def compact(self) -> ShardedReport:
        """Compact every shard (see :meth:`HippoRAG.compact`)."""
        return self._change("compact")

    def refresh(self) -> bool:
        """Move to the newest committed shard set; True when it changed."""
        with self._lock:
            state = read_shardset(self.path)
            if state["generation"] == self.generation:
                return False
            old = self.shards
            self._open(state)
            for s in old:
                s.close() if hasattr(s, "close") else None
            if self._ray is not None:
                self._ray.close()
                self._ray = None
            return True

    # -- retrieval ---------------------------------------------------------------------
    @property
    def n_shards(self) -> int:
        return len(self.shards)

    @property
    def index(self) -> ShardUnion:
        """A read view over every shard (ids, counts, SQL; shard 0's config)."""
        return ShardUnion(self.shards, self.generation)

    def _map(
        self, method: str, per_shard: Sequence[dict[str, Any]] | None, *args: Any, **kw: Any
    ) -> list[Any]:
        """Call ``method`` on every shard (``per_shard[i]`` adds keyword arguments)."""
        extra = per_shard or [{}] * len(self.shards)
        if self.fanout == "ray":
            from pipelines.shard_ray import RayFanout

            if self._ray is None:
                self._ray = RayFanout(self)
            return self._ray.map(method, extra, args, kw)
        if self._pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(min(len(self.shards), os.cpu_count() or 1))
        futures = [
            self._pool.submit(getattr(s, method), *args, **kw, **e)
            for s, e in zip(self.shards, extra, strict=True)
        ]
        return [f.result() for f in futures]

    def retrieve(
        self,
        query: str,
        k: int = 5,
        mode: str | None = None,
        *,
        filters: Mapping[str, Any] | None = None,
        exclude: Any = None,
        group_by: str | None = None,
        allow: ShardAllow | None = None,
    ) -> Any:
        """The ``k`` best passages over all shards (same arguments as :meth:`HippoRAG.retrieve`).

        ``group_by="document"`` works as on one index: a document's chunks all
        live in one shard (routing is by document), so grouping the merged
        passages is exact. ``allow`` is an allow-list from :meth:`allowed`
        (ANDed with ``filters``); ``extra_seeds`` (entity rows) has no meaning
        across shards and is not taken.
        """
        if allow is not None and not isinstance(allow, ShardAllow):
            raise InputError(
                "allow must come from this sharded index's allowed()",
                hint="pass filters=..., or allow=rag.allowed(filters)",
            )
        if group_by not in GROUP_BY:
            raise InputError(
                f"unknown group_by {group_by!r}", hint="use None (passages) or 'document'"
            )
        if self.auto_refresh is not None:
            self.refresh()
        if filters and self.config.unknown_filter_keys == "error":
            self._check_keys(filters)
        parts = allow.parts if allow is not None else (None,) * len(self.shards)
        if len(parts) != len(self.shards):
            raise InputError(
                "allow was made for another shard set", hint="call allowed() again after refresh()"
            )
        if group_by != "document":
            return self._merged(query, k, mode, filters, exclude, parts)
        total = sum(s.index.n_passages for s in self.shards)
        return top_documents(
            lambda n: self._merged(query, n, mode, filters, exclude, parts), k, total
        )

    def _merged(
        self,
        query: str,
        k: int,
        mode: str | None,
        filters: Any,
        exclude: Any,
        parts: Sequence[Any],
    ) -> RetrievalResult:
        """The merged ``k`` best passages of all shards (``parts``: each shard's allow-list)."""
        qvec = self._embedder.encode_query(query)
        kw = {"filters": filters, "exclude": exclude}
        allows = [{} if a is None else {"allow": a} for a in parts]
        results = self._map("retrieve", allows, query, k, mode, **kw)
        # Cosine scores are comparable across shards as they are; graph scores are not.
        graph = (mode or self.config.mode) != "dense"
        weights = (
            shard_weights(self, qvec, filters, parts)
            if self.merge == "calibrated" and graph
            else None
        )
        merged = merge_results(results, k, self.merge, weights)
        if self.hops == 2:
            seeds = hop_seeds(self, merged)
            extra = [{"extra_seeds": x or None} | a for x, a in zip(seeds, allows, strict=True)]
            second = self._map("retrieve", extra, query, k, mode, **kw)
            merged = merge_results(second, k, self.merge, weights)
            merged.flags.append("hops=2")
        merged.flags.append(f"shards={self.n_shards}")
        return merged

    def _check_keys(self, filters: Mapping[str, Any]) -> None:
        """A key no shard's passages have is the usual "did you mean" error."""
        from hipporag.filters import check_keys, metadata_keys

        check_keys(frozenset().union(*(metadata_keys(s.index) for s in self.shards)), filters)

    def retrieve_batch(
        self, queries: Sequence[str], k: int = 5, mode: str | None = None, **kw: Any
    ) -> list[RetrievalResult]:
        """:meth:`retrieve` for each query."""
        return [self.retrieve(q, k, mode, **kw) for q in queries]

    def allowed(
        self, filters: Mapping[str, Any] | None, unknown_keys: str | None = None
    ) -> ShardAllow | None:
        """The allow-list of a filter spec over every shard (None: no filter).

        As :meth:`HippoRAG.allowed`: ``unknown_keys`` overrides
        ``config.unknown_filter_keys``; a key no shard's passages have is the
        "did you mean" error under ``"error"``. Each shard keeps its own cache.
        """
        if not filters:
            return None
        if (unknown_keys or self.config.unknown_filter_keys) == "error":
            self._check_keys(filters)
        found = self._map("allowed", None, filters, unknown_keys="match_none")
        return ShardAllow([np.zeros(0, np.int64) if a is None else a for a in found])

    def warm_up(self) -> ShardedHippoRAG:
        """Load every shard's models and matrices now (in parallel)."""
        self._map("warm_up", None)
        return self

    def modes(self) -> tuple[str, ...]:
        """The retrieval modes (as :meth:`HippoRAG.modes`)."""
        return self.single.modes()

    def close(self) -> None:
        """Release the shards' files, the thread pool and any Ray actors."""
        for s in self.shards:
            if s._index is not None:
                s._index.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False)
        if self._ray is not None:
            self._ray.close()
            self._ray = None

    def __enter__(self) -> ShardedHippoRAG:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"ShardedHippoRAG({str(self.path)!r}, shards={self.n_shards}, "
            f"generation={self.generation}, mode={self.config.mode!r})"
        )


__all__ = ["ShardedHippoRAG"]
