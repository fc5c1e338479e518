"""Metadata filters: a small spec, validated, compiled to SQL over ``passages.metadata``.

A filter spec is a dict ``{key: condition}``; all keys must match (AND):

* a scalar: equality (``{"source": "manual"}``; for a list-valued key, the
  list contains it);
* a list: any of (``{"tenant": ["a", "b"]}``);
* a dict of operators, all of which must hold: ``eq``, ``ne``, ``in``, ``nin``,
  ``gt``, ``gte``, ``lt``, ``lte`` (numbers, or ISO dates ``"2024-05-01"``
  compared as dates; a time with a UTC offset is converted to UTC, a time
  without one is taken as UTC, in the filter and in the metadata alike),
  ``exists`` (true/false), ``not`` (any condition, negated) and ``all`` (a
  list of conditions on the key, every one of which must hold), e.g.
  ``{"year": {"gte": 2020, "lt": 2025}, "lang": {"not": "de"}}``.

A passage without the key never matches a positive condition and always
matches a negated one (``ne``, ``nin``, ``not``). Values are passed as query
parameters, never spliced into SQL text (:mod:`hipporag.filter_sql` compiles
them and bounds every input).

Several specs combine with exact AND semantics (:func:`and_filters`): two
conditions on one key must both hold, so ``{"year": {"gte": 2020}}`` and
``{"year": {"lt": 2005}}`` together match nothing. Repeated ``--filter``
words, a JSON spec next to words, and an adapter's configured filter next
to a per-call one are all combined this way.

A key that no passage of the index has is an error with a "did you mean"
hint (:func:`allowed_passages`), unless the caller asks for
``unknown_keys="match_none"``: then the filter matches nothing and a warning
is logged.

:func:`allowed_passages` runs the predicate against an index and returns the
sorted ``passage_idx`` allow-list every retriever takes as ``allow=``.

Example:
    >>> and_filters({"year": {"gte": 2020}, "lang": "en"}, {"year": {"lt": 2005}})
    {'year': {'gte': 2020, 'lt': 2005}, 'lang': 'en'}
    >>> and_filters({"tenant": "acme"}, {"tenant": "globex"})
    {'tenant': {'all': ['acme', 'globex']}}
"""

from __future__ import annotations

import contextlib
import re
import weakref
from collections.abc import Mapping
from typing import Any

import numpy as np

from hipporag.errors import InputError
from hipporag.filter_sql import HINT, OPS, compile_filters, error
from hipporag.log import get_logger
from hipporag.sections import suggest

log = get_logger(__name__)

UNKNOWN_KEYS = ("error", "match_none")
"""Policies for a filter key that no passage has: fail (default) or match nothing."""

Scalar = str | int | float | bool


def validate_filters(filters: Any) -> dict[str, Any]:
    """``filters`` checked (keys non-empty strings, known operators); ``{}`` for None.

    Raises:
        InputError: a one-line message saying what is wrong and how to write it.
    """
    compile_filters(filters)
    return dict(filters or {})


def _as_ops(cond: Any) -> dict[str, Any]:
    if isinstance(cond, Mapping):
        return dict(cond)
    if isinstance(cond, list | tuple):
        return {"in": list(cond)}
    return {"eq": cond}


def _and(a: Any, b: Any) -> Any:
    """Both conditions on one key: merged operators when none repeats, else ``all``."""
    ops_a, ops_b = _as_ops(a), _as_ops(b)
    if not (set(ops_a) & set(ops_b)) and "all" not in ops_a and "all" not in ops_b:
        return {**ops_a, **ops_b}
    items: list[Any] = []
    for c in (a, b):
        if isinstance(c, Mapping) and set(c) == {"all"} and isinstance(c["all"], list):
            items.extend(c["all"])
        else:
            items.append(c)
    return {"all": items}


