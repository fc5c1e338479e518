"""The filter grammar compiled to a DuckDB predicate over ``passages.metadata``.

See :mod:`hipporag.filters` for the grammar. Inputs are bounded: keys and
string values must be valid Unicode (no lone surrogates), numbers finite and
within the float range, dates valid ISO dates (any year 1..9999, any UTC
offset), and ``not`` / ``all`` nest at most :data:`MAX_DEPTH` levels; anything
else is a one-line :class:`~hipporag.errors.InputError`. ``in`` / ``nin``
lists of any length are one list parameter each, matched by a hash join in
DuckDB: the cost grows linearly with the list.

Keys are addressed with JSON pointers (``/key``), so any key -- ``*``,
``a.b``, ``a/b`` -- means itself, never a JSON path wildcard.

Example:
    >>> sql, params = compile_filters({"year": {"gte": 2020}, "draft": False})
    >>> sql
    '(TRY_CAST(json_extract_string(metadata, ?) AS DOUBLE) >= ?) AND (json_extract_string(metadata, ?) = ?)'
    >>> params
    ['/year', 2020.0, '/draft', 'false']
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from collections.abc import Mapping
from typing import Any

from hipporag.errors import InputError

RANGE_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
OPS = frozenset({"eq", "ne", "in", "nin", "not", "exists", "all", *RANGE_OPS})
MAX_DEPTH = 32
"""Deepest nesting of ``not`` / ``all`` conditions accepted."""
_ISO_DATE = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$"
)
HINT = (
    'write filters as {"key": value}, {"key": [v1, v2]} or {"key": {"gte": 2020, "not": "x"}} '
    f"(operators: {', '.join(sorted(OPS))})"
)

Scalar = str | int | float | bool


def error(message: str) -> InputError:
    """A filter error with the grammar as its hint."""
    return InputError(f"bad filter: {message}", hint=HINT)


def check_text(what: str, text: str) -> str:
    """``text`` if it is valid Unicode (no lone surrogate), else a one-line error."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"{what} {text!r:.40} holds a lone surrogate (not valid Unicode)") from None
    return text


def pointer(key: str) -> str:
    """The JSON pointer of a top-level key (``~`` and ``/`` escaped)."""
    return "/" + key.replace("~", "~0").replace("/", "~1")


def _number(key: str, v: int | float) -> float:
    try:
        out = float(v)
    except OverflowError:
        raise error(f"{key!r}: the number {str(v)[:20]}... is out of range") from None
    if not math.isfinite(out):
        raise error(f"{key!r}: {v!r} is not a finite number")
    return out


