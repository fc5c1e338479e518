"""Atomic index writing: build in a temporary sibling directory, then rename.

A build that is killed or fails leaves the target untouched: either the old
index (if there was one) or nothing. The temporary directory is removed on
failure; a leftover from a ``kill -9`` is named ``.NAME.tmp-*`` and is swept
by the next successful write to the same target.

Example:
    >>> import numpy as np, tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "idx")
    >>> with IndexWriter(out) as w:
    ...     w.write_array("entity_n_passages", np.array([1, 2], dtype=np.int32))
    ...     _ = w.commit({"counts": {}})
    >>> sorted(os.listdir(out))
    ['arrays', 'hnsw', 'index.duckdb', 'meta.json']
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.errors import IndexFormatError
from hipporag.index.format import (
    ARRAYS_DIR,
    DB_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    HNSW_DIR,
    META_FILE,
    SCHEMA_SQL,
    VIEWS_SQL,
    library_versions,
    write_meta,
)


class IndexWriter:
    """Writes one index directory atomically.

    Args:
        target: final path of the index directory.
        overwrite: replace an existing *index* at ``target`` (a non-index
            directory is never replaced).
    """

    def __init__(self, target: str | os.PathLike[str], overwrite: bool = True) -> None:
        self.target = Path(target).absolute()
        self.overwrite = overwrite
        self._check_target()
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = self.target.parent / f".{self.target.name}.tmp-{uuid.uuid4().hex[:12]}"
        (self.tmp / ARRAYS_DIR).mkdir(parents=True)
        (self.tmp / HNSW_DIR).mkdir()
        self._db: Any = None
        self._done = False

    def _check_target(self) -> None:
        t = self.target
        if t.exists() and not t.is_dir():
            raise IndexFormatError(f"{t} exists and is a file", hint="choose another --out path")
        if t.is_dir() and any(t.iterdir()):
            if not (t / META_FILE).is_file():
                raise IndexFormatError(
                    f"{t} exists and is not a hipporag index; refusing to replace it",
                    hint="choose an empty or new --out directory",
                )
            if not self.overwrite:
                raise IndexFormatError(
                    f"an index already exists at {t}", hint="pass overwrite=True to replace it"
                )

    # -- context manager -------------------------------------------------
    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._done:
            self.abort()

    # -- content ---------------------------------------------------------
    @property
    def db(self):
        """A DuckDB connection to the index database being written (schema created)."""
        if self._db is None:
            import duckdb

            self._db = duckdb.connect(str(self.tmp / DB_FILE))
            self._db.execute(SCHEMA_SQL)
        return self._db

    def insert(self, table: str, data: Any) -> None:
        """Append a pyarrow Table / polars DataFrame to ``table`` (columns by name)."""
        self.db.register("_incoming", data)
        try:
            names = getattr(data, "column_names", None) or list(data.columns)
            cols = ", ".join(names)
            self.db.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _incoming")
        finally:
            self.db.unregister("_incoming")

    def write_array(self, name: str, array: np.ndarray) -> None:
        """Save an array as ``arrays/NAME.npy`` (C-contiguous, mmap-able, no pickle)."""
        np.save(self.tmp / ARRAYS_DIR / f"{name}.npy", np.ascontiguousarray(array), False)

    def write_hnsw(
        self, name: str, vectors: np.ndarray, *, m: int, ef_construction: int, ef_search: int
    ) -> None:
        """Build an inner-product HNSW index over unit vectors; deterministic (one thread)."""
        if vectors.shape[0] == 0:
            return
        import hnswlib

        index = hnswlib.Index(space="ip", dim=int(vectors.shape[1]))
        index.init_index(
            max_elements=int(vectors.shape[0]),
            ef_construction=ef_construction,
            M=m,
            random_seed=100,
        )
        index.add_items(vectors, np.arange(vectors.shape[0]), num_threads=1)
        index.set_ef(ef_search)
        index.save_index(str(self.tmp / HNSW_DIR / f"{name}.bin"))

    # -- finish ----------------------------------------------------------
    def commit(self, meta: dict[str, Any]) -> Path:
        """Write views and ``meta.json``, flush to disk and move into place."""
        self.db.execute(VIEWS_SQL)
        self.db.execute("CHECKPOINT")
        self._db.close()
        self._db = None
        full = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "library_versions": library_versions(),
            **meta,
        }
        full["files"] = {
            str(p.relative_to(self.tmp)): p.stat().st_size
            for p in sorted(self.tmp.rglob("*"))
            if p.is_file()
        }
        write_meta(self.tmp / META_FILE, full)
        _fsync_tree(self.tmp)
        old = None
        if self.target.exists():
            old = self.target.parent / f".{self.target.name}.old-{uuid.uuid4().hex[:12]}"
            os.rename(self.target, old)
        os.rename(self.tmp, self.target)
        _fsync_dir(self.target.parent)
        self._done = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self._sweep_leftovers()
        return self.target

    def abort(self) -> None:
        """Discard the temporary directory; the target is left as it was."""
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None
        shutil.rmtree(self.tmp, ignore_errors=True)
        self._done = True

    def _sweep_leftovers(self) -> None:
        """Remove leftovers of killed builds (older than 10 minutes: not a live writer's)."""
        import time

        for p in self.target.parent.glob(f".{self.target.name}.*-*"):
            stale = time.time() - p.stat().st_mtime > 600
            if p.is_dir() and (".old-" in p.name or (".tmp-" in p.name and stale)):
                shutil.rmtree(p, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            with open(p, "rb+") as fh:
                os.fsync(fh.fileno())
    for d in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        _fsync_dir(d)


__all__ = ["IndexWriter"]
