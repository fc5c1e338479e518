"""The config mechanism: strict, validated dataclass sections that round-trip to dict and TOML.

Every configuration object of the toolkit is a frozen dataclass deriving from
:class:`Section`. A bad value fails when the section is built, with a message
naming the key and how to fix it; unknown keys are rejected with a "did you
mean" suggestion (:func:`suggest`). Each package owns its own sections (the
core holds the index ones in :mod:`hipporag.config`, the retrievers theirs in
``retrievers.config``); this module holds only the shared mechanism.

Example:
    >>> from dataclasses import dataclass
    >>> from typing import ClassVar
    >>> @dataclass(frozen=True)
    ... class Knobs(Section):
    ...     _name: ClassVar[str] = "knobs"
    ...     size: int = 3
    ...     ratio: float = 0.5
    ...     def validate(self) -> None:
    ...         check(self.size >= 1, f"knobs.size must be >= 1, got {self.size}")
    >>> Knobs.from_dict({"ratio": 1}).ratio          # ints are accepted for floats
    1.0
    >>> Knobs.from_toml(Knobs(size=4).to_toml())
    Knobs(size=4, ratio=0.5)
    >>> Knobs.from_dict({"sise": 4})
    Traceback (most recent call last):
    ...
    hipporag.errors.ConfigError: unknown key 'sise' in [knobs]
      how to fix: did you mean 'size'?
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Iterable
from dataclasses import MISSING, fields, is_dataclass
from pathlib import Path
from typing import Any, ClassVar, get_type_hints

import tomli_w

from hipporag.errors import ConfigError


def check(cond: bool, message: str, hint: str | None = None) -> None:
    """Raise :class:`ConfigError` with ``message`` (and ``hint``) unless ``cond`` holds.

    Example:
        >>> check(True, "never raised")
    """
    if not cond:
        raise ConfigError(message, hint=hint)


def suggest(word: str, choices: Iterable[str]) -> str:
    """A "did you mean" hint for ``word`` among ``choices`` (or the list of choices).

    Example:
        >>> suggest("hybird", ["dense", "hybrid"])
        "did you mean 'hybrid'?"
        >>> suggest("zzz", ["dense", "hybrid"])
        "known: ['dense', 'hybrid']"
    """
    known = sorted(choices)
    close = difflib.get_close_matches(word, known, n=1)
    return f"did you mean '{close[0]}'?" if close else f"known: {known}"


def coerce(value: Any, typ: Any, where: str) -> Any:
    """Check a scalar against its annotated type; ints are accepted for floats.

    Example:
        >>> coerce(2, "float", "x.ratio")
        2.0
        >>> coerce([1, 2], "tuple[int, ...]", "x.sizes")
        (1, 2)
    """
    text = str(typ)
    if value is None:
        if "None" in text:
            return None
        raise ConfigError(f"{where} may not be empty")
    if text.startswith("dict"):  # dict[str, str]: a TOML table of strings
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise ConfigError(
                f"{where} must be a table of strings, got {value!r}",
                hint='write it as {key = "value", ...}',
            )
        return dict(value)
    if "float" in text and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    checks = {"bool": bool, "int": int, "float": float, "str": str}
    allowed = [t for name, t in checks.items() if name in text]
    if "list" in text or "tuple" in text:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where} must be a list, got {value!r}")
        return tuple(value)
    if allowed and not any(
        isinstance(value, t) and not (t is int and isinstance(value, bool)) for t in allowed
    ):
        raise ConfigError(
            f"{where} must be of type {' or '.join(t.__name__ for t in allowed)}, got {value!r}"
        )
    return value


class Section:
    """Mixin: dict/TOML round-trip and strict construction for config dataclasses.

    Subclasses are ``@dataclass(frozen=True)``, set ``_name`` (the TOML table
    name used in messages) and override :meth:`validate`. Nested sections are
    fields whose type is another section.
    """

    _name: ClassVar[str] = ""

    def validate(self) -> None:  # overridden where there is something to check
        """Raise :class:`ConfigError` if a value is out of range."""

    def __post_init__(self) -> None:
        self.validate()

    def to_dict(self) -> dict[str, Any]:
        """The section as plain data (nested sections as dicts, tuples as lists)."""
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if is_dataclass(value):
                out[f.name] = value.to_dict()  # type: ignore[union-attr]
            elif isinstance(value, dict):
                out[f.name] = dict(value)
            elif value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The field names of the section, in declaration order."""
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, where: str = ""):
        """Build the section from plain data; unknown keys get a "did you mean" hint."""
        data = dict(data or {})
        where = where or cls._name or cls.__name__
        hints = get_type_hints(cls)
        known = {f.name: f for f in fields(cls)}  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"known keys: {sorted(known)}"
                raise ConfigError(f"unknown key '{key}' in [{where}]", hint=hint)
            sub = hints[key]
            if isinstance(sub, type) and is_dataclass(sub):
                if not isinstance(value, dict):
                    raise ConfigError(
                        f"[{where}.{key}] must be a table, got {type(value).__name__}",
                        hint=f"write it as [{where}.{key}] with key = value lines",
                    )
                kwargs[key] = sub.from_dict(value, f"{where}.{key}")  # type: ignore[attr-defined]
            else:
                kwargs[key] = coerce(value, sub, f"{where}.{key}")
        missing = [
            n
            for n, f in known.items()
            if n not in kwargs and f.default is MISSING and f.default_factory is MISSING
        ]
        if missing:
            raise ConfigError(f"missing keys in [{where}]: {missing}")
        return cls(**kwargs)

    def to_toml(self) -> str:
        """The section as TOML text."""
        return tomli_w.dumps(self.to_dict())

    @classmethod
    def from_toml(cls, text: str):
        """Parse TOML text into the section."""
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"invalid TOML: {err}", hint="check the file's syntax") from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]):
        """Read a TOML config file."""
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"config file not found: {p}", hint="pass an existing TOML file")
        return cls.from_toml(p.read_text(encoding="utf-8"))

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the section as a TOML file."""
        Path(path).write_text(self.to_toml(), encoding="utf-8")


__all__ = ["Section", "check", "coerce", "suggest"]
