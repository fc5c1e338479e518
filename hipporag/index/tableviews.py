"""The tables of a generation as one read-only set of views over its DuckDB parts.

:func:`open_tables` attaches every part of the manifest (:mod:`hipporag.index.tables`)
read-only to an in-memory DuckDB and defines ``passages``, ``entities``,
``facts``, ``fact_provenance``, ``mentions``, ``synonymy`` as the union of the
parts less their dead rows, then ``edges`` (derived, or the stored table of an
index written before parts), ``nodes``, ``documents`` and ``fact_triples``. With
one part, or no tombstones, a view is a plain ``SELECT``; otherwise one
anti-join per view against an in-memory ``_dead_KIND(key, part)`` table (the
newest part tombstoning each key) read when the tables are opened. File system
access is then disabled and the configuration locked (unless
``external_access``); :func:`refuse_changes` keeps :meth:`Index.sql` from
dropping or replacing the shared views.

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

from hipporag.errors import InputError
from hipporag.index.format import VIEWS_SQL, file_path
from hipporag.index.integrity import damaged
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


def pass_through_views(con: Any, alias: str) -> None:
    """Views of every table and view of one attached database (format version 1).

    A view of the file that does not bind (it names a missing column) is left out.
    """
    import duckdb

    for name in sorted(_catalog(con, alias)):
        try:
            con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM {alias}."{name}"')
        except duckdb.BinderException:
            continue


def part_paths(root: Path, meta: dict[str, Any]) -> list[tuple[Part, Path]]:
    """Each part of a manifest with its file; a part the manifest lists no file for raises."""
    out = []
    for part in db_parts(meta):
        rel = file_path(meta, part.file)
        if rel is None:
            raise damaged(root, f"the manifest lists no {part.file}")
        out.append((part, root / rel))
    return out


def open_tables(
    root: Path,
    meta: dict[str, Any],
    *,
    passage_entity_weight: float,
    external_access: bool = False,
) -> Any:
    """An in-memory DuckDB with the parts attached read-only and the views defined.

    File system access is disabled (and the configuration locked) after the
    parts are attached, unless ``external_access``.
    """
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        parts = part_paths(root, meta)
        aliases = [f"p{i}" for i in range(len(parts))]
        for alias, (_part, path) in zip(aliases, parts, strict=True):
            con.execute(attach_sql(str(path), alias))
        if meta.get("format_version") == 1:
            pass_through_views(con, aliases[0])
        else:
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


__all__ = ["define_views", "open_tables", "part_paths", "pass_through_views", "refuse_changes"]
