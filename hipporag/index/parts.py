"""Writing a generation's DuckDB part: the change's rows, tombstones and absorbed parts.

:func:`write_tables` chooses what the new part replaces
(:func:`hipporag.index.tables.merge_start`), copies the live rows of the
absorbed parent parts into it with one ``INSERT ... SELECT`` per table inside
DuckDB, adds the change's rows and tombstones, shares the parent's other parts
and returns the generation's ``db_parts``.

Example:
    >>> import numpy as np, pyarrow as pa, tempfile, os
    >>> from hipporag.index import IndexWriter
    >>> out = os.path.join(tempfile.mkdtemp(), "idx")
    >>> ent = pa.table({"entity_idx": [0], "entity_id": ["e0"], "name": ["x"], "n_passages": [1]})
    >>> with IndexWriter(out) as w:
    ...     parts = write_tables(w, TableChange({"entities": ent}), live_after=1, reuse=False)
    ...     _ = w.commit({"counts": {"passages": 0, "entities": 1, "facts": 0}, "db_parts": parts})
    >>> parts
    [{'file': 'index.duckdb', 'generation': 1, 'rows': 1, 'tombstones': {}}]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from hipporag.index.format import DB_FILE
from hipporag.index.tables import (
    EDGES_SQL,
    KEYS,
    PART_TABLES,
    TOMBSTONE_KINDS,
    Part,
    attach_sql,
    db_parts,
    dead_sql,
    merge_start,
    part_logical,
    union_sql,
)

if TYPE_CHECKING:
    from hipporag.index.writer import IndexWriter


@dataclass
class TableChange:
    """What one change does to the tables.

    Args:
        rows: new rows by table (pyarrow Tables, columns by name); a row that
            replaces an older version of itself is tombstoned too.
        tombstones: keys of rows of the parent generation that die, by kind
            (see :data:`hipporag.index.tables.KEYS`).
    """

    rows: dict[str, Any] = field(default_factory=dict)
    tombstones: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_rows(self) -> int:
        return sum(int(t.num_rows) for t in self.rows.values())

    @property
    def n_tombstones(self) -> int:
        return sum(int(np.asarray(k).shape[0]) for k in self.tombstones.values())

    def tombstone_table(self) -> Any:
        """The tombstones as a pyarrow table ``(tbl, key)``."""
        import pyarrow as pa

        kinds, keys = [], []
        for kind in TOMBSTONE_KINDS:
            k = np.unique(np.asarray(self.tombstones.get(kind, []), dtype=np.int64))
            kinds += [kind] * k.shape[0]
            keys.append(k)
        key = np.concatenate(keys) if keys else np.zeros(0, np.int64)
        return pa.table({"tbl": pa.array(kinds, pa.string()), "key": pa.array(key, pa.int64())})


def _insert(con: Any, table: str, data: Any) -> None:
    if data.num_rows == 0:
        return
    con.register("_incoming", data)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")


def _absorb(con: Any, w: IndexWriter, absorbed: list[Part], *, keep_tombstones: bool) -> None:
    """Copy the live rows of ``absorbed`` parts, less rows the change kills, into ``con``."""
    assert w.base is not None
    aliases = [f"_parent{i}" for i in range(len(absorbed))]
    for alias, part in zip(aliases, absorbed, strict=True):
        con.execute(attach_sql(str(w.root / w.base["files"][part.file]["path"]), alias))
    try:
        sources = []
        for alias in aliases:
            has = con.execute(
                "SELECT count(*) FROM duckdb_tables() WHERE database_name = ? "
                "AND table_name = 'synonymy'",
                [alias],
            ).fetchone()[0]
            sources.append(
                f"{alias}.synonymy"
                if has
                else f"(SELECT src, dst, weight FROM {alias}.edges WHERE kind = 'synonymy')"
            )
        for table in PART_TABLES:
            kind = KEYS[table][1]
            change = f"SELECT key, {len(absorbed)} AS part FROM _change_dead WHERE tbl = '{kind}'"
            dead = f"({dead_sql(kind, aliases, absorbed, change)})"
            sel = union_sql(table, aliases, dead, sources if table == "synonymy" else None)
            con.execute(f"INSERT INTO {table} BY NAME {sel}")
        if keep_tombstones:
            older = [
                f"SELECT tbl, key FROM {a}.tombstones"
                for a, p in zip(aliases, absorbed, strict=True)
                if p.tombstones
            ]
            con.execute(
                "INSERT INTO tombstones SELECT DISTINCT tbl, key FROM ("
                + " UNION ALL ".join([*older, "SELECT tbl, key FROM _change_dead"])
                + ")"
            )
    finally:
        for alias in aliases:
            con.execute(f"DETACH DATABASE IF EXISTS {alias}")


def _counts(con: Any) -> tuple[int, dict[str, int]]:
    rows = sum(int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in PART_TABLES)
    tomb = dict(con.execute("SELECT tbl, count(*) FROM tombstones GROUP BY tbl").fetchall())
    return rows, {str(k): int(v) for k, v in tomb.items()}


def write_tables(
    w: IndexWriter,
    change: TableChange,
    *,
    live_after: int,
    reuse: bool,
    full: bool = False,
    n_entity_rows: int = 0,
    passage_entity_weight: float = 1.0,
) -> list[dict[str, Any]]:
    """Write ``change`` as ``w``'s DuckDB part; returns the generation's ``db_parts``.

    Args:
        w: the writer of the new generation.
        change: the rows and tombstones of the change.
        live_after: live rows of the six part tables after the change.
        reuse: the change applies to ``w``'s parent generation (False: the
            change holds every row, as for a build).
        full: write one fresh full part whatever the merge policy says (a compaction).
        n_entity_rows: entity rows (dead ones included) after the change, and
        passage_entity_weight: the weight of passage-entity edges; a full part
            gets its ``edges`` view with them, so that alone it reads directly.
    """
    parts = db_parts(w.base) if reuse and w.base is not None else []
    start = 0
    if not full:
        start = merge_start(
            parts,
            change_rows=change.n_rows,
            change_tombstones=change.n_tombstones,
            live_after=live_after,
        )
    logical = DB_FILE if start == 0 else part_logical(w.generation)
    for part in parts[:start]:
        w.share(part.file)
    con = w.open_db(logical=logical)
    dead = change.tombstone_table()
    con.register("_change_dead", dead)
    try:
        if start < len(parts):
            _absorb(con, w, parts[start:], keep_tombstones=start > 0)
        elif start > 0:
            con.execute("INSERT INTO tombstones SELECT tbl, key FROM _change_dead")
    finally:
        con.unregister("_change_dead")
    for table in PART_TABLES:
        if table in change.rows:
            _insert(con, table, change.rows[table])
    if logical == DB_FILE:
        con.execute(
            EDGES_SQL.format(
                n_entity_rows=int(n_entity_rows), passage_entity_weight=float(passage_entity_weight)
            )
        )
    rows, tomb = _counts(con)
    new = Part(logical, w.generation, rows, tomb)
    return [p.to_dict() for p in parts[:start]] + [new.to_dict()]


__all__ = ["TableChange", "write_tables"]
