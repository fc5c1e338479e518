"""The index tables as DuckDB *parts*: each change writes only the rows it changed.

A generation's tables are the union of its parts (manifest key ``db_parts``,
oldest first, each ``{"file", "generation", "rows", "tombstones"}`` where
``file`` is a logical name in ``files``). A part holds the rows a generation
wrote to ``passages``, ``entities``, ``facts``, ``fact_provenance``,
``mentions`` and ``synonymy`` (the synonymy edges, ``src < dst``), and a table
``tombstones(tbl, key)``: rows of *older* parts with that key are dead.

==================  ====================  ===============================
table               key                   killed by a tombstone of ``tbl``
==================  ====================  ===============================
``passages``        ``passage_idx``       ``passages``
``fact_provenance`` ``passage_idx``       ``passages`` (dies with its passage)
``mentions``        ``passage_idx``       ``passages`` (dies with its passage)
``entities``        ``entity_idx``        ``entities``
``facts``           ``fact_idx``          ``facts``
``synonymy``        ``src``               ``synonymy``
==================  ====================  ===============================

Rows are versioned: an entity whose ``n_passages`` changes is written again in
the new part and tombstoned there (its older rows die, the new one lives); the
synonymy edges of an entity whose edge set changed are written again whole.
The first part is the full ``index.duckdb``; a manifest without ``db_parts``
(an index written before parts) is that one part, without tombstones, holding
a stored ``edges`` table. ``edges`` is otherwise a view derived from the
tables (:data:`EDGES_SQL`), equal to what was stored.

Merge policy (bytes written per change are amortised O(change)): a change
writes a new part holding its own rows plus the live rows of the newest parent
parts it absorbs, chosen size-tiered: the newest parent part is absorbed while
its size (rows + tombstones) is at most :data:`MERGE_FACTOR` times the size of
what is being written, so part sizes grow geometrically and a row is rewritten
O(log rows) times. When more than :data:`MAX_PARTS` parts would remain, older
parts are absorbed too. When rows hidden by tombstones would exceed
:data:`DEAD_RATIO` of the live rows, the change writes one fresh full part
(a compaction); so does ``hipporag compact``. A part that absorbs all parts is
the full ``index.duckdb``. Reading the parts: :mod:`hipporag.index.tableviews`.

Example:
    >>> parts = db_parts({"format_version": 2, "generation": 1, "counts": {}})
    >>> [(p.file, p.generation) for p in parts]
    [('index.duckdb', 1)]
    >>> merge_start([Part("index.duckdb", 1, 10_000)], change_rows=30, live_after=10_030)
    1
    >>> merge_start([Part("index.duckdb", 1, 10_000)], change_rows=8_000, live_after=18_000)
    0
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hipporag.index.format import DB_FILE, SCHEMA_SQL

# table -> (key column, tombstone kind that kills its rows)
KEYS: dict[str, tuple[str, str]] = {
    "passages": ("passage_idx", "passages"),
    "entities": ("entity_idx", "entities"),
    "facts": ("fact_idx", "facts"),
    "fact_provenance": ("passage_idx", "passages"),
    "mentions": ("passage_idx", "passages"),
    "synonymy": ("src", "synonymy"),
}
PART_TABLES = tuple(KEYS)
TOMBSTONE_KINDS = ("passages", "entities", "facts", "synonymy")
MAX_PARTS = 12
# Delta parts skip the key constraints (their indexes cost a block each; keys are
# unique across parts by construction, and the full part keeps them).
DELTA_SCHEMA_SQL = SCHEMA_SQL.replace(" PRIMARY KEY", "").replace(" UNIQUE", "")
MERGE_FACTOR = 2.0
DEAD_RATIO = 0.25

# The derived edge list: the rows the writer stored before parts (see
# indexers.state.GraphState.fact_edges and passage_entity_edges).
EDGES_SQL = """
CREATE OR REPLACE VIEW edges AS
    SELECT least(f.subject_idx, f.object_idx) AS src,
           greatest(f.subject_idx, f.object_idx) AS dst,
           'fact' AS kind, CAST(count(*) AS DOUBLE) AS weight
    FROM fact_provenance fp JOIN facts f ON f.fact_idx = fp.fact_idx
    WHERE f.subject_idx <> f.object_idx
    GROUP BY 1, 2
    UNION ALL
    SELECT entity_idx, CAST(passage_idx + {n_entity_rows} AS INTEGER), 'passage_entity',
           CAST({passage_entity_weight} AS DOUBLE)
    FROM mentions
    UNION ALL
    SELECT src, dst, 'synonymy', weight FROM synonymy;
