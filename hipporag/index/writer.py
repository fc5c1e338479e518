"""Committing a generation: write new immutable files, then swap the commit point.

A new index is staged in a temporary sibling directory and renamed into place.
A change to an existing index writes its new files under ``data/gN/`` and
references the unchanged files of the parent generation; it becomes visible
only when ``meta.json`` (the commit point) is atomically replaced. A writer
that fails, is interrupted (SIGINT, SIGTERM) or is killed leaves the index at
its previous generation; its files are named as ours and are swept by the
next commit (:func:`hipporag.index.generations.sweep_orphans`).

Example:
    >>> import numpy as np, tempfile, os
    >>> out = os.path.join(tempfile.mkdtemp(), "idx")
    >>> with IndexWriter(out) as w:
    ...     _ = w.write_array("entity_n_passages", np.array([1, 2], dtype=np.int32))
    ...     _ = w.commit({"counts": {"passages": 0, "entities": 2, "facts": 0}})
    >>> sorted(os.listdir(out))
    ['data', 'generations', 'meta.json']
"""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.errors import IndexFormatError
from hipporag.faults import CRASH_ENV, INTERRUPT_ENV, crash_point
from hipporag.fsio import atomic_write_text, file_checksum, fsync_dir, fsync_file, temp_name
from hipporag.index.format import (
    ARRAYS_DIR,
    DB_FILE,
    FORMAT_NAME,
    FORMAT_VERSION,
    HNSW_DIR,
    META_FILE,
    SCHEMA_SQL,
    VIEWS_SQL,
    WRITABLE_VERSIONS,
    dump_meta,
    generation_dir,
    library_versions,
    parse_meta,
)
from hipporag.index.generations import current_generation, sweep_orphans, write_manifest
from hipporag.index.locking import WriteLock
from hipporag.index.tables import DELTA_SCHEMA_SQL

# (index directory, generation) of every commit of this process, for truthful exit messages.
COMMITTED: list[tuple[Path, int]] = []


def checksum(path: Path) -> str:
    """blake2b (128 bits) of a file's bytes, as hex."""
    return file_checksum(path)


