"""Opening an index: one generation, arrays memory-mapped, SQL in DuckDB, HNSW lazily.

An :class:`Index` is pinned to the generation that was current when it was
opened: writers may commit new generations meanwhile, this object keeps
reading the files of its own (a lease keeps ``hipporag gc`` away from them).
:meth:`Index.refresh` returns an ``Index`` on the newest generation.

Example:
    >>> idx = Index.open(DEMO_INDEX)
    >>> idx.counts["passages"], idx.graph.n_nodes == idx.n_entities + idx.n_passages
    (32, True)
    >>> top = idx.sql("SELECT name, n_passages FROM entities ORDER BY n_passages DESC LIMIT 3")
    >>> top.columns, top.height
    (['name', 'n_passages'], 3)
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.config import IndexConfig
from hipporag.errors import InputError
from hipporag.graph import CSRGraph
from hipporag.index.columns import PartedArray, assemble, column_layout
from hipporag.index.format import (
    ARRAYS,
    ARRAYS_DIR,
    DB_FILE,
    LIVE_ARRAYS,
    STATE_ARRAYS,
    file_path,
    read_generation,
    read_meta,
)
from hipporag.index.generations import drop_lease, take_lease
from hipporag.index.integrity import check_file, check_open, check_shape, check_sizes, damaged
from hipporag.index.lookups import IndexLookups
from hipporag.index.segments import Segment, SegmentedHNSW, load_segments
from hipporag.log import get_logger
from hipporag.types import Passage

logger = get_logger(__name__)
TABLES = ("passages", "entities", "facts", "fact_provenance", "mentions", "edges")


class Index(IndexLookups):
    """A read-only view of one generation of an index directory.

    Arrays are memory-mapped (``np.load(mmap_mode="r")``), so opening is cheap
    and several processes share pages. The DuckDB database is opened
    read-only on first use, with file system access disabled for
    :meth:`sql` unless ``external_access=True``; each thread gets its own
    cursor. Pickling keeps only the path, so an ``Index`` can be handed to Ray
    tasks or web workers.

    Args:
        path: the index directory.
        mmap: memory-map arrays (default) or read them into RAM.
        external_access: let :meth:`sql` read and write files (DuckDB's
            ``enable_external_access``); off by default.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        mmap: bool = True,
        *,
        external_access: bool = False,
        generation: int | None = None,
    ) -> None:
        self.path = Path(path).absolute()
        self.meta: dict[str, Any] = read_meta(self.path)
        if generation is not None and int(self.meta.get("generation", 0)) != generation:
            self.meta = read_generation(self.path, generation)
        self._mmap = mmap
        self._external = external_access
        self._arrays: dict[str, np.ndarray] = {}
        self._hnsw: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._con: Any = None
        self.format_version = int(self.meta["format_version"])
        self.generation = int(self.meta.get("generation", 0))
        self.read_only = self.format_version == 1
        if self.read_only:
            logger.warning(
                "%s is a format version 1 index: it opens read-only; convert it with "
                "'hipporag upgrade %s' to change it",
                self.path,
                self.path,
            )
        check_sizes(self.path, self.meta)
        self._lease = take_lease(self.path, self.generation) if not self.read_only else None
        self._closed = False

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        mmap: bool = True,
        *,
        external_access: bool = False,
        generation: int | None = None,
    ) -> Index:
        """Open an index at its current (or a stored ``generation``); checks format and sizes."""
        return cls(path, mmap=mmap, external_access=external_access, generation=generation)

    def refresh(self) -> Index:
        """This index at the newest committed generation (``self`` when nothing changed)."""
        from hipporag.index.generations import current_generation

        if current_generation(self.path) == self.generation:
            return self
        return Index(self.path, mmap=self._mmap, external_access=self._external)

    def file(self, logical: str) -> Path:
        """The file holding a logical part (``index.duckdb``, ``arrays/X.npy``, ...)."""
        rel = file_path(self.meta, logical)
        if rel is None:
            raise damaged(self.path, f"the manifest lists no {logical}")
        check_file(self.path, self.meta, logical, self.path / rel)
        return self.path / rel

    # -- pickling: reference only -----------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "mmap": self._mmap, "external": self._external}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(  # type: ignore[misc]
            state["path"], mmap=state["mmap"], external_access=state.get("external", False)
        )

    def __repr__(self) -> str:
        c = self.counts
        return (
            f"Index({str(self.path)!r}, generation={self.generation}, "
            f"passages={c.get('passages')}, entities={c.get('entities')}, facts={c.get('facts')})"
        )

    # -- metadata --------------------------------------------------------
    @cached_property
    def config(self) -> IndexConfig:
        return IndexConfig.from_dict(self.meta.get("config", {}))

    @property
    def counts(self) -> dict[str, Any]:
        return dict(self.meta.get("counts", {}))

    @property
    def n_passages(self) -> int:
        """Rows of the passage arrays (deleted rows included; see :meth:`live`)."""
        return int(self.meta["counts"]["passages"])

    @property
    def n_entities(self) -> int:
        """Rows of the entity arrays (deleted rows included)."""
        return int(self.meta["counts"]["entities"])

    @property
    def n_facts(self) -> int:
        """Rows of the fact arrays (deleted rows included)."""
        return int(self.meta["counts"]["facts"])

    def _live_rows(self, table: str) -> np.ndarray:
        """Boolean mask over the rows of ``passages``, ``entities`` or ``facts``.

        The storage side of :meth:`IndexLookups.live` (which caches it).
        """
        if table not in LIVE_ARRAYS:
            raise InputError(f"unknown table {table!r}", hint=f"choose one of {list(LIVE_ARRAYS)}")
        n = {"passages": self.n_passages, "entities": self.n_entities, "facts": self.n_facts}
        if self.read_only:
            return np.ones(n[table], dtype=bool)
        return np.asarray(self.array(LIVE_ARRAYS[table]), dtype=bool)

    # -- arrays ------------------------------------------------------------
    def array(self, name: str) -> np.ndarray:
        """A named array (memory-mapped unless ``mmap=False``).

        A column stored as several pieces (see :mod:`hipporag.index.columns`)
        is a :class:`~hipporag.index.columns.PartedArray` for the embeddings
        (no copy) and is assembled in RAM for the small per-row arrays.
        """
        arr = self._arrays.get(name)
        if arr is None:
            check_open(self)
            if name not in ARRAYS and name not in STATE_ARRAYS:
                raise KeyError(f"unknown array {name!r}; known: {sorted(ARRAYS)}")
            pieces, patches = column_layout(self.meta, name)
            if self.read_only or (len(pieces) == 1 and not patches):
                arr = self._load_npy(
                    f"{ARRAYS_DIR}/{name}.npy" if self.read_only else pieces[0].file
                )
            elif name.endswith("_embeddings") and not patches:
                arr = PartedArray([self._load_npy(p.file) for p in pieces])
            else:
                arr = assemble(
                    [(p, self._load_npy(p.file)) for p in pieces],
                    [(p, self._load_npy(p.file)) for p in patches],
                )
                arr.setflags(write=False)
            check_shape(self.path, self.meta, name, arr)
            self._arrays[name] = arr
        return arr

    def _load_npy(self, logical: str) -> np.ndarray:
        path = self.file(logical)
        try:
            return np.load(path, mmap_mode="r" if self._mmap else None, allow_pickle=False)
        except Exception as err:  # a damaged header: ValueError, TokenError, SyntaxError...
            raise damaged(self.path, f"{path.name} cannot be read ({err})") from None

    @property
    def passage_embeddings(self) -> np.ndarray:
        return self.array("passage_embeddings")

    @property
    def entity_embeddings(self) -> np.ndarray:
        return self.array("entity_embeddings")

    @property
    def fact_embeddings(self) -> np.ndarray:
        return self.array("fact_embeddings")

    @cached_property
    def graph(self) -> CSRGraph:
        """The graph: the stored CSR, with later generations' edge deltas applied in RAM."""
        indptr, indices = self.array("graph_indptr"), self.array("graph_indices")
        weights = self.array("graph_weights")
        if indices.shape != weights.shape or (indptr.shape[0] and indptr[-1] != indices.shape[0]):
            raise damaged(self.path, "the graph arrays disagree in length")
        base = CSRGraph(indptr, indices, weights)
        layout = self.meta.get("graph")
        if not layout or (not layout["deltas"] and layout["entities"] == self.n_entities):
            return base
        from hipporag.index.graphdelta import with_deltas

        deltas = [self._load_npy(d["file"]) for d in layout["deltas"]]
        return with_deltas(base, int(layout["entities"]), deltas, self.n_entities, self.n_passages)

    def passage_node(self, passage_idx: int | np.ndarray) -> int | np.ndarray:
        """Graph node id of a passage index."""
        return passage_idx + self.n_entities

    # -- HNSW ----------------------------------------------------------------
    def hnsw(self, name: str) -> Any:
        """The hnswlib index ``passages``, ``entities`` or ``facts`` (None if empty).

        Deleted rows are marked deleted: they are never returned, and ``k`` is
        capped at the number of live rows.
        """
        if name in self._hnsw:
            return self._hnsw[name]
        check_open(self)
        with self._lock:
            if name not in self._hnsw:
                self._hnsw[name] = self._load_hnsw(name)
        return self._hnsw[name]

    def _load_hnsw(self, name: str) -> Any:
        parts = self.hnsw_segments(name)
        if not parts:
            return None
        live = self.live(name)
        counts = [int(live[seg.start : seg.stop].sum()) for seg, _ in parts]
        if len(parts) == 1 and counts[0] == live.shape[0]:
            return parts[0][1]
        return SegmentedHNSW([index for _, index in parts], counts)

    def hnsw_segments(self, name: str) -> list[tuple[Segment, Any]]:
        """The HNSW segments of a table, loaded, with the rows deleted since marked deleted.

        Each call loads them anew (a writer changes its copies); :meth:`hnsw`
        caches the searchable whole.
        """
        return load_segments(self, name)

    # -- SQL -------------------------------------------------------------------
    def connection(self) -> Any:
        """A DuckDB cursor for this thread on the index tables (see :mod:`.tableviews`)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            check_open(self)
            with self._lock:
                if self._con is None:
                    self._con = self._open_tables()
            cur = self._local.cursor = self._con.cursor()
        return cur

    def _open_tables(self) -> Any:
        import duckdb

        from hipporag.index.tableviews import open_tables

        weight = self.config.graph.passage_entity_weight if not self.read_only else 1.0
        try:
            return open_tables(
                self.path, self.meta, passage_entity_weight=weight, external_access=self._external
            )
        except duckdb.Error as err:
            raise damaged(self.path, f"{DB_FILE} cannot be opened ({err})") from None

    def sql(self, query: str, params: list[Any] | None = None) -> Any:
        """Run SQL against the index tables; returns a polars DataFrame.

        The index is read-only: statements that would drop, alter or replace
        its views are refused (temporary tables and views are allowed).
        """
        import duckdb

        from hipporag.index.tableviews import refuse_changes

        con = self.connection()
        refuse_changes(con, query)
        try:
            return con.execute(query, params or []).pl()
        except duckdb.IOException as err:
            raise damaged(self.path, f"{DB_FILE} cannot be read ({err})") from None

    def table(self, name: str) -> Any:
        """One table as a polars DataFrame (ordered by its key)."""
        if name not in TABLES:
            raise InputError(f"unknown table {name!r}", hint=f"choose one of {list(TABLES)}")
        order = {
            "passages": "passage_idx",
            "entities": "entity_idx",
            "facts": "fact_idx",
            "fact_provenance": "fact_idx, passage_idx",
            "mentions": "entity_idx, passage_idx",
            "edges": "kind, src, dst",
        }[name]
        return self.sql(f"SELECT * FROM {name} ORDER BY {order}")

    def tables(self) -> dict[str, Any]:
        """All tables as polars DataFrames, by name."""
        return {name: self.table(name) for name in TABLES}

    # -- lookups used online ---------------------------------------------------
    def passages(self, idxs: list[int] | np.ndarray) -> list[Passage]:
        """Passages by ``passage_idx``, in the order given (live rows only)."""
        from hipporag.index.rows import passage_rows

        return passage_rows(self, [int(i) for i in idxs])

    @cached_property
    def entity_names(self) -> list[str]:
        """All entity names by ``entity_idx`` (loaded once; "" for deleted rows)."""
        return self._column("SELECT entity_idx, name FROM entities", self.n_entities)

    @cached_property
    def passage_ids(self) -> list[str]:
        """All passage ids by ``passage_idx`` (loaded once; "" for deleted rows)."""
        return self._column("SELECT passage_idx, passage_id FROM passages", self.n_passages)

    def _column(self, query: str, n: int) -> list[str]:
        out = [""] * n
        for i, v in self.connection().execute(query).fetchall():
            if not 0 <= i < n:
                raise damaged(self.path, f"row {i} is out of range in {DB_FILE}")
            out[i] = v
        return out

    # -- analysis and display (see hipporag.index.analysis, hipporag.display) ---
    def to_networkx(self, **kwargs: Any) -> Any:
        """The knowledge graph as a networkx graph; see :func:`.analysis.to_networkx`."""
        from hipporag.index.analysis import to_networkx

        return to_networkx(self, **kwargs)

    def to_igraph(self, **kwargs: Any) -> Any:
        """The knowledge graph as an igraph graph; see :func:`.analysis.to_igraph`."""
        from hipporag.index.analysis import to_igraph

        return to_igraph(self, **kwargs)

    def _repr_html_(self) -> str:
        """Rich display in Jupyter: counts, settings, sizes."""
        from hipporag.display import index_html

        return index_html(self)

    def close(self) -> None:
        """Close the database and give up this generation's lease; later use raises."""
        if self._con is not None:
            self._con.close()
            self._con = None
        self._local = threading.local()
        drop_lease(getattr(self, "_lease", None))
        self._lease, self._closed = None, True


__all__ = ["TABLES", "Index", "damaged"]
