"""Corpus readers: records from JSON, JSONL, Parquet, CSV files, folders of .txt/.md files.

A record is ``{"id"?, "title"?, "text", "metadata"?}`` (see docs/documents.md):

* ``id`` (a string; an int is accepted) is the document key. Without it the key
  is derived from the content (:func:`hipporag.text.passage_id`), so ids stay
  stable across runs and match HippoRAG OpenIE files and evaluation gold.
* ``metadata`` is a flat JSON object: strings, numbers, booleans, dates
  (stored as ISO strings) and lists of strings; ``null`` values are dropped.
* Other top-level fields are kept out with one counted warning, or moved into
  the metadata when named in ``metadata_fields``.
* A folder corpus keys each file by its relative path (``id`` and
  ``metadata["path"]``); flat ``key: value`` front matter between ``---``
  lines at the top of a file becomes metadata (``title:`` sets the title);
  symlinks leading outside the folder are skipped and counted unless
  ``follow_symlinks=True``.

Texts are NFKC-normalised with their line breaks kept (chunks end at
paragraph breaks where they can); titles have their whitespace collapsed.
Strings holding lone surrogates (``"\\ud800"``, possible in JSON and Python
input) have them replaced by U+FFFD and counted (``replaced_chars``); files
that are not UTF-8 are rejected with the byte position. Exact duplicates of
id-less records are indexed once; empty texts are skipped and counted.

Example:
    >>> from indexers.readers import passages_from_records
    >>> ps, stats = passages_from_records([{"title": "A", "text": "x"}, {"title": "A", "text": "x"}])
    >>> len(ps), stats.duplicates
    (1, 1)
    >>> ps, _ = passages_from_records([{"id": "doc-1", "text": "y", "metadata": {"lang": "en"}}])
    >>> ps[0].id, ps[0].doc_id, ps[0].metadata
    ('doc-1', 'doc-1', {'lang': 'en'})
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from hipporag.errors import InputError
from hipporag.metadata import check_metadata
from hipporag.text import normalize_text, passage_id
from hipporag.types import Passage
from indexers.read_stats import ReadStats

TEXT_KEYS = ("text", "paragraph_text", "contents")
KNOWN_KEYS = frozenset({"id", "title", "metadata", *TEXT_KEYS})
FOLDER_SUFFIXES = (".txt", ".md")
_SURROGATE_RE = re.compile("[\ud800-\udfff]")


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


def _records_from_csv(path: Path) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(_decode(path), newline=""), strict=True)
    rows = _csv_rows(reader, path)
    if not reader.fieldnames or not any(k in reader.fieldnames for k in TEXT_KEYS):
        raise InputError(
            f"{path} has no 'text' column (columns: {reader.fieldnames or []})",
            hint="the first CSV row must name the columns, one of them 'text'",
        )
    out = []
    for row in rows:
        rec: dict[str, Any] = {k: v for k, v in row.items() if k is not None and v != ""}
        if isinstance(rec.get("metadata"), str):
            try:
                rec["metadata"] = json.loads(rec["metadata"])
            except json.JSONDecodeError:
                raise InputError(
                    f"{path}: the 'metadata' column is not a JSON object: {rec['metadata'][:60]!r}",
                    hint='write it as JSON, e.g. {"lang": "en"}, or use --metadata-fields',
                ) from None
        out.append(rec)
    return out


def _csv_rows(reader: csv.DictReader, path: Path) -> list[dict[str, Any]]:
    """All rows; a malformed record (an unclosed quote) is an error naming its first line."""
    rows: list[dict[str, Any]] = []
    start = 1
    try:
        _ = reader.fieldnames  # the header line
        start = reader.line_num + 1
        for row in reader:
            rows.append(row)
            start = reader.line_num + 1
    except csv.Error as err:
        raise InputError(
            f"{path}: line {start}: bad CSV record ({err}); a quote opened there is not closed",
            hint='close the quote on that line, or double quotes inside a quoted field ("")',
        ) from None
    return rows


def _records_from_parquet(path: Path) -> list[dict[str, Any]]:
    import polars as pl

    try:
        return pl.read_parquet(path).to_dicts()
    except Exception as err:  # polars raises several types for a damaged file
        raise InputError(
            f"{path} is not a readable Parquet file: {type(err).__name__}: {str(err)[:120]}",
            hint="write it with polars/pandas/pyarrow, one row per record",
        ) from None


def _records_from_dir(
    path: Path, stats: ReadStats, follow_symlinks: bool
) -> Iterator[dict[str, Any]]:
    root = path.resolve()
    files = sorted(
        p for p in path.rglob("*") if p.suffix.lower() in FOLDER_SUFFIXES and p.is_file()
    )
    if not files:
        raise InputError(
            f"no .txt files under {path}",
            hint="add .txt or .md files or pass a JSON/JSONL/Parquet/CSV file",
        )
    for f in files:
        rel = f.relative_to(path).as_posix()
        if not follow_symlinks and not f.resolve().is_relative_to(root):
            stats.symlinks_skipped += 1
            _warn(stats, f"{rel}: a link leading outside {path}, skipped")
            continue
        meta, body = front_matter(_decode(f))
        title = meta.pop("title", f.stem)
        yield {"id": rel, "title": title, "text": body, "metadata": {**meta, "path": rel}}


_FRONT_RE = re.compile(r"\A---[ \t]*\n(.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)
_FRONT_LINE = re.compile(r"^([A-Za-z_][\w.-]*)[ \t]*:[ \t]*(.*?)[ \t]*$")


def _front_value(raw: str) -> Any:
    if raw.startswith("[") and raw.endswith("]"):
        items = [x.strip().strip("'\"") for x in raw[1:-1].split(",")]
        return [x for x in items if x]
    try:
        value = json.loads(raw)
    except ValueError:
        return raw.strip("'\"")
    return value if isinstance(value, str | int | float | bool) else raw


def front_matter(text: str) -> tuple[dict[str, Any], str]:
    r"""Flat ``key: value`` front matter between ``---`` lines at the top of a file.

    Values: numbers, true/false, ``[a, b]`` lists, else strings. Returns the
    metadata and the text after it (unchanged when there is none).

    Example:
        >>> front_matter("---\nlang: en\nyear: 2024\ntags: [a, b]\n---\nBody.")
        ({'lang': 'en', 'year': 2024, 'tags': ['a', 'b']}, 'Body.')
    """
    m = _FRONT_RE.match(text)
    if not m:
        return {}, text
    meta: dict[str, Any] = {}
    for line in m.group(1).splitlines():
        lm = _FRONT_LINE.match(line)
        if lm and lm.group(2):
            meta[lm.group(1)] = _front_value(lm.group(2))
        elif line.strip() and not line.lstrip().startswith("#"):
            return {}, text  # not simple front matter: keep the file as it is
    return meta, text[m.end() :]


def _clean(s: str, stats: ReadStats) -> str:
    """Replace lone surrogates (not encodable as UTF-8) by U+FFFD, counting them."""
    s, n = _SURROGATE_RE.subn("\ufffd", s)
    stats.replaced_chars += n
    return s


def _document_text(text: str) -> str:
    """NFKC, line ends unified, ends stripped: line breaks and paragraphs are kept.

    Ids do not depend on it (:func:`passage_id` collapses whitespace itself);
    chunk spans are offsets into this text.
    """
    return unicodedata.normalize("NFKC", text.replace("\r\n", "\n").replace("\r", "\n")).strip()


def _record_id(raw: Any, where: str) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw.strip():
        raise InputError(
            f"{where}: 'id' must be a non-empty string, got {type(raw).__name__} {raw!r:.40}",
            hint="give each document a string key, or leave 'id' out to derive it from the text",
        )
    return raw.strip()


def passages_from_records(
    records: Iterable[Any],
    source: str = "<records>",
    *,
    metadata_fields: Sequence[str] = (),
) -> tuple[list[Passage], ReadStats]:
    """Turn records (dicts or plain strings) into unique whole-document passages.

    Args:
        records: ``{"id"?, "title"?, "text", "metadata"?}`` dicts or strings.
        source: where they came from (for messages).
        metadata_fields: top-level fields to move into ``metadata``.

    Raises:
        InputError: a bad ``id``, ``title`` or ``metadata``, or a repeated ``id``.
    """
    stats = ReadStats()
    seen: set[str] = set()
    out: list[Passage] = []
    mapped = set(metadata_fields)
    unknown: Counter[str] = Counter()
    for n, rec in enumerate(records):
        stats.records += 1
        where = f"{source}[{n}]"
        if isinstance(rec, str):
            rec = {"text": rec}
        if not isinstance(rec, dict):
            stats.missing_text += 1
            _warn(stats, f"{where}: not an object, skipped")
            continue
        text = next((rec[k] for k in TEXT_KEYS if rec.get(k) is not None), None)
        if not isinstance(text, str):
            stats.missing_text += 1
            _warn(stats, f"{where}: no 'text' string, skipped")
            continue
        title = rec.get("title")
        if title is None:
            title = ""
        if not isinstance(title, str):
            raise InputError(
                f"{where}: 'title' must be a string, got {type(title).__name__} {title!r:.40}",
                hint="give a string title or leave it out",
            )
        meta_raw = rec.get("metadata")
        meta = dict(meta_raw) if isinstance(meta_raw, dict) else meta_raw
        for key in rec.keys() - KNOWN_KEYS:
            if key in mapped:
                if meta is None:
                    meta = {}
                if isinstance(meta, dict):
                    meta.setdefault(key, rec[key])
            else:
                unknown[key] += 1
        metadata = check_metadata(meta, where)
        text_n = _document_text(_clean(text, stats))
        title_n = normalize_text(_clean(title, stats))
        if not text_n:
            stats.empty += 1
            _warn(stats, f"{where}: empty text, skipped")
            continue
        rid = _record_id(rec.get("id"), where)
        if rid is None:
            pid = passage_id(title_n, text_n)
            if pid in seen:
                stats.duplicates += 1
                continue
        else:
            pid = _clean(rid, stats)
            if pid in seen:
                raise InputError(
                    f"{where}: id {pid!r:.60} is used by another record",
                    hint="document ids must be unique; merge the records or rename one",
                )
        seen.add(pid)
        out.append(Passage(pid, title_n, text_n, doc_id=pid, metadata=metadata))
    stats.passages = len(out)
    stats.unknown_fields = dict(sorted(unknown.items()))
    if unknown:
        names = ",".join(sorted(unknown))
        _warn(
            stats,
            f"{source}: fields kept out of the index: "
            + ", ".join(f"{k} ({v} records)" for k, v in sorted(unknown.items()))
            + f"; keep them as metadata with --metadata-fields {names}",
        )
    return out, stats


def _warn(stats: ReadStats, message: str) -> None:
    if len(stats.warnings) < 20:
        stats.warnings.append(message)


def read_corpus(
    path: str | bytes | os.PathLike[str],
    *,
    metadata_fields: Sequence[str] = (),
    follow_symlinks: bool = False,
) -> tuple[list[Passage], ReadStats]:
    """Read a corpus file or folder into unique whole-document passages.

    Args:
        path: a .json / .jsonl / .parquet / .csv / .txt / .md file or a folder
            of .txt and .md files (a ``bytes`` path is decoded as the OS does).
        metadata_fields: top-level record fields (or columns) to keep as metadata.
        follow_symlinks: index files of a folder that link outside it.

    Raises:
        InputError: the path is missing, unreadable, or holds no usable passage.
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    p = Path(path)
    if not p.exists():
        raise InputError(f"corpus not found: {p}", hint="check the path")
    stats = ReadStats()
    suffix = p.suffix.lower()
    if p.is_dir():
        records: Iterable[Any] = list(_records_from_dir(p, stats, follow_symlinks))
    elif suffix in (".json", ".jsonl"):
        records = _records_from_json(p)
    elif suffix == ".parquet":
        records = _records_from_parquet(p)
    elif suffix == ".csv":
        records = _records_from_csv(p)
    elif suffix in FOLDER_SUFFIXES:
        records = [{"title": p.stem, "text": _decode(p)}]
    else:
        raise InputError(
            f"unsupported corpus file type: {p.name}",
            hint="use .json (a list of {title, text}), .jsonl, .parquet, .csv, .txt, .md "
            "or a folder of .txt/.md files",
        )
    passages, rstats = passages_from_records(
        records, source=str(p), metadata_fields=metadata_fields
    )
    rstats.symlinks_skipped = stats.symlinks_skipped
    rstats.warnings = (stats.warnings + rstats.warnings)[:20]
    if not passages:
        raise InputError(
            f"no usable passage in {p} ({rstats.records} records: {rstats.empty} empty, "
            f"{rstats.missing_text} without text)",
            hint='each record needs a non-empty "text" field',
        )
    return passages, rstats


__all__ = ["KNOWN_KEYS", "ReadStats", "front_matter", "passages_from_records", "read_corpus"]
