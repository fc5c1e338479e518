"""What a corpus reader kept and skipped, summed over inputs.

Example:
    >>> s = ReadStats(records=3, empty=1)
    >>> s.to_dict()["records"], s.to_dict()["empty"]
    (3, 1)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class ReadStats:
    """What a reader kept and skipped."""

    records: int = 0
    passages: int = 0
    duplicates: int = 0
    empty: int = 0
    missing_text: int = 0
    replaced_chars: int = 0
    symlinks_skipped: int = 0
    unknown_fields: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def add(self, other: ReadStats) -> None:
        """Sum another reader's counts into these (warnings capped at 20).

        Example:
            >>> a, b = ReadStats(records=2, unknown_fields={"url": 1}), ReadStats(records=1)
            >>> b.unknown_fields = {"url": 2, "lang": 1}
            >>> a.add(b); a.records, a.unknown_fields
            (3, {'lang': 1, 'url': 3})
        """
        for key in ("records", "passages", "duplicates", "empty", "missing_text"):
            setattr(self, key, getattr(self, key) + getattr(other, key))
        self.replaced_chars += other.replaced_chars
        self.symlinks_skipped += other.symlinks_skipped
        merged = dict(self.unknown_fields)
        for name, n in other.unknown_fields.items():
            merged[name] = merged.get(name, 0) + n
        self.unknown_fields = dict(sorted(merged.items()))
        self.warnings.extend(other.warnings[: max(0, 20 - len(self.warnings))])


__all__ = ["ReadStats"]
