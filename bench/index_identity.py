"""Is one index the same as another? Tables row for row, arrays equal, vectors by cosine.

Used by ``bench_gpu_jobs.py`` to check that an index built on N GPUs equals the
one built on one GPU (or on the CPU). Only content is compared: ``meta.json``
(timings, host) and the HNSW files (a search structure rebuilt from the
vectors) are not.

* DuckDB: every table and view of ``index.duckdb``, its rows ordered by all
  columns and hashed in order (floats rounded to 4 decimals, so that weights
  computed on another device still match); differing tables are reported with
  both row counts.
* ``arrays/*.npy``: 2-D float arrays named ``*_embeddings`` row by row within
  cosine ``min_cosine``; other float arrays within ``atol``; integer and bool
  arrays exactly (the share of differing elements is reported).

Example:
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> a, b = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    >>> for root, eps in ((a, 0.0), (b, 1e-4)):
    ...     (root / "arrays").mkdir()
    ...     np.save(root / "arrays" / "passage_embeddings.npy",
    ...             np.eye(3, dtype=np.float32) + eps)
    ...     np.save(root / "arrays" / "fact_subject.npy", np.arange(3, dtype=np.int32))
    >>> compare_indexes(a, b)["identical"]
    True
    >>> np.save(b / "arrays" / "fact_subject.npy", np.array([0, 2, 1], dtype=np.int32))
    >>> compare_indexes(a, b)["problems"]
    ['array fact_subject: 2 of 3 elements differ']
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

DB_FILE = "index.duckdb"


def table_digests(db: Path, decimals: int = 4) -> dict[str, tuple[int, str]]:
    """``{table: (rows, sha256 of its rows ordered by all columns)}`` of a DuckDB file."""
    import duckdb

    out: dict[str, tuple[int, str]] = {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'main' ORDER BY table_name"
            ).fetchall()
        ]
        for name in names:
            cur = con.execute(f'SELECT * FROM "{name}" ORDER BY ALL')
            h, n = hashlib.sha256(), 0
            while rows := cur.fetchmany(50_000):
                for row in rows:
                    h.update(repr(_normal(row, decimals)).encode("utf-8"))
                n += len(rows)
            out[name] = (n, h.hexdigest())
    finally:
        con.close()
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
    if a.dtype.kind == "f":
        diff = ~np.isclose(a, b, atol=atol, rtol=0.0, equal_nan=True)
    else:
        diff = a != b
    bad = int(np.count_nonzero(diff))
    if bad:
        return f"array {name}: {bad} of {a.size} elements differ", {"differing": bad}
    return None, {}


def compare_indexes(
    a: str | Path, b: str | Path, *, min_cosine: float = 0.999, atol: float = 1e-4
) -> dict[str, Any]:
    """Compare the content of two index directories.

    Returns:
        ``{"identical": bool, "problems": [...], "tables": n, "arrays": n,
        "min_cosine": {array: value}}``.
    """
    a, b = Path(a), Path(b)
    problems: list[str] = []
    n_tables = 0
    if (a / DB_FILE).is_file() or (b / DB_FILE).is_file():
        ta, tb = table_digests(a / DB_FILE), table_digests(b / DB_FILE)
        n_tables = len(ta)
        for name in sorted(set(ta) | set(tb)):
            if name not in ta or name not in tb:
                problems.append(f"table {name}: only in {'first' if name in ta else 'second'}")
            elif ta[name] != tb[name]:
                problems.append(f"table {name}: rows {ta[name][0]} vs {tb[name][0]}, content differs")
    arrays_a = {p.stem: p for p in sorted((a / "arrays").glob("*.npy"))}
    arrays_b = {p.stem: p for p in sorted((b / "arrays").glob("*.npy"))}
    cosines: dict[str, float] = {}
    for name in sorted(set(arrays_a) | set(arrays_b)):
        if name not in arrays_a or name not in arrays_b:
            problems.append(f"array {name}: only in {'first' if name in arrays_a else 'second'}")
            continue
        x = np.load(arrays_a[name], mmap_mode="r", allow_pickle=False)
        y = np.load(arrays_b[name], mmap_mode="r", allow_pickle=False)
        problem, figures = compare_arrays(name, np.asarray(x), np.asarray(y), min_cosine, atol)
        if problem:
            problems.append(problem)
        if "min_cosine" in figures:
            cosines[name] = round(figures["min_cosine"], 6)
    return {
        "identical": not problems,
        "problems": problems,
        "tables": n_tables,
        "arrays": len(arrays_a),
        "min_cosine": cosines,
    }


__all__ = ["compare_arrays", "compare_indexes", "table_digests"]