def _scalar(key: str, v: Any) -> Scalar:
    if isinstance(v, _dt.datetime | _dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        return v
    if isinstance(v, int | float):
        _number(key, v)
        return v
    if isinstance(v, str):
        return check_text(f"{key!r}: value", v)
    raise error(f"{key!r}: {type(v).__name__} {v!r:.40} is not a string, number or boolean")


def _eq(key: str, v: Any) -> tuple[str, list[Any]]:
    v = _scalar(key, v)
    p = pointer(key)
    if isinstance(v, bool):
        return "json_extract_string(metadata, ?) = ?", [p, "true" if v else "false"]
    if isinstance(v, int | float):
        return "TRY_CAST(json_extract_string(metadata, ?) AS DOUBLE) = ?", [p, _number(key, v)]
    return (
        "(COALESCE(list_contains(TRY_CAST(json_extract(metadata, ?) AS VARCHAR[]), ?), FALSE)"
        " OR json_extract_string(metadata, ?) = ?)",
        [p, v, p, v],
    )


def _any_of(key: str, values: Any) -> tuple[str, list[Any]]:
    """Any of ``values``: one list parameter per value type, a hash join (linear cost)."""
    if not isinstance(values, list | tuple) or not values:
        raise error(f"{key!r}: 'in' needs a non-empty list of values")
    p = pointer(key)
    texts: list[str] = []
    numbers: list[float] = []
    flags: set[str] = set()
    for raw in values:
        v = _scalar(key, raw)
        if isinstance(v, bool):
            flags.add("true" if v else "false")
        elif isinstance(v, int | float):
            numbers.append(_number(key, v))
        else:
            texts.append(v)
    parts: list[str] = []
    params: list[Any] = []
    if texts:
        parts.append(
            "json_extract_string(metadata, ?) IN (SELECT unnest(?::VARCHAR[])) OR COALESCE("
            "list_has_any(TRY_CAST(json_extract(metadata, ?) AS VARCHAR[]), ?::VARCHAR[]), FALSE)"
        )
        params += [p, texts, p, texts]
    if numbers:
        parts.append(
            "TRY_CAST(json_extract_string(metadata, ?) AS DOUBLE) IN (SELECT unnest(?::DOUBLE[]))"
        )
        params += [p, numbers]
    if flags:
        parts.append("json_extract_string(metadata, ?) IN (SELECT unnest(?::VARCHAR[]))")
        params += [p, sorted(flags)]
    return "(" + " OR ".join(parts) + ")", params


# A metadata time as UTC wall time: converted when it carries an offset (``Z``,
# ``+02:00``), taken as UTC when it does not; independent of DuckDB's TimeZone.
_UTC_TIME = (
    "(CASE WHEN regexp_matches(json_extract_string(metadata, ?), '(Z|[+-][0-9]{2}:?[0-9]{2})$') "
    "THEN timezone('UTC', TRY_CAST(json_extract_string(metadata, ?) AS TIMESTAMPTZ)) "
    "ELSE TRY_CAST(json_extract_string(metadata, ?) AS TIMESTAMP) END)"
)


def _timestamp(key: str, op: str, v: str) -> tuple[str, float]:
    """(UTC-less wall time, offset seconds) of an ISO date; DuckDB subtracts the offset.

    Done in SQL so that a time near year 1 or 9999 with an offset (whose UTC
    time Python cannot represent) still compares correctly.
    """
    try:
        dt = _dt.datetime.fromisoformat(v)
    except ValueError:
        raise error(
            f"{key!r}: {op!r} needs a number or an ISO date (YYYY-MM-DD), got {v!r:.40}"
        ) from None
    offset = dt.utcoffset()
    seconds = 0.0 if offset is None else offset.total_seconds()
    return dt.replace(tzinfo=None).isoformat(sep=" "), seconds


def _range(key: str, op: str, v: Any) -> tuple[str, list[Any]]:
    v = _scalar(key, v)
    p = pointer(key)
    if isinstance(v, bool):
        raise error(f"{key!r}: {op!r} needs a number or an ISO date, not a boolean")
    if isinstance(v, int | float):
        return f"TRY_CAST(json_extract_string(metadata, ?) AS DOUBLE) {RANGE_OPS[op]} ?", [
            p,
            _number(key, v),
        ]
    if not _ISO_DATE.match(v):
        raise error(f"{key!r}: {op!r} needs a number or an ISO date (YYYY-MM-DD), got {v!r:.40}")
    wall, seconds = _timestamp(key, op, v)
    sql = f"{_UTC_TIME} {RANGE_OPS[op]} (CAST(? AS TIMESTAMP) - to_seconds(?))"
    return sql, [p, p, p, wall, seconds]


def condition(key: str, cond: Any, depth: int = 0) -> tuple[str, list[Any]]:
    """The SQL of one key's condition (``depth``: nesting of ``not`` / ``all`` so far)."""
    if depth > MAX_DEPTH:
        raise error(f"{key!r}: conditions nest deeper than {MAX_DEPTH} levels")
    if isinstance(cond, list | tuple):
        return _any_of(key, cond)
    if not isinstance(cond, Mapping):
        return _eq(key, cond)
    if not cond:
        raise error(f"{key!r}: an empty condition {{}}")
    parts: list[tuple[str, list[Any]]] = []
    for op, v in cond.items():
        if op not in OPS:
            raise error(f"{key!r}: unknown operator {str(op)!r:.40}")
        if op == "eq":
            parts.append(_eq(key, v))
        elif op == "in":
            parts.append(_any_of(key, v))
        elif op == "all":
            if not isinstance(v, list | tuple) or not v:
                raise error(f"{key!r}: 'all' needs a non-empty list of conditions")
            subs = [condition(key, c, depth + 1) for c in v]
            parts.append(
                (
                    "(" + " AND ".join(f"({s})" for s, _ in subs) + ")",
                    [x for _, ps in subs for x in ps],
                )
            )
        elif op in ("ne", "nin", "not"):
            if op == "ne":
                s, ps = _eq(key, v)
            elif op == "nin":
                s, ps = _any_of(key, v)
            else:
                s, ps = condition(key, v, depth + 1)
            parts.append((f"NOT COALESCE({s}, FALSE)", ps))
        elif op == "exists":
            if not isinstance(v, bool):
                raise error(f"{key!r}: 'exists' takes true or false")
            parts.append(
                (f"json_extract(metadata, ?) IS {'NOT ' if v else ''}NULL", [pointer(key)])
            )
        else:
            parts.append(_range(key, op, v))
    return " AND ".join(s for s, _ in parts), [x for _, ps in parts for x in ps]


def compile_filters(filters: Any) -> tuple[str, list[Any]]:
    """A DuckDB predicate over the ``metadata`` JSON column and its parameters.

    Returns ``("TRUE", [])`` for an empty or None spec.

    Raises:
        InputError: the spec is malformed (see :mod:`hipporag.filters` for the grammar).
    """
    if filters is None:
        return "TRUE", []
    if not isinstance(filters, Mapping):
        raise error(f"expected a dict of key: condition, got {type(filters).__name__}")
    parts = []
    for key, cond in filters.items():
        if not isinstance(key, str) or not key:
            raise error(f"key {key!r:.40} is not a non-empty string")
        check_text("key", key)
        s, ps = condition(key, cond)
        parts.append((f"({s})", ps))
    if not parts:
        return "TRUE", []
    return " AND ".join(s for s, _ in parts), [x for _, ps in parts for x in ps]


__all__ = ["HINT", "MAX_DEPTH", "OPS", "RANGE_OPS", "check_text", "compile_filters", "pointer"]