class IndexWriter:
    """Writes one generation of an index directory atomically.

    Args:
        target: the index directory.
        overwrite: allow replacing the content of an existing *index* at
            ``target`` by a new build (a non-index directory is never touched).
        operation: recorded in the manifest (``build``, ``insert``, ...).
    """

    def __init__(
        self,
        target: str | os.PathLike[str],
        overwrite: bool = True,
        *,
        operation: str = "build",
    ) -> None:
        self.target = Path(target).absolute()
        self.overwrite = overwrite
        self.operation = operation
        self.base: dict[str, Any] | None = self._check_target()
        self._lock: WriteLock | None = None
        self._db: Any = None
        self._db_logical = DB_FILE
        self._done = False
        self._files: dict[str, dict[str, Any]] = {}
        self._new: set[str] = set()
        self._old_handler: Any = None
        self.target.parent.mkdir(parents=True, exist_ok=True)
        if self.base is not None and self.base.get("format_version") in WRITABLE_VERSIONS:
            self._lock = WriteLock(self.target).acquire()
            try:  # re-read under the lock: another writer may have committed meanwhile
                self.base = parse_meta(
                    (self.target / META_FILE).read_text("utf-8"), self.target / META_FILE
                )
                sweep_orphans(self.target, self.base)
            except BaseException:
                self._lock.release()
                raise
            self.root = self.target
            self.generation = int(self.base["generation"]) + 1
            self.staged = False
        else:  # a new index (or a version-1 one being rebuilt): stage beside it
            self.root = temp_name(self.target)
            self.root.mkdir()
            self.generation = 1 if self.base is None else int(self.base.get("generation", 0)) + 1
            self.staged = True
        self.gen_dir = generation_dir(self.generation)
        self._created_gen = False
        try:  # ours only if we create it: abort never deletes another writer's files
            (self.root / self.gen_dir).mkdir(parents=True)
            self._created_gen = True
        except FileExistsError:
            self._finish()
            raise IndexFormatError(
                f"{self.root / self.gen_dir} already exists; another writer may be committing",
                hint="retry; if it persists, run 'hipporag verify' on the index",
            ) from None
        (self.root / self.gen_dir / ARRAYS_DIR).mkdir(exist_ok=True)
        (self.root / self.gen_dir / HNSW_DIR).mkdir(exist_ok=True)
        self._install_signal_handler()

    def _check_target(self) -> dict[str, Any] | None:
        t = self.target
        if t.exists() and not t.is_dir():
            raise IndexFormatError(f"{t} exists and is a file", hint="choose another --out path")
        if t.is_dir() and any(t.iterdir()):
            if not (t / META_FILE).is_file():
                raise IndexFormatError(
                    f"{t} exists and is not a hipporag index; refusing to replace it",
                    hint="choose an empty or new --out directory",
                )
            from hipporag.index.format import read_meta

            base = read_meta(t)
            if not self.overwrite and self.operation == "build":
                raise IndexFormatError(
                    f"an index already exists at {t}", hint="pass overwrite=True to replace it"
                )
            if base.get("format_version") not in WRITABLE_VERSIONS and self.operation not in (
                "build",
                "upgrade",
            ):
                raise IndexFormatError(
                    f"{t} is a format version {base.get('format_version')} index, read-only",
                    hint=f"convert it first: hipporag upgrade {t}",
                )
            return base
        return None

    def _install_signal_handler(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_term(signum: int, frame: Any) -> None:
            raise SystemExit(128 + signum)

        self._old_handler = signal.signal(signal.SIGTERM, on_term)

    def _restore_signal_handler(self) -> None:
        if self._old_handler is not None:
            signal.signal(signal.SIGTERM, self._old_handler)
            self._old_handler = None

    # -- context manager -------------------------------------------------
    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self._done:
            self.abort()

    # -- content ---------------------------------------------------------
    def _path(self, logical: str) -> Path:
        return self.root / self.gen_dir / logical

    def _record(self, logical: str) -> None:
        self._new.add(logical)
        self._files[logical] = {"path": f"{self.gen_dir}/{logical}"}

    def _seal(self, logical: str) -> dict[str, Any]:
        """Flush a new file to disk; its manifest size and checksum."""
        path = self._path(logical)
        fsync_file(path)
        return {"size": path.stat().st_size, "blake2b": checksum(path)}

    def share(self, logical: str) -> None:
        """Reference the parent generation's file for ``logical`` (unchanged content)."""
        if self.base is None or logical not in self.base.get("files", {}):
            raise IndexFormatError(f"nothing to share for {logical}")
        self._files[logical] = dict(self.base["files"][logical])

    def open_db(self, copy_from: Path | None = None, *, logical: str = DB_FILE) -> Any:
        """A DuckDB database of this generation: a copy of ``copy_from`` or a new one.

        ``logical`` names it in the manifest: ``index.duckdb`` (a full part, which
        also gets the ``nodes``/``documents``/``fact_triples`` views on commit) or a
        delta part (:func:`hipporag.index.tables.part_logical`).
        """
        import duckdb

        path = self._path(logical)
        path.parent.mkdir(parents=True, exist_ok=True)
        if copy_from is not None:
            shutil.copyfile(copy_from, path)
            self._db = duckdb.connect(str(path))
        else:  # small blocks: a small index, and a small part, get a small file
            self._db = duckdb.connect(str(path), config={"default_block_size": "16384"})
            self._db.execute(SCHEMA_SQL if logical == DB_FILE else DELTA_SCHEMA_SQL)
        self._db_logical = logical
        self._record(logical)
        return self._db

    @property
    def db(self) -> Any:
        """A DuckDB connection to the database being written (a new one by default)."""
        if self._db is None:
            self.open_db()
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

    def write_array(self, name: str, array: np.ndarray, *, logical: str | None = None) -> str:
        """Save an array as ``arrays/NAME.npy`` (or the ``logical`` name of a piece).

        C-contiguous, memory-mappable, no pickle. Returns the logical name.
        """
        logical = logical or f"{ARRAYS_DIR}/{name}.npy"
        path = self._path(logical)
        tmp = temp_name(path)
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(array), False)
        os.replace(tmp, path)
        self._record(logical)
        return logical

    def save_hnsw(self, name: str, index: Any, *, logical: str | None = None) -> str:
        """Save an hnswlib index as ``hnsw/NAME.bin`` (or the ``logical`` name of a segment)."""
        logical = logical or f"{HNSW_DIR}/{name}.bin"
        path = self._path(logical)
        tmp = temp_name(path)
        index.save_index(str(tmp))
        os.replace(tmp, path)
        self._record(logical)
        return logical

    def write_hnsw(
        self,
        name: str,
        vectors: np.ndarray,
        *,
        m: int,
        ef_construction: int,
        ef_search: int,
        threads: int = 1,
    ) -> None:
        """Build an inner-product HNSW index over unit vectors; deterministic with one thread."""
        if vectors.shape[0] == 0:
            return
        from hipporag.index.hnsw import new_hnsw

        index = new_hnsw(int(vectors.shape[1]), int(vectors.shape[0]), m, ef_construction)
        index.add_items(vectors, np.arange(vectors.shape[0]), num_threads=threads)
        index.set_ef(ef_search)
        self.save_hnsw(name, index)

    # -- finish ----------------------------------------------------------
    def commit(self, meta: dict[str, Any]) -> Path:
        """Write views and the manifest, flush to disk, then swap the commit point."""
        if self._db is None and not (self.base and DB_FILE in self._files):
            self.open_db()
        if self._db is not None:
            if self._db_logical == DB_FILE:
                e_rows = int(meta.get("counts", {}).get("entities", 0))
                self._db.execute(VIEWS_SQL.format(n_entity_rows=e_rows))
            self._db.execute("CHECKPOINT")
            self._db.close()
            self._db = None
        crash_point("commit:before-fsync")
        new = sorted(self._new)
        # Flushing and hashing are I/O and hashlib work (no GIL held): one file per thread.
        with ThreadPoolExecutor(max_workers=max(1, min(len(new), os.cpu_count() or 1, 8))) as pool:
            for logical, sealed in zip(new, pool.map(self._seal, new), strict=True):
                self._files[logical].update(sealed)
        for d in {self._path(x).parent for x in self._new}:
            fsync_dir(d)
        fsync_dir(self.root / self.gen_dir)
        full = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "library_versions": library_versions(),
            **meta,
            "generation": self.generation,
            "parent": None if self.base is None else self.base.get("generation"),
            "time": time.time(),
            "operation": self.operation,
            "files": dict(sorted(self._files.items())),
        }
        text = dump_meta(full)
        write_manifest(self.root, full, text)
        crash_point("commit:before-pointer")
        atomic_write_text(self.root / META_FILE, text)
        if not self.staged:
            self._committed()
        crash_point("commit:after-pointer")
        if self.staged:
            fsync_dir(self.root)
            old = None
            if self.target.exists() and any(self.target.iterdir()):
                old = temp_name(self.target)
                os.rename(self.target, old)
            elif self.target.exists():
                self.target.rmdir()
            os.rename(self.root, self.target)
            self._committed()
            fsync_dir(self.target.parent)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        self._done = True
        self._finish()
        self._sweep_siblings()
        return self.target

    def _sweep_siblings(self) -> None:
        """Remove staging folders of killed builds of this target (ours by name, pid dead)."""
        from hipporag.fsio import pid_alive, temp_owner

        for p in self.target.parent.glob(f".{self.target.name}.tmp-*"):
            pid = temp_owner(p)
            if pid is not None and not pid_alive(pid) and p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)

    def _committed(self) -> None:
        if (self.target, self.generation) not in COMMITTED:
            COMMITTED.append((self.target, self.generation))

    def abort(self) -> None:
        """Discard this generation's files; the index stays at its previous generation.

        Interrupted after the commit point was replaced, the generation is
        committed: nothing is deleted, and :data:`COMMITTED` records it.
        """
        if self._db is not None:
            try:
                self._db.close()
            finally:
                self._db = None
        if (self.target, self.generation) in COMMITTED or (
            not self.staged and current_generation(self.target) == self.generation
        ):
            self._committed()
        elif self.staged:
            shutil.rmtree(self.root, ignore_errors=True)
        elif self._created_gen:
            shutil.rmtree(self.root / self.gen_dir, ignore_errors=True)
        self._done = True
        self._finish()

    def _finish(self) -> None:
        self._restore_signal_handler()
        if self._lock is not None:
            self._lock.release()


__all__ = ["COMMITTED", "CRASH_ENV", "INTERRUPT_ENV", "IndexWriter", "checksum", "crash_point"]
