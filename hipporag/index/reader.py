"""Opening an index: arrays memory-mapped, SQL tables in DuckDB, HNSW loaded lazily.

Example:
    >>> idx = Index.open("/tmp/demo-index")                      # doctest: +SKIP
    >>> idx.counts["passages"], idx.graph.n_nodes                 # doctest: +SKIP
    (32, 211)
    >>> idx.sql("SELECT name, n_passages FROM entities ORDER BY n_passages DESC LIMIT 3")
    ...                                                            # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import threading
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.config import IndexConfig
from hipporag.errors import IndexFormatError, InputError
from hipporag.graph import CSRGraph
from hipporag.index.format import ARRAYS, ARRAYS_DIR, DB_FILE, HNSW_DIR, read_meta
from hipporag.types import Passage

TABLES = ("passages", "entities", "facts", "fact_provenance", "mentions", "edges")


class Index:
    """A read-only view of an index directory.

    Arrays are memory-mapped (``np.load(mmap_mode="r")``), so opening is cheap
    and several processes share pages. The DuckDB database is opened
    read-only on first use; each thread gets its own cursor. Pickling keeps
    only the path, so an ``Index`` can be handed to Ray tasks or web workers.

    Args:
        path: the index directory.
        mmap: memory-map arrays (default) or read them into RAM.
    """

    def __init__(self, path: str | os.PathLike[str], mmap: bool = True) -> None:
        self.path = Path(path).absolute()
        self.meta: dict[str, Any] = read_meta(self.path)
        self._mmap = mmap
        self._arrays: dict[str, np.ndarray] = {}
        self._hnsw: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._local = threading.local()
        self._con: Any = None
        missing = [n for n in ARRAYS if not (self.path / ARRAYS_DIR / f"{n}.npy").is_file()]
        if missing or not (self.path / DB_FILE).is_file():
            raise IndexFormatError(
                f"index {self.path} is incomplete (missing: {missing or [DB_FILE]})",
                hint="rebuild it with 'hipporag index'",
            )

    @classmethod
    def open(cls, path: str | os.PathLike[str], mmap: bool = True) -> Index:
        """Open an index directory (checks its format version)."""
        return cls(path, mmap=mmap)

    # -- pickling: reference only -----------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        return {"path": str(self.path), "mmap": self._mmap}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], mmap=state["mmap"])  # type: ignore[misc]

    def __repr__(self) -> str:
        c = self.counts
        return (
            f"Index({str(self.path)!r}, passages={c.get('passages')}, "
            f"entities={c.get('entities')}, facts={c.get('facts')})"
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
        return int(self.meta["counts"]["passages"])

    @property
    def n_entities(self) -> int:
        return int(self.meta["counts"]["entities"])

    @property
    def n_facts(self) -> int:
        return int(self.meta["counts"]["facts"])

    # -- arrays ------------------------------------------------------------
    def array(self, name: str) -> np.ndarray:
        """A named array from ``arrays/`` (memory-mapped unless ``mmap=False``)."""
        arr = self._arrays.get(name)
        if arr is None:
            if name not in ARRAYS:
                raise KeyError(f"unknown array {name!r}; known: {sorted(ARRAYS)}")
            arr = np.load(
                self.path / ARRAYS_DIR / f"{name}.npy",
                mmap_mode="r" if self._mmap else None,
                allow_pickle=False,
            )
            self._arrays[name] = arr
        return arr

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
        return CSRGraph(
            self.array("graph_indptr"), self.array("graph_indices"), self.array("graph_weights")
        )

    def passage_node(self, passage_idx: int | np.ndarray) -> int | np.ndarray:
        """Graph node id of a passage index."""
        return passage_idx + self.n_entities

    # -- HNSW ----------------------------------------------------------------
    def hnsw(self, name: str) -> Any:
        """The hnswlib index ``passages``, ``entities`` or ``facts`` (None if empty)."""
        if name in self._hnsw:
            return self._hnsw[name]
        with self._lock:
            if name not in self._hnsw:
                self._hnsw[name] = self._load_hnsw(name)
        return self._hnsw[name]

    def _load_hnsw(self, name: str) -> Any:
        path = self.path / HNSW_DIR / f"{name}.bin"
        if not path.is_file():
            return None
        import hnswlib

        dim = int(self.meta["embedding"]["dim"])
        index = hnswlib.Index(space="ip", dim=dim)
        index.load_index(str(path))
        index.set_ef(int(self.meta["config"]["graph"].get("hnsw_ef_search", 64)))
        return index

    # -- SQL -------------------------------------------------------------------
    def connection(self) -> Any:
        """A DuckDB cursor for this thread on the read-only index database."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                if self._con is None:
                    import duckdb

                    self._con = duckdb.connect(str(self.path / DB_FILE), read_only=True)
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    def sql(self, query: str, params: list[Any] | None = None) -> Any:
        """Run SQL against the index tables; returns a polars DataFrame."""
        return self.connection().execute(query, params or []).pl()

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
        """Passages by ``passage_idx``, in the order given."""
        idxs = [int(i) for i in idxs]
        if not idxs:
            return []
        rows = (
            self.connection()
            .execute(
                "SELECT passage_idx, passage_id, title, text, doc_id, metadata, chunk, "
                "span_start, span_end FROM passages "
                "WHERE passage_idx IN (SELECT unnest($1::INTEGER[]))",
                [idxs],
            )
            .fetchall()
        )
        by_idx = {
            r[0]: Passage(
                r[1],
                r[2],
                r[3],
                doc_id=r[4] or "",
                metadata=json.loads(r[5]) if r[5] else {},
                chunk=int(r[6] or 0),
                span=(int(r[7]), int(r[8])) if r[7] is not None else None,
            )
            for r in rows
        }
        return [by_idx[i] for i in idxs]

    @cached_property
    def entity_names(self) -> list[str]:
        """All entity names by ``entity_idx`` (loaded once)."""
        rows = self.connection().execute("SELECT name FROM entities ORDER BY entity_idx")
        return [r[0] for r in rows.fetchall()]

    @cached_property
    def passage_ids(self) -> list[str]:
        """All passage ids by ``passage_idx`` (loaded once)."""
        rows = self.connection().execute("SELECT passage_id FROM passages ORDER BY passage_idx")
        return [r[0] for r in rows.fetchall()]

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
        if self._con is not None:
            self._con.close()
            self._con = None
        self._local = threading.local()


__all__ = ["TABLES", "Index"]
