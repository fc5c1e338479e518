"""Is one index the same as another? Tables row for row, arrays equal, vectors by cosine.

Used by ``bench_gpu_jobs.py`` to check that an index built on N GPUs equals the
one built on one GPU (or on the CPU). Both are read through
:class:`hipporag.index.reader.Index` (whatever generation and parts layout they
have). Only content is compared: ``meta.json`` (timings, host) and the HNSW
files (a search structure rebuilt from the vectors) are not.

* Tables: every table of the index (passages, entities, facts, fact_provenance,
  mentions, edges), its rows ordered by all columns and hashed in order
  (floats rounded to 4 decimals, so that weights computed on another device
  still match); differing tables are reported with both row counts.
* Arrays: ``*_embeddings`` row by row within cosine ``min_cosine``; other float
  arrays within ``atol``; integer and bool arrays exactly (the count of
  differing elements is reported).

Example:
    >>> res = compare_indexes(DEMO_INDEX, DEMO_INDEX)
    >>> res["identical"], res["tables"], res["arrays"] > 10
    (True, 6, True)
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np


def table_digests(index: Any, decimals: int = 4) -> dict[str, tuple[int, str]]:
    """``{table: (rows, sha256 of its rows ordered by all columns)}`` of an open Index."""
    from hipporag.index.reader import TABLES

    out: dict[str, tuple[int, str]] = {}
    con = index.connection()
    for name in TABLES:
        cur = con.execute(f"SELECT * FROM {name} ORDER BY ALL")
        h, n = hashlib.sha256(), 0
        while rows := cur.fetchmany(50_000):
            for row in rows:
                h.update(repr(_normal(row, decimals)).encode("utf-8"))
            n += len(rows)
        out[name] = (n, h.hexdigest())
    return out


def _normal(row: tuple[Any, ...], decimals: int) -> tuple[Any, ...]:
    return tuple(round(v, decimals) if isinstance(v, float) else v for v in row)


def compare_arrays(
    name: str, a: np.ndarray, b: np.ndarray, min_cosine: float, atol: float
) -> tuple[str | None, dict[str, float]]:
    """One problem line (None when equal) and figures for one array pair.

    Example:
        >>> v = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
        >>> compare_arrays("x_embeddings", v, v[::-1], 0.999, 1e-4)[0]
        'array x_embeddings: 2 of 2 rows below cosine 0.999 (min 0.0000)'
    """
    if a.shape != b.shape or a.dtype != b.dtype:
        return f"array {name}: {a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}", {}
    if a.size == 0:
        return None, {}
    if a.dtype.kind == "f" and a.ndim == 2 and name.endswith("_embeddings"):
        num = np.einsum("ij,ij->i", a.astype(np.float64), b.astype(np.float64))
        den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
        cos = np.where(den > 0, num / np.maximum(den, 1e-30), 1.0)
        low = int((cos < min_cosine).sum())
        figures = {"min_cosine": float(cos.min())}
        if low:
            return (
                f"array {name}: {low} of {len(cos)} rows below cosine {min_cosine} "
                f"(min {cos.min():.4f})",
                figures,
            )
        return None, figures
    close = np.isclose(a, b, atol=atol, rtol=0.0, equal_nan=True) if a.dtype.kind == "f" else None
    diff = ~close if close is not None else a != b
    bad = int(np.count_nonzero(diff))
    if bad:
        return f"array {name}: {bad} of {a.size} elements differ", {"differing": bad}
    return None, {}


def compare_indexes(
    a: Any, b: Any, *, min_cosine: float = 0.999, atol: float = 1e-4
) -> dict[str, Any]:
    """Compare the content of two index directories.

    Returns:
        ``{"identical": bool, "problems": [...], "tables": n, "arrays": n,
        "min_cosine": {array: value}}``.
    """
    from hipporag.index.format import ARRAYS, STATE_ARRAYS
    from hipporag.index.reader import Index

    problems: list[str] = []
    cosines: dict[str, float] = {}
    x, y = Index.open(a), Index.open(b)
    try:
        ta, tb = table_digests(x), table_digests(y)
        n_tables = len(ta)
        for name in ta:
            if ta[name] != tb[name]:
                problems.append(
                    f"table {name}: rows {ta[name][0]} vs {tb[name][0]}, content differs"
                )
        names = [*ARRAYS, *STATE_ARRAYS]
        for name in names:
            problem, figures = compare_arrays(
                name, np.asarray(x.array(name)), np.asarray(y.array(name)), min_cosine, atol
            )
            if problem:
                problems.append(problem)
            if "min_cosine" in figures:
                cosines[name] = round(figures["min_cosine"], 6)
    finally:
        x.close()
        y.close()
    return {
        "identical": not problems,
        "problems": problems,
        "tables": n_tables,
        "arrays": len(names),
        "min_cosine": cosines,
    }


__all__ = ["compare_arrays", "compare_indexes", "table_digests"]
