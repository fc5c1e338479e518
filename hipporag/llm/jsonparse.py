"""Strict parsing of JSON objects out of model output, with a small schema validator.

Models wrap JSON in prose or Markdown fences, leave trailing commas, or stop in
the middle of a list when they hit ``max_tokens``. This module finds the first
JSON object in such text, repairs a few kinds of damage, and validates the
result against a subset of JSON Schema. Nothing is ever evaluated: parsing is
done by :func:`json.loads` only.

Policy (deliberate decisions):

* Accepted: surrounding prose, Markdown fences (```` ```json ````), trailing
  commas, raw control characters inside strings, and output truncated at the
  end. A truncated answer is cut back to its last complete value and the open
  brackets are closed; a value that was cut mid-way (a half string such as
  ``"Fra``) is dropped, never completed, because its content is unknown.
* Rejected: single-quoted (Python-style) JSON, Python literals (``True``,
  ``None``), ``NaN``/``Infinity``, comments, duplicate keys, nesting deeper
  than :data:`MAX_DEPTH` and input longer than :data:`MAX_CHARS`. Converting
  these silently could change the meaning of the answer (an apostrophe inside
  a string is indistinguishable from a quote), so they raise
  :class:`ModelOutputError` and the caller decides (skip and count, retry).

Example:
    >>> schema = {"type": "object", "properties": {"named_entities": {
    ...     "type": "array", "items": {"type": "string"}}}, "required": ["named_entities"]}
    >>> parse_json_object('Sure! ```json\\n{"named_entities": ["Paris",]}\\n```', schema)
    {'named_entities': ['Paris']}
    >>> parse_json('{"named_entities": ["Paris", "Fra', schema).repairs
    ['truncated']
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from hipporag.errors import ModelOutputError  # re-exported: its old home

MAX_DEPTH = 64
"""Deepest accepted bracket nesting; deeper input is rejected before parsing."""

MAX_CHARS = 1_000_000
"""Longest accepted model output, in characters."""

_MAX_CANDIDATES = 16
_MAX_REPAIR_ATTEMPTS = 64
_FENCE_RE = re.compile(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\r?\n?(.*?)(?:```|\Z)", re.DOTALL)
_PYTHON_HINT_RE = re.compile(r"[{\[,:]\s*'|\b(?:True|False|None)\b")


def _outside_strings(pattern: str) -> re.Pattern[str]:
    """A regex that matches a whole JSON string, or ``pattern`` outside strings.

    This is the module's one string scanner. A string match runs from its
    opening quote past its closing one, skipping backslash escapes; its group 1
    (the closing quote) is unset when the string is never closed (truncated
    output), and then it runs to the end of the text. Iterating such a regex
    with ``finditer`` never sees ``pattern`` inside a string.

    Example:
        >>> comma = _outside_strings(",")
        >>> [m.group() for m in comma.finditer(r'"a, \\"b\\"", 1, "c')]
        ['"a, \\\\"b\\\\""', ',', ',', '"c']
    """
    return re.compile(r'"[^"\\]*+(?:\\.[^"\\]*+)*+(?:(")|\\?\Z)|' + pattern, re.DOTALL)


_TOKEN_RE = _outside_strings(r"[{}\[\],]")
_TRAILING_COMMA_RE = _outside_strings(r",(?=\s*[}\]])")

_TYPE_CHECKS: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (
        (isinstance(v, int) and not isinstance(v, bool))
        or (isinstance(v, float) and v.is_integer())
    ),
}
_SUPPORTED_KEYWORDS = {"type", "properties", "required", "items", "enum", "additionalProperties"}
_SUPPORTED_KEYWORDS |= {"minItems", "maxItems", "minLength", "maxLength"}
_ANNOTATIONS = frozenset(
    {"title", "description", "$schema", "$id", "$comment", "default", "examples"}
)


@dataclass(slots=True)
class ParsedJSON:
    """A parsed object plus the repairs that were needed to parse it.

    Attributes:
        value: The parsed (and validated) JSON object.
        repairs: Names of repairs applied, e.g. ``["trailing_comma", "truncated"]``.
    """

    value: dict[str, Any]
    repairs: list[str] = field(default_factory=list)

    @property
    def repaired(self) -> bool:
        """True when the text was not valid JSON as it stood."""
        return bool(self.repairs)


def parse_json_object(
    text: str, schema: Mapping[str, Any] | None = None, *, repair: bool = True
) -> dict[str, Any]:
    """Extract, repair and validate the first JSON object in ``text``.

    Args:
        text: Raw model output.
        schema: Optional JSON Schema (subset, see :func:`validate`).
        repair: Apply the repairs described in the module docstring.

    Returns:
        The parsed object.

    Raises:
        ModelOutputError: No valid JSON object was found or it violates ``schema``.
    """
    return parse_json(text, schema, repair=repair).value


def parse_json(
    text: str, schema: Mapping[str, Any] | None = None, *, repair: bool = True
) -> ParsedJSON:
    """Like :func:`parse_json_object` but also report which repairs were applied."""
    if not isinstance(text, str):
        raise ModelOutputError(f"model output must be a string, got {type(text).__name__}")
    if len(text) > MAX_CHARS:
        raise ModelOutputError(
            f"model output is too long ({len(text)} > {MAX_CHARS} characters)",
            hint="lower llm.max_tokens",
        )
    value, repairs = _find_object(text, repair)
    if schema is not None:
        errors = validate(value, schema)
        if errors:
            shown = "; ".join(errors[:5]) + (
                f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
            )
            raise ModelOutputError(
                f"model output does not match the expected schema: {shown}",
                hint="enable llm.json_schema, lower the temperature or use a stronger model",
                text=text,
            )
    return ParsedJSON(value, repairs)


def _find_object(text: str, repair: bool) -> tuple[dict[str, Any], list[str]]:
    search = text
    fence = _FENCE_RE.search(text)
    if fence and "{" in fence.group(1):
        search = fence.group(1)
    first_error: str | None = None
    start = search.find("{")
    tried = 0
    while start != -1 and tried < _MAX_CANDIDATES:
        tried += 1
        scan = _scan(search, start)
        if scan.too_deep:
            raise ModelOutputError(
                f"model output nests deeper than {MAX_DEPTH} levels",
                hint="this is not a plausible answer; check the prompt and max_tokens",
                text=text,
            )
        try:
            if scan.end is not None:
                return _parse_complete(search[start : scan.end], repair)
            if repair:
                return _repair_truncated(search[start:]), ["truncated"]
            raise ValueError("the JSON object is not closed (output truncated?)")
        except ValueError as err:  # json.JSONDecodeError is a ValueError
            first_error = first_error or str(err)
        if scan.end is None:
            break  # later braces lie inside this unclosed span: never pick an inner object
        start = search.find("{", start + 1)
    if first_error is None:
        raise ModelOutputError(
            "model output contains no JSON object",
            hint="ask for JSON explicitly or enable llm.json_schema",
            text=text,
        )
    hint = "enable llm.json_schema so the server constrains the output"
    if _PYTHON_HINT_RE.search(search):
        hint = (
            "the output looks like Python literals (single quotes, True/None), "
            "which are rejected on purpose; " + hint
        )
    raise ModelOutputError(f"model output is not valid JSON: {first_error}", hint=hint, text=text)


@dataclass(slots=True)
class _Scan:
    end: int | None = None  # index after the closing brace, None if never closed
    too_deep: bool = False
    in_string: bool = False
    # (position to cut at, exclusive; open brackets at that point)
    cuts: list[tuple[int, str]] = field(default_factory=list)


def _scan(s: str, start: int) -> _Scan:
    """Walk a JSON-ish span from ``s[start] == '{'``, tracking strings and brackets."""
    out = _Scan()
    opened = ""  # the open brackets, outermost first
    cuts = out.cuts
    for m in _TOKEN_RE.finditer(s, start):
        ch = s[m.start()]
        if ch == '"':
            if m.lastindex is None:  # the string is never closed
                out.in_string = True
                break
            cuts.append((m.end(), opened))
        elif ch == "{" or ch == "[":
            opened += ch
            if len(opened) > MAX_DEPTH:
                out.too_deep = True
                break
            cuts.append((m.end(), opened))
        elif ch == "}" or ch == "]":
            if not opened or (opened[-1] == "{") != (ch == "}"):
                out.end = m.end()  # mismatched: let json.loads report it
                break
            opened = opened[:-1]
            if not opened:
                out.end = m.end()
                break
            cuts.append((m.end(), opened))
        else:  # ","
            cuts.append((m.start(), opened))
    return out


def _loads(s: str) -> Any:
    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for key, value in pairs:
            if key in obj:
                raise ValueError(f"duplicate key {key!r}")
            obj[key] = value
        return obj

    return json.loads(s, strict=False, parse_constant=no_constant, object_pairs_hook=no_duplicates)


def _parse_complete(span: str, repair: bool) -> tuple[dict[str, Any], list[str]]:
    try:
        return _loads(span), []
    except ValueError:
        if not repair:
            raise
        fixed = _strip_trailing_commas(span)
        if fixed == span:
            raise
        return _loads(fixed), ["trailing_comma"]


def _strip_trailing_commas(s: str) -> str:
    """Drop commas that directly precede a closing bracket (outside strings)."""
    parts: list[str] = []
    kept = 0
    for m in _TRAILING_COMMA_RE.finditer(s):
        if s[m.start()] == ",":
            parts.append(s[kept : m.start()])
            kept = m.end()
    if not parts:
        return s
    parts.append(s[kept:])
    return "".join(parts)


def _repair_truncated(span: str) -> dict[str, Any]:
    """Cut a truncated object back to its last complete value and close it."""
    span = _strip_trailing_commas(span)  # once: the cut points below index this text
    scan = _scan(span, 0)
    closers = {"{": "}", "[": "]"}
    last_error: Exception | None = None
    for cut, stack in list(reversed(scan.cuts))[:_MAX_REPAIR_ATTEMPTS]:
        head = span[:cut].rstrip()
        if head.endswith(","):
            head = head[:-1]
        candidate = head + "".join(closers[b] for b in reversed(stack))
        try:
            value = _loads(candidate)
        except ValueError as err:
            last_error = err
            continue
        if isinstance(value, dict):
            return value
    raise ValueError(f"truncated output could not be repaired ({last_error or 'no cut point'})")


def validate(value: Any, schema: Mapping[str, Any], path: str = "$") -> list[str]:
    """Validate ``value`` against a JSON Schema subset; return error messages (empty = ok).

    Supported keywords: ``type`` (a name or a list of names among object, array,
    string, number, integer, boolean, null), ``properties``, ``required``,
    ``items``, ``minItems``, ``maxItems``, ``minLength``, ``maxLength``, ``enum``
    and ``additionalProperties`` (a boolean or a schema). Annotations such as
    ``title`` and ``description`` are ignored. Any other keyword raises
    :class:`ValueError`, so a schema is never silently checked only in part.

    Example:
        >>> validate([1, "a"], {"type": "array", "items": {"type": "integer"}})
        ['$[1]: expected integer, got string']
    """
    unknown = set(schema) - _SUPPORTED_KEYWORDS - _ANNOTATIONS
    if unknown:
        raise ValueError(f"unsupported JSON Schema keywords at {path}: {sorted(unknown)}")
    errors: list[str] = []
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        for t in types:
            if t not in _TYPE_CHECKS:
                raise ValueError(f"unsupported JSON Schema type at {path}: {t!r}")
        if not any(_TYPE_CHECKS[t](value) for t in types):
            errors.append(f"{path}: expected {' or '.join(types)}, got {_type_name(value)}")
            return errors
    if "enum" in schema and not any(_json_equal(value, e) for e in schema["enum"]):
        errors.append(f"{path}: {_short(value)} is not one of {list(schema['enum'])!r}")
    if isinstance(value, str):
        if "minLength" in schema and len(value) < schema["minLength"]:
            errors.append(f"{path}: string shorter than {schema['minLength']}")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            errors.append(f"{path}: string longer than {schema['maxLength']}")
    if isinstance(value, list):
        if "minItems" in schema and len(value) < schema["minItems"]:
            errors.append(f"{path}: {len(value)} items, expected at least {schema['minItems']}")
        if "maxItems" in schema and len(value) > schema["maxItems"]:
            errors.append(f"{path}: {len(value)} items, expected at most {schema['maxItems']}")
        if isinstance(schema.get("items"), Mapping):
            for i, item in enumerate(value):
                errors.extend(validate(item, schema["items"], f"{path}[{i}]"))
    if isinstance(value, dict):
        props: Mapping[str, Any] = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                errors.append(f"{path}: missing required key {name!r}")
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in props:
                errors.extend(validate(item, props[key], f"{path}.{key}"))
            elif extra is False:
                errors.append(f"{path}: unexpected key {key!r}")
            elif isinstance(extra, Mapping):
                errors.extend(validate(item, extra, f"{path}.{key}"))
    return errors


def _json_equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _type_name(value: Any) -> str:
    names = {type(None): "null", bool: "boolean", int: "integer", float: "number"}
    names.update({str: "string", list: "array", dict: "object"})
    return names.get(type(value), type(value).__name__)


def _short(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


__all__ = [
    "MAX_CHARS",
    "MAX_DEPTH",
    "ModelOutputError",
    "ParsedJSON",
    "parse_json",
    "parse_json_object",
    "validate",
]
