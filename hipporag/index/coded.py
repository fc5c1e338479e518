"""A column of repeated strings held as integer codes into a vocabulary.

A reader keeps some string columns whole for per-query lookups by row (the
relation of every fact, for linking and explanations). As a Python list that
is one ``str`` object per row (~1.1 GB for the 7.1 million facts of 10^6
passages); as codes it is 4 bytes per row plus each distinct string once.
:func:`coded_column` lets DuckDB do the encoding, so no per-row Python
object is made while loading either.

Example:
    >>> col = CodedStrings(np.array([1, 0, 1, 2], np.int32), ["born in", "is", "wrote"])
    >>> len(col), col[0], col[-1], col[1:3], list(col) == ["is", "born in", "is", "wrote"]
    (4, 'is', 'wrote', ['born in', 'is'], True)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload

import numpy as np


class CodedStrings(Sequence[str]):
    """A read-only sequence of strings: ``vocab[codes[i]]`` is row ``i``.

    Attributes:
        codes: One int32 code per row (an index into ``vocab``).
        vocab: The distinct strings.
    """

    __slots__ = ("codes", "vocab")

    def __init__(self, codes: np.ndarray, vocab: list[str]) -> None:
        self.codes = np.asarray(codes, dtype=np.int32)
        self.vocab = vocab

    def __len__(self) -> int:
        return int(self.codes.shape[0])

    @overload
    def __getitem__(self, i: int) -> str: ...

    @overload
    def __getitem__(self, i: slice) -> list[str]: ...

    def __getitem__(self, i: int | slice) -> str | list[str]:
        if isinstance(i, slice):
            return [self.vocab[c] for c in self.codes[i].tolist()]
        return self.vocab[int(self.codes[i])]

    def __iter__(self) -> Iterator[str]:
        vocab = self.vocab
        return (vocab[c] for c in self.codes.tolist())

    def __repr__(self) -> str:
        return f"CodedStrings({len(self)} rows, {len(self.vocab)} distinct)"


def coded_column(con: Any, table: str, key: str, column: str, n_rows: int) -> CodedStrings:
    """``column`` of ``table`` by its row number ``key`` (0..n_rows-1), encoded by DuckDB.

    Rows the table does not hold read as the empty string.

    Args:
        con: A DuckDB connection that sees ``table``.
        table: The table (or view) name.
        key: Its integer row-number column.
        column: The string column.
        n_rows: The length of the result.

    Returns:
        The column as :class:`CodedStrings`.

    Example:
        >>> import duckdb
        >>> con = duckdb.connect()
        >>> _ = con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (0, 'b'), (2, 'a'), (3, 'b')) v(i, s)")
        >>> list(coded_column(con, "t", "i", "s", 5))
        ['b', '', 'a', 'b', '']
    """
    distinct = (
        f"SELECT {column} AS s, row_number() OVER (ORDER BY {column}) AS code "
        f"FROM (SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL)"
    )
    vocab = [""]  # code 0: rows the table does not hold
    for code, s in con.execute(f"SELECT code, s FROM ({distinct}) ORDER BY code").fetchall():
        assert int(code) == len(vocab), "row_number() numbers the distinct values 1, 2, ..."
        vocab.append(str(s))
    got = con.execute(
        f"SELECT t.{key} AS k, d.code AS c FROM {table} t JOIN ({distinct}) d ON t.{column} = d.s"
    ).fetchnumpy()
    codes = np.zeros(n_rows, dtype=np.int32)
    keys = np.asarray(got["k"], dtype=np.int64)
    keep = (keys >= 0) & (keys < n_rows)
    codes[keys[keep]] = np.asarray(got["c"], dtype=np.int32)[keep]
    return CodedStrings(codes, vocab)


__all__ = ["CodedStrings", "coded_column"]
