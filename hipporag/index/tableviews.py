"""The tables of a generation as one read-only set of views over its DuckDB parts.

One part without tombstones (a fresh build or compaction, whose file holds the
``edges`` view, or an index from before parts, holding a stored ``edges``
table) is opened directly, read-only, as before parts. Otherwise
:func:`open_tables` attaches every part (:mod:`hipporag.index.tables`)
read-only to an in-memory DuckDB and defines ``passages``, ``entities``,
``facts``, ``fact_provenance``, ``mentions``, ``synonymy`` as the union of the
parts less their dead rows (one anti-join per view against an in-memory
``_dead_KIND(key, part)`` table: the newest part tombstoning each key, read
once when the tables are opened), then ``edges``, ``nodes``, ``documents`` and
``fact_triples``; file system access is then disabled and the configuration
locked (unless ``external_access``). :func:`refuse_changes` keeps
:meth:`Index.sql` from dropping or replacing the shared views.

Example:
    >>> import duckdb
    >>> refuse_changes(duckdb.connect(), "CREATE TEMP TABLE t AS SELECT 1")
    >>> refuse_changes(duckdb.connect(), "DROP VIEW passages")
    Traceback (most recent call last):
    ...
    hipporag.errors.InputError: the index tables are read-only...
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from hipporag.errors import IndexFormatError, InputError
from hipporag.index.format import VIEWS_SQL, file_path
from hipporag.index.integrity import check_file, damaged
from hipporag.index.tables import (
    EDGES_SQL,
    KEYS,
    PART_TABLES,
    TOMBSTONE_KINDS,
    Part,
    attach_sql,
    db_parts,
    dead_sql,
    union_sql,
)


def _catalog(con: Any, alias: str) -> set[str]:
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
        "UNION ALL SELECT view_name FROM duckdb_views() WHERE database_name = ? AND NOT internal",
        [alias, alias],
    ).fetchall()
    return {r[0] for r in rows}


def define_views(
    con: Any,
    aliases: list[str],
    parts: list[Part],
    *,
    n_entity_rows: int,
    passage_entity_weight: float,
) -> None:
    """Create the user-facing views (tables, ``edges``, ``nodes``, ...) over attached parts."""
    names = [_catalog(con, a) for a in aliases]
    synonymy = [
        f"{a}.synonymy"
        if "synonymy" in n
        else f"(SELECT src, dst, weight FROM {a}.edges WHERE kind = 'synonymy')"
        for a, n in zip(aliases, names, strict=True)
    ]
    dead: dict[str, str] = {}
    for kind in TOMBSTONE_KINDS:
        sql = dead_sql(kind, aliases, parts)
        if sql is not None:  # read once per open: queries join one small in-memory table
            dead[kind] = f"_dead_{kind}"
            con.execute(f"CREATE TABLE _dead_{kind} AS {sql}")
    for table in PART_TABLES:
        sources = synonymy if table == "synonymy" else None
        sel = union_sql(table, aliases, dead.get(KEYS[table][1]), sources)
        con.execute(f"CREATE VIEW {table} AS {sel}")
    if len(aliases) == 1 and "edges" in names[0]:
        con.execute(f"CREATE VIEW edges AS SELECT * FROM {aliases[0]}.edges")
    else:
        con.execute(
            EDGES_SQL.format(
                n_entity_rows=int(n_entity_rows),
                passage_entity_weight=float(passage_entity_weight),
            )
        )
    con.execute(VIEWS_SQL.format(n_entity_rows=int(n_entity_rows)))


def part_paths(root: Path, meta: dict[str, Any]) -> list[tuple[Part, Path]]:
    """Each part of a manifest with its file; a part the manifest lists no file for raises."""
    out = []
    for part in db_parts(meta):
        rel = file_path(meta, part.file)
        if rel is None:
            raise damaged(root, f"the manifest lists no {part.file}")
        check_file(root, meta, part.file, root / rel)
        out.append((part, root / rel))
    return out


def _open_file(path: Path, external_access: bool, *, need: str | None) -> Any | None:
    """One part opened directly, read-only, as before parts; None if it lacks ``need``."""
    import duckdb

    config = {} if external_access else {"enable_external_access": False}
    try:
        con = duckdb.connect(str(path), read_only=True, config=config)
    except duckdb.ConnectionException:
        raise IndexFormatError(
            f"{path} is already open in this process with external_access={not external_access}",
            hint="close() the other Index first, or open both alike",
        ) from None
    if (
        need is None
        or con.execute(
            "SELECT count(*) FROM (SELECT table_name AS name FROM duckdb_tables() UNION ALL "
            "SELECT view_name FROM duckdb_views()) WHERE name = ?",
            [need],
        ).fetchone()[0]
    ):
        return con
    con.close()
    return None


def open_tables(
    root: Path,
    meta: dict[str, Any],
    *,
    passage_entity_weight: float,
    external_access: bool = False,
) -> Any:
    """A DuckDB connection on the generation's tables (read-only views).

    One part without tombstones that holds every view (written so, or an index
    from before parts) is opened directly, read-only: the lookups run on its
    tables as they always did. Otherwise the parts are attached read-only to an
    in-memory database and the views defined over them; file system access is
    then disabled and the configuration locked, unless ``external_access``.
    """
    import duckdb

    parts = part_paths(root, meta)
    v1 = meta.get("format_version") == 1
    if len(parts) == 1 and (v1 or not parts[0][0].tombstones):
        con = _open_file(parts[0][1], external_access, need=None if v1 else "edges")
        if con is not None:
            return con
    con = duckdb.connect(":memory:")
    try:
        aliases = [f"p{i}" for i in range(len(parts))]
        for alias, (_part, path) in zip(aliases, parts, strict=True):
            con.execute(attach_sql(str(path), alias))
        define_views(
            con,
            aliases,
            [p for p, _ in parts],
            n_entity_rows=int(meta.get("counts", {}).get("entities", 0)),
            passage_entity_weight=passage_entity_weight,
        )
        if not external_access:
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


_TEMP_RE = re.compile(r"^\s*CREATE\s+(OR\s+REPLACE\s+)?TEMP(ORARY)?\b", re.IGNORECASE)


def refuse_changes(con: Any, query: str) -> None:
    """Raise :class:`InputError` for a statement that would change the shared views."""
    import duckdb

    try:
        statements = con.extract_statements(query)
    except duckdb.Error:
        return  # let execute() report the syntax error
    bad = {duckdb.StatementType.DROP, duckdb.StatementType.ALTER, duckdb.StatementType.DETACH}
    for st in statements:
        if st.type in bad or (
            st.type == duckdb.StatementType.CREATE and not _TEMP_RE.match(st.query)
        ):
            raise InputError(
                "the index tables are read-only",
                hint="create TEMP tables or views for your own results, or change the index "
                "with 'hipporag insert/delete/update'",
            )


__all__ = ["define_views", "open_tables", "part_paths", "refuse_changes"]
