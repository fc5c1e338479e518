"""Metadata filters: a small spec, validated, compiled to SQL over ``passages.metadata``.

A filter spec is a dict ``{key: condition}``; all keys must match (AND):

* a scalar: equality (``{"source": "manual"}``; for a list-valued key, the
  list contains it);
* a list: any of (``{"tenant": ["a", "b"]}``);
* a dict of operators: ``eq``, ``ne``, ``in``, ``nin``, ``gt``, ``gte``,
  ``lt``, ``lte`` (numbers, or ISO dates ``"2024-05-01"`` compared as dates;
  a time with a UTC offset is converted to UTC, a time without one is taken
  as UTC, in the filter and in the metadata alike),
  ``exists`` (true/false), ``not`` (any condition, negated) and ``all`` (a
  list of conditions that must all hold), e.g.
  ``{"year": {"gte": 2020, "lt": 2025}, "lang": {"not": "de"}}``.

:func:`all_of` combines specs (a passage must match each one): how a tenant's
filter is ANDed into a request's.

A passage without the key never matches a positive condition and always
matches a negated one (``ne``, ``nin``, ``not``). Values are passed as query
parameters, never spliced into SQL text.

:func:`allowed_passages` runs the predicate against an index and returns the
sorted ``passage_idx`` allow-list every retriever takes as ``allow=``.

Example:
    >>> sql, params = compile_filters({"year": {"gte": 2020}, "draft": False})
    >>> sql
    '(TRY_CAST(json_extract_string(metadata, ?) AS DOUBLE) >= ?) AND (json_extract_string(metadata, ?) = ?)'
    >>> params
    ['$.year', 2020.0, '$.draft', 'false']
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from hipporag.errors import InputError

RANGE_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
OPS = frozenset({"all", "eq", "ne", "in", "nin", "not", "exists", *RANGE_OPS})
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
_HINT = (
    'write filters as {"key": value}, {"key": [v1, v2]} or {"key": {"gte": 2020, "not": "x"}} '
    f"(operators: {', '.join(sorted(OPS))})"
)

Scalar = str | int | float | bool


def _error(message: str) -> InputError:
    return InputError(f"bad filter: {message}", hint=_HINT)


def _path(key: str) -> str:
    """The JSON path of a top-level key (quoted unless it is a plain name)."""
    if key.isidentifier():
        return "$." + key
    return '$."' + key.replace('"', '\\"') + '"'


def _timestamp(key: str, op: str, v: str) -> str:
    try:
        dt = _dt.datetime.fromisoformat(v)
    except ValueError:
        raise _error(
            f"{key!r}: {op!r} needs a number or an ISO date (YYYY-MM-DD), got {v!r:.40}"
        ) from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(_dt.UTC).replace(tzinfo=None)
    return dt.isoformat(sep=" ")


def _scalar(key: str, v: Any) -> Scalar:
    if isinstance(v, _dt.datetime | _dt.date):
        return v.isoformat()
    if isinstance(v, bool | int | float | str):
        return v
    raise _error(f"{key!r}: {type(v).__name__} {v!r:.40} is not a string, number or boolean")


def _eq(key: str, v: Any) -> tuple[str, list[Any]]:
    v = _scalar(key, v)
    p = _path(key)
    if isinstance(v, bool):
        return "json_extract_string(metadata, ?) = ?", [p, "true" if v else "false"]
    if isinstance(v, int | float):
        return "TRY_CAST(json_extract_string(metadata, ?) AS DOUBLE) = ?", [p, float(v)]
    return (
        "(COALESCE(list_contains(TRY_CAST(json_extract(metadata, ?) AS VARCHAR[]), ?), FALSE)"
        " OR json_extract_string(metadata, ?) = ?)",
        [p, v, p, v],
    )


def _any_of(key: str, values: Any) -> tuple[str, list[Any]]:
    if not isinstance(values, list | tuple) or not values:
        raise _error(f"{key!r}: 'in' needs a non-empty list of values")
    parts = [_eq(key, v) for v in values]
    return "(" + " OR ".join(s for s, _ in parts) + ")", [x for _, ps in parts for x in ps]


# A metadata time as UTC wall time: converted when it carries an offset (``Z``,
# ``+02:00``), taken as UTC when it does not; independent of DuckDB's TimeZone.
_UTC_TIME = (
    "(CASE WHEN regexp_matches(json_extract_string(metadata, ?), '(Z|[+-][0-9]{2}:?[0-9]{2})$') "
    "THEN timezone('UTC', TRY_CAST(json_extract_string(metadata, ?) AS TIMESTAMPTZ)) "
    "ELSE TRY_CAST(json_extract_string(metadata, ?) AS TIMESTAMP) END)"
)


def _range(key: str, op: str, v: Any) -> tuple[str, list[Any]]:
    v = _scalar(key, v)
    p = _path(key)
    if isinstance(v, bool):
        raise _error(f"{key!r}: {op!r} needs a number or an ISO date, not a boolean")
    if isinstance(v, int | float):
        return f"TRY_CAST(json_extract_string(metadata, ?) AS DOUBLE) {RANGE_OPS[op]} ?", [
            p,
            float(v),
        ]
    if not _ISO_DATE.match(v):
        raise _error(f"{key!r}: {op!r} needs a number or an ISO date (YYYY-MM-DD), got {v!r:.40}")
    return f"{_UTC_TIME} {RANGE_OPS[op]} CAST(? AS TIMESTAMP)", [p, p, p, _timestamp(key, op, v)]


def _condition(key: str, cond: Any) -> tuple[str, list[Any]]:
    if isinstance(cond, list | tuple):
        return _any_of(key, cond)
    if not isinstance(cond, Mapping):
        return _eq(key, cond)
    if not cond:
        raise _error(f"{key!r}: an empty condition {{}}")
    parts: list[tuple[str, list[Any]]] = []
    for op, v in cond.items():
        if op not in OPS:
            raise _error(f"{key!r}: unknown operator {op!r}")
        if op == "eq":
            parts.append(_eq(key, v))
        elif op == "in":
            parts.append(_any_of(key, v))
        elif op in ("ne", "nin", "not"):
            inner = _eq(key, v) if op == "ne" else _any_of(key, v) if op == "nin" else None
            s, ps = inner if inner is not None else _condition(key, v)
            parts.append((f"NOT COALESCE({s}, FALSE)", ps))
        elif op == "all":
            if not isinstance(v, list | tuple) or not v:
                raise _error(f"{key!r}: 'all' needs a non-empty list of conditions")
            subs = [_condition(key, c) for c in v]
            parts.append(
                (
                    "(" + " AND ".join(f"({s})" for s, _ in subs) + ")",
                    [x for _, ps in subs for x in ps],
                )
            )
        elif op == "exists":
            if not isinstance(v, bool):
                raise _error(f"{key!r}: 'exists' takes true or false")
            parts.append((f"json_extract(metadata, ?) IS {'NOT ' if v else ''}NULL", [_path(key)]))
        else:
            parts.append(_range(key, op, v))
    return " AND ".join(s for s, _ in parts), [x for _, ps in parts for x in ps]


def validate_filters(filters: Any) -> dict[str, Any]:
    """``filters`` checked (keys non-empty strings, known operators); ``{}`` for None.

    Raises:
        InputError: a one-line message saying what is wrong and how to write it.
    """
    compile_filters(filters)
    return dict(filters or {})


def compile_filters(filters: Any) -> tuple[str, list[Any]]:
    """A DuckDB predicate over the ``metadata`` JSON column and its parameters.

    Returns ``("TRUE", [])`` for an empty or None spec.

    Raises:
        InputError: the spec is malformed (see the module docstring for the grammar).
    """
    if filters is None:
        return "TRUE", []
    if not isinstance(filters, Mapping):
        raise _error(f"expected a dict of key: condition, got {type(filters).__name__}")
    parts = []
    for key, cond in filters.items():
        if not isinstance(key, str) or not key:
            raise _error(f"key {key!r} is not a non-empty string")
        s, ps = _condition(key, cond)
        parts.append((f"({s})", ps))
    if not parts:
        return "TRUE", []
    return " AND ".join(s for s, _ in parts), [x for _, ps in parts for x in ps]


def all_of(*specs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """One filter spec matching exactly the passages that match every one of ``specs``.

    Keys in one spec only keep their condition; a key in several gets
    ``{"all": [condition, ...]}``. None and ``{}`` (no restriction) are
    skipped; None when nothing restricts. Each spec is validated.

    Example:
        >>> all_of({"tenant": "a"}, {"year": {"gte": 2020}}, None)
        {'tenant': 'a', 'year': {'gte': 2020}}
        >>> all_of({"tenant": "a"}, {"tenant": ["a", "b"], "lang": "en"})
        {'tenant': {'all': ['a', ['a', 'b']]}, 'lang': 'en'}
        >>> all_of(None, {}) is None
        True

    Raises:
        InputError: one of the specs is malformed.
    """
    per_key: dict[str, list[Any]] = {}
    for spec in specs:
        if not spec:
            continue
        compile_filters(spec)
        for key, cond in spec.items():
            per_key.setdefault(key, []).append(cond)
    if not per_key:
        return None
    return {k: c[0] if len(c) == 1 else {"all": c} for k, c in per_key.items()}


def _has_metadata(con: Any) -> bool:
    rows = con.execute(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_name = 'passages' "
        "AND column_name = 'metadata'"
    ).fetchall()
    return bool(rows)


def allowed_passages(index: Any, filters: Any) -> np.ndarray | None:
    """The sorted ``passage_idx`` (int64) of the passages matching ``filters``.

    Returns None when ``filters`` is empty or None (no restriction); an empty
    array when nothing matches.

    Raises:
        InputError: a malformed spec, or an index built without metadata.
    """
    sql, params = compile_filters(filters)
    if sql == "TRUE":
        return None
    con = index.connection()
    if not _has_metadata(con):
        raise InputError(
            f"index {getattr(index, 'path', '')} has no passage metadata to filter on",
            hint="rebuild it with this version of the toolkit (hipporag index ...)",
        )
    rows = con.execute(
        f"SELECT passage_idx FROM passages WHERE {sql} ORDER BY passage_idx", params
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


_CLI_RE = re.compile(r"^([^=<>!]+?)\s*(>=|<=|!=|=|>|<)\s*(.*)$")
_CLI_OPS = {">=": "gte", "<=": "lte", ">": "gt", "<": "lt", "!=": "ne"}


def _cli_value(text: str) -> Scalar:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_filter_args(args: list[str] | None) -> dict[str, Any]:
    """Filters from command-line words ``key=value``, ``key!=v``, ``key>=v``, ``key=a,b``.

    Repeating a key combines the conditions (AND). Numbers and true/false are typed.

    Example:
        >>> parse_filter_args(["source=manual", "year>=2020", "tenant=a,b", "lang!=de"])
        {'source': 'manual', 'year': {'gte': 2020}, 'tenant': ['a', 'b'], 'lang': {'ne': 'de'}}
    """
    out: dict[str, Any] = {}
    for arg in args or []:
        m = _CLI_RE.match(arg)
        if not m or not m.group(1).strip():
            raise InputError(
                f"bad --filter {arg!r}",
                hint="write KEY=VALUE, KEY=A,B (any of), KEY!=VALUE, KEY>=NUMBER_OR_DATE",
            )
        key, op, raw = m.group(1).strip(), m.group(2), m.group(3).strip()
        if op == "=":
            values = [_cli_value(v.strip()) for v in raw.split(",")] if "," in raw else None
            cond: Any = values if values is not None else _cli_value(raw)
        else:
            cond = {_CLI_OPS[op]: _cli_value(raw)}
        if key in out:
            prev = out[key] if isinstance(out[key], dict) else {"eq": out[key]}
            if isinstance(out[key], list):
                prev = {"in": out[key]}
            new = (
                cond if isinstance(cond, dict) else {"in" if isinstance(cond, list) else "eq": cond}
            )
            cond = {**prev, **new}
        out[key] = cond
    compile_filters(out)
    return out


__all__ = [
    "OPS",
    "all_of",
    "allowed_passages",
    "compile_filters",
    "parse_filter_args",
    "validate_filters",
]