def and_filters(*specs: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """One spec matching exactly the passages every ``spec`` matches (None: no restriction).

    Raises:
        InputError: a malformed spec.
    """
    out: dict[str, Any] = {}
    for spec in specs:
        if not spec:
            continue
        validate_filters(spec)
        for key, cond in spec.items():
            out[key] = _and(out[key], cond) if key in out else cond
    return out or None


all_of = and_filters
"""How a service key's tenant filter is ANDed into a request's (same as :func:`and_filters`)."""


def _has_metadata(con: Any) -> bool:
    rows = con.execute(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND table_name = 'passages' "
        "AND column_name = 'metadata'"
    ).fetchall()
    return bool(rows)


_KEYS: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


def metadata_keys(index: Any) -> frozenset[str]:
    """The metadata keys of the index's passages (read once per open index)."""
    try:
        found = _KEYS.get(index)
    except TypeError:  # not weak-referenceable: no cache
        found = None
    if found is None:
        rows = index.connection().execute(
            "SELECT DISTINCT unnest(json_keys(metadata)) FROM passages "
            "WHERE metadata IS NOT NULL AND json_type(metadata) = 'OBJECT'"
        )
        found = frozenset(str(r[0]) for r in rows.fetchall())
        with contextlib.suppress(TypeError):  # not weak-referenceable: no cache
            _KEYS[index] = found
    return found


def check_keys(
    known: frozenset[str], filters: Mapping[str, Any], policy: str = "error"
) -> list[str]:
    """The keys of ``filters`` not in ``known``; with ``policy="error"`` the first raises.

    Example:
        >>> check_keys(frozenset({"lang"}), {"lang": "en", "tenat": "x"}, "match_none")
        ['tenat']
        >>> check_keys(frozenset({"tenant"}), {"tenat": "x"})
        Traceback (most recent call last):
        hipporag.errors.InputError: unknown metadata key 'tenat' in the filter
          how to fix: did you mean 'tenant'? (or ask for unknown keys to match nothing: unknown_filter_keys='match_none')
    """
    missing = [k for k in filters if k not in known]
    if missing and policy == "error":
        key = missing[0]
        hint = suggest(key, known) if known else "the index's passages have no metadata"
        raise InputError(
            f"unknown metadata key {key!r:.60} in the filter",
            hint=f"{hint} (or ask for unknown keys to match nothing: "
            "unknown_filter_keys='match_none')",
        )
    return missing


def allowed_passages(index: Any, filters: Any, *, unknown_keys: str = "error") -> np.ndarray | None:
    """The sorted ``passage_idx`` (int64) of the passages matching ``filters``.

    Returns None when ``filters`` is empty or None (no restriction); an empty
    array when nothing matches.

    Args:
        index: An open index (its ``connection()`` is queried).
        filters: A filter spec.
        unknown_keys: ``"error"`` (default): a key no passage has raises with a
            "did you mean" hint; ``"match_none"``: such a filter matches nothing,
            with a warning.

    Raises:
        InputError: a malformed spec, an unknown key, or an index built without metadata.
    """
    if unknown_keys not in UNKNOWN_KEYS:
        raise InputError(
            f"unknown_keys must be one of {UNKNOWN_KEYS}, got {unknown_keys!r}",
            hint="use 'error' (default) or 'match_none'",
        )
    sql, params = compile_filters(filters)
    if sql == "TRUE":
        return None
    con = index.connection()
    if not _has_metadata(con):
        raise InputError(
            f"index {getattr(index, 'path', '')} has no passage metadata to filter on",
            hint="rebuild it with this version of the toolkit (hipporag index ...)",
        )
    missing = check_keys(metadata_keys(index), filters, unknown_keys)
    if missing:
        log.warning("filter key(s) %s occur in no passage: the filter matches nothing", missing[:5])
        return np.zeros(0, dtype=np.int64)
    rows = con.execute(
        f"SELECT passage_idx FROM passages WHERE {sql} ORDER BY passage_idx", params
    ).fetchall()
    return np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))


_CLI_RE = re.compile(r"^([^=<>!]+?)\s*(>=|<=|!=|=|>|<)\s*(.*)$", re.DOTALL)
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

    Repeating a key combines the conditions (AND, :func:`and_filters`). Numbers
    and true/false are typed.

    Example:
        >>> parse_filter_args(["source=manual", "year>=2020", "tenant=a,b", "lang!=de"])
        {'source': 'manual', 'year': {'gte': 2020}, 'tenant': ['a', 'b'], 'lang': {'ne': 'de'}}
        >>> parse_filter_args(["year=2001", "year=2003"])
        {'year': {'all': [2001, 2003]}}
    """
    out: dict[str, Any] = {}
    for arg in args or []:
        m = _CLI_RE.match(arg)
        if not m or not m.group(1).strip():
            raise InputError(
                f"bad --filter {arg!r:.60}",
                hint="write KEY=VALUE, KEY=A,B (any of), KEY!=VALUE, KEY>=NUMBER_OR_DATE",
            )
        key, op, raw = m.group(1).strip(), m.group(2), m.group(3).strip()
        if op == "=":
            values = [_cli_value(v.strip()) for v in raw.split(",")] if "," in raw else None
            cond: Any = values if values is not None else _cli_value(raw)
        else:
            cond = {_CLI_OPS[op]: _cli_value(raw)}
        out = and_filters(out, {key: cond}) or {}
    return out


__all__ = [
    "HINT",
    "OPS",
    "UNKNOWN_KEYS",
    "all_of",
    "allowed_passages",
    "and_filters",
    "check_keys",
    "compile_filters",
    "error",
    "metadata_keys",
    "parse_filter_args",
    "validate_filters",
]