"""


@dataclass(frozen=True)
class Part:
    """One DuckDB part of a generation's tables.

    Args:
        file: its logical name in the manifest's ``files``.
        generation: the generation that wrote it.
        rows: rows it holds (all six tables; live or hidden by newer tombstones).
        tombstones: tombstone rows it holds, by kind.
    """

    file: str
    generation: int
    rows: int = 0
    tombstones: dict[str, int] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """Rows plus tombstones: what rewriting this part costs."""
        return self.rows + sum(self.tombstones.values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "generation": self.generation,
            "rows": self.rows,
            "tombstones": {k: v for k, v in sorted(self.tombstones.items()) if v},
        }


def live_rows(counts: dict[str, Any]) -> int:
    """Live rows of the six part tables, from a manifest's counts."""
    live = counts.get("live") or {}
    n = sum(int(live.get(t, counts.get(t, 0))) for t in ("passages", "entities", "facts"))
    n += int(counts.get("fact_provenance", 0)) + int(counts.get("mentions", 0))
    return n + int((counts.get("edges") or {}).get("synonymy", 0))


def db_parts(meta: dict[str, Any]) -> list[Part]:
    """The parts of a manifest, oldest first (an index before parts: one full part)."""
    entries = meta.get("db_parts")
    if not entries:
        gen = int(meta.get("generation", 0))
        return [Part(DB_FILE, gen, live_rows(meta.get("counts", {})))]
    return [
        Part(
            str(e["file"]),
            int(e["generation"]),
            int(e.get("rows", 0)),
            {str(k): int(v) for k, v in (e.get("tombstones") or {}).items()},
        )
        for e in entries
    ]


def part_logical(generation: int) -> str:
    """Logical name of a delta part written by ``generation``."""
    return f"db/{generation:06d}.duckdb"


def merge_start(
    parts: list[Part], *, change_rows: int, change_tombstones: int = 0, live_after: int
) -> int:
    """Index of the oldest parent part the new part absorbs (``len(parts)``: none).

    Args:
        parts: the parent generation's parts, oldest first.
        change_rows: rows the change itself writes.
        change_tombstones: tombstones the change itself writes.
        live_after: live rows of the six tables after the change.

    Returns:
        0 for a full part (a build, or a compaction), else the first absorbed part.
    """
    if not parts:
        return 0
    stored = sum(p.rows for p in parts) + change_rows
    if stored - live_after > DEAD_RATIO * max(live_after, 1):
        return 0
    start, size = len(parts), change_rows + change_tombstones
    while start > 0 and parts[start - 1].size <= MERGE_FACTOR * max(size, 1):
        start -= 1
        size += parts[start].size
    return min(start, MAX_PARTS - 1)


# -- reading: the parts as one set of live rows ----------------------------------
def dead_sql(
    kind: str, aliases: list[str], parts: list[Part], extra: str | None = None
) -> str | None:
    """``SELECT key, part``: for each tombstoned key, the newest part that tombstones it.

    A row of part ``i`` is dead when its key has ``part > i``. ``extra`` adds
    ``(key, part)`` rows (a change's own tombstones). None when nothing is dead.
    """
    src = [
        f"SELECT key, {j} AS part FROM {aliases[j]}.tombstones WHERE tbl = '{kind}'"
        for j in range(1, len(parts))
        if parts[j].tombstones.get(kind, 0) > 0
    ]
    if extra:
        src.append(extra)
    if not src:
        return None
    return f"SELECT key, max(part) AS part FROM ({' UNION ALL '.join(src)}) GROUP BY key"


def union_sql(
    table: str,
    aliases: list[str],
    dead: str | None = None,
    sources: list[str] | None = None,
) -> str:
    """SELECT of ``table``'s live rows over parts (a plain union when nothing is dead).

    Args:
        table: one of :data:`PART_TABLES`.
        aliases: attached catalog name of each part, oldest first.
        dead: a relation ``(key, part)`` as :func:`dead_sql` gives (a table name
            or a parenthesised query); one anti-join drops the dead rows.
        sources: per part, the relation to read (default ``ALIAS.TABLE``).
    """
    key, _ = KEYS[table]
    srcs = sources or [f"{a}.{table}" for a in aliases]
    if dead is None:
        return "\nUNION ALL\n".join(f"SELECT * FROM {src}" for src in srcs)
    tagged = "\nUNION ALL\n".join(
        f"SELECT *, {i} AS _part FROM {src}" for i, src in enumerate(srcs)
    )
    return (
        f"SELECT t.* EXCLUDE (_part) FROM ({tagged}) t ANTI JOIN {dead} d "
        f"ON t.{key} = d.key AND d.part > t._part"
    )


def attach_sql(path: str, alias: str) -> str:
    """``ATTACH`` of a part file, read-only."""
    quoted = path.replace("'", "''")
    return f"ATTACH '{quoted}' AS {alias} (READ_ONLY)"


__all__ = [
    "DEAD_RATIO",
    "DELTA_SCHEMA_SQL",
    "EDGES_SQL",
    "KEYS",
    "MAX_PARTS",
    "MERGE_FACTOR",
    "PART_TABLES",
    "TOMBSTONE_KINDS",
    "Part",
    "attach_sql",
    "db_parts",
    "dead_sql",
    "live_rows",
    "merge_start",
    "part_logical",
    "union_sql",
]
