"""Corpus readers: JSON / JSONL files of ``{"title", "text"}`` and folders of .txt files.

Passage ids are derived from content, so they are stable across runs and
machines. Exact duplicates are indexed once; empty passages and records
without a ``text`` are skipped and counted. Problems that make the whole input
unusable (not UTF-8, not JSON, no passage left) raise :class:`InputError` with
the position and a fix.

Example:
    >>> from indexers.readers import passages_from_records
    >>> ps, stats = passages_from_records([{"title": "A", "text": "x"}, {"title": "A", "text": "x"}])
    >>> len(ps), stats.duplicates
    (1, 1)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hipporag.errors import InputError
from hipporag.text import normalize_text
from hipporag.types import Passage


@dataclass
class ReadStats:
    """What a reader kept and skipped."""

    records: int = 0
    passages: int = 0
    duplicates: int = 0
    empty: int = 0
    missing_text: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise InputError(
            f"{path} is not valid UTF-8 (byte {err.start}, line {line})",
            hint="re-encode it, e.g. iconv -f latin1 -t utf-8 FILE > FILE.utf8",
        ) from None


def _records_from_json(path: Path) -> list[Any]:
    text = _decode(path)
    if path.suffix.lower() == ".jsonl":
        out = []
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise InputError(
                    f"{path}:{n} is not valid JSON: {err.msg}",
                    hint="each line of a .jsonl file must be one JSON object",
                ) from None
        return out
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise InputError(
            f"{path} is not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})",
            hint='expected a list of {"title": ..., "text": ...} objects',
        ) from None
    if isinstance(data, dict):
        for key in ("passages", "corpus", "docs", "data"):
            if isinstance(data.get(key), list):
                return data[key]
    if not isinstance(data, list):
        raise InputError(
            f"{path} holds a JSON {type(data).__name__}, not a list of passages",
            hint='expected a list of {"title": ..., "text": ...} objects',
        )
    return data


def _records_from_dir(path: Path) -> Iterator[dict[str, str]]:
    files = sorted(p for p in path.rglob("*.txt") if p.is_file())
    if not files:
        raise InputError(f"no .txt files under {path}", hint="add .txt files or pass a JSON file")
    for f in files:
        yield {"title": f.stem, "text": _decode(f)}


def passages_from_records(
    records: Iterable[Any], source: str = "<records>"
) -> tuple[list[Passage], ReadStats]:
    """Turn ``{"title", "text"}`` records (or plain strings) into unique passages."""
    stats = ReadStats()
    seen: set[str] = set()
    out: list[Passage] = []
    for n, rec in enumerate(records):
        stats.records += 1
        if isinstance(rec, str):
            rec = {"title": "", "text": rec}
        if not isinstance(rec, dict):
            stats.missing_text += 1
            _warn(stats, f"{source}[{n}]: not an object, skipped")
            continue
        text = rec.get("text", rec.get("paragraph_text", rec.get("contents")))
        title = rec.get("title", "")
        if not isinstance(text, str):
            stats.missing_text += 1
            _warn(stats, f"{source}[{n}]: no 'text' string, skipped")
            continue
        title = title if isinstance(title, str) else str(title)
        text_n, title_n = normalize_text(text), normalize_text(title)
        if not text_n:
            stats.empty += 1
            _warn(stats, f"{source}[{n}]: empty text, skipped")
            continue
        p = Passage.from_text(title_n, text_n)
        if p.id in seen:
            stats.duplicates += 1
            continue
        seen.add(p.id)
        out.append(p)
    stats.passages = len(out)
    return out, stats


def _warn(stats: ReadStats, message: str) -> None:
    if len(stats.warnings) < 20:
        stats.warnings.append(message)


def read_corpus(path: str | Path) -> tuple[list[Passage], ReadStats]:
    """Read a corpus file or folder into unique passages.

    Raises:
        InputError: the path is missing, unreadable, or holds no usable passage.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"corpus not found: {p}", hint="check the path")
    if p.is_dir():
        records: Iterable[Any] = list(_records_from_dir(p))
    elif p.suffix.lower() in (".json", ".jsonl"):
        records = _records_from_json(p)
    elif p.suffix.lower() == ".txt":
        records = [{"title": p.stem, "text": _decode(p)}]
    else:
        raise InputError(
            f"unsupported corpus file type: {p.name}",
            hint="use .json (a list of {title, text}), .jsonl, .txt or a folder of .txt files",
        )
    passages, stats = passages_from_records(records, source=str(p))
    if not passages:
        raise InputError(
            f"no usable passage in {p} ({stats.records} records: {stats.empty} empty, "
            f"{stats.missing_text} without text)",
            hint='each record needs a non-empty "text" field',
        )
    return passages, stats


__all__ = ["ReadStats", "passages_from_records", "read_corpus"]
