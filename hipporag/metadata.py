"""Document metadata: a flat JSON object, validated once when records are read.

Allowed values: strings, integers, finite floats, booleans, dates and datetimes
(stored as ISO-8601 strings) and lists of strings. ``None`` values are dropped
(a missing value). Anything else is a one-line :class:`InputError`.

Example:
    >>> import datetime
    >>> check_metadata({"lang": "en", "year": 2021, "tags": ["a"], "d": datetime.date(2024, 5, 1)})
    {'lang': 'en', 'year': 2021, 'tags': ['a'], 'd': '2024-05-01'}
    >>> try:
    ...     check_metadata({"nested": {"a": 1}})
    ... except InputError as err:
    ...     print(err.message)
    <metadata>: metadata['nested'] is a dict; metadata must be flat (strings, numbers, booleans, dates, lists of strings)
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any

from hipporag.errors import InputError

MetadataValue = str | int | float | bool | list[str]


def _text(text: str, what: str, where: str) -> str:
    """``text`` if it is valid Unicode; a lone surrogate (from broken JSON escapes) is an error."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(
            f"{where}: {what} {text!r:.60} holds a lone surrogate (not valid Unicode)",
            hint="fix the text's encoding (a \\udXXX escape without its pair) or drop the value",
        ) from None
    return text


def _value(key: str, v: Any, where: str) -> MetadataValue:
    if isinstance(v, str):
        return _text(v, f"metadata[{key!r}]", where)
    if isinstance(v, bool | int):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise InputError(
                f"{where}: metadata[{key!r}] is {v}, not a finite number",
                hint="use a finite number or leave the key out",
            )
        return v
    if isinstance(v, _dt.datetime | _dt.date):
        return v.isoformat()
    if isinstance(v, list | tuple):
        if all(isinstance(x, str) for x in v):
            return [_text(x, f"metadata[{key!r}]", where) for x in v]
        raise InputError(
            f"{where}: metadata[{key!r}] is a list holding non-strings",
            hint='lists in metadata hold strings only, e.g. ["a", "b"]',
        )
    raise InputError(
        f"{where}: metadata[{key!r}] is a {type(v).__name__}; metadata must be flat "
        "(strings, numbers, booleans, dates, lists of strings)",
        hint=f'flatten it, e.g. {{"{key}_a": ...}}',
    )


def check_metadata(meta: Any, where: str = "<metadata>") -> dict[str, MetadataValue]:
    """A validated copy of ``meta`` (``None`` gives ``{}``).

    Raises:
        InputError: not an object, a non-string or empty key, or a nested / unsupported value.
    """
    if meta is None:
        return {}
    if not isinstance(meta, dict):
        raise InputError(
            f"{where}: 'metadata' must be a JSON object, got {type(meta).__name__}",
            hint='write it as {"key": value, ...}',
        )
    out: dict[str, MetadataValue] = {}
    for key, v in meta.items():
        if not isinstance(key, str) or not key:
            raise InputError(
                f"{where}: metadata key {key!r} is not a non-empty string",
                hint="metadata keys are names such as 'lang' or 'source'",
            )
        _text(key, "metadata key", where)
        if v is None:
            continue
        out[key] = _value(key, v, where)
        _check_encodable(key, out[key], where)
    return out


def _check_encodable(key: str, v: Any, where: str) -> None:
    """Keys and strings must be valid Unicode (no lone surrogates such as JSON's ``\\ud800``)."""
    try:
        json.dumps({key: v}, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as err:
        raise InputError(
            f"{where}: metadata[{key!r:.60}] holds a lone surrogate {err.object[err.start]!r} "
            "(not valid Unicode)",
            hint="fix the text encoding of that value (e.g. pair the \\ud8xx escape or drop it)",
        ) from None


def metadata_json(meta: dict[str, Any]) -> str:
    """The JSON text stored in the index's ``passages.metadata`` column."""
    return json.dumps(meta, ensure_ascii=False, sort_keys=True)


__all__ = ["MetadataValue", "check_metadata", "metadata_json"]
