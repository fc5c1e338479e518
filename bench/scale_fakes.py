"""The fake models of the scale benchmark (:mod:`bench_scale`): fast, deterministic, realistic in shape.

``ZipfExtractor`` gives each passage Zipfian entity mentions (a few hubs, a
long tail) and triples among them; ``HashVectors`` maps a text to a unit
vector from its CRC32, with ``"X alias"`` close to ``X`` so that synonymy edges
exist.

Example:
    >>> v = zipf_sample(np.random.default_rng(0), 100, 5)
    >>> v.shape, int(v.min()) >= 0, int(v.max()) < 100
    ((5,), True, True)
"""

from __future__ import annotations

import sys
import time
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hipporag.types import Extraction, Passage, Triple

RELATIONS = ("located in", "born in", "part of", "founded by", "member of", "capital of")


def zipf_sample(rng: np.random.Generator, vocab: int, n: int, s: float = 1.0) -> np.ndarray:
    """``n`` draws of ranks ``0..vocab-1`` with P(r) proportional to ``1/(r+1)^s``."""
    cdf = np.cumsum(1.0 / np.arange(1, vocab + 1) ** s)
    cdf /= cdf[-1]
    return np.minimum(np.searchsorted(cdf, rng.random(n)), vocab - 1)


class ZipfExtractor:
    """Deterministic fake OpenIE: Zipfian entities and triples among them, per passage.

    Rank ``r`` is named ``entity r``, except that for a ``synonym_share`` of the
    pairs ``(2j, 2j+1)`` (picked by CRC32) rank ``2j+1`` is ``entity 2j alias``:
    a near-synonym of ``entity 2j`` (same numbers, close vector).

    Example:
        >>> x = ZipfExtractor(10, 3, 2, synonym_share=1.0)
        >>> [x.name(r) for r in range(4)]
        ['entity 0', 'entity 0 alias', 'entity 2', 'entity 2 alias']
    """

    def __init__(
        self, n_passages: int, entities: int, facts: int, seed: int = 0, synonym_share: float = 0.0
    ) -> None:
        self.vocab = max(100, 2 * n_passages)
        self.synonym_share = synonym_share
        rng = np.random.default_rng(seed)
        self.ents = zipf_sample(rng, self.vocab, n_passages * entities).reshape(n_passages, -1)
        pick = rng.integers(0, entities, size=(n_passages, facts, 2))
        self.facts = pick
        self.rels = rng.integers(0, len(RELATIONS), size=(n_passages, facts))
        self.seconds = 0.0

    def warm_up(self) -> None:
        pass

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        t = time.perf_counter()
        out = []
        for p in passages:
            i = int(p.id[1:])
            names = [self.name(e) for e in self.ents[i].tolist()]
            triples = [
                Triple(names[a], RELATIONS[r], names[b])
                for (a, b), r in zip(self.facts[i].tolist(), self.rels[i].tolist(), strict=True)
                if a != b
            ]
            out.append(Extraction(p.id, names, triples))
        self.seconds += time.perf_counter() - t
        return out

    def name(self, rank: int) -> str:
        """The entity name of a vocabulary rank."""
        pair = rank // 2
        if rank % 2 and zlib.crc32(f"pair {pair}".encode()) % 1000 < 1000 * self.synonym_share:
            return f"entity {rank - 1} alias"
        return f"entity {rank}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "zipf-fake", "vocab": self.vocab, "synonym_share": self.synonym_share}


class HashVectors:
    """Deterministic fake embedder: a text's vector is the sum of two table rows picked by CRC32.

    ``"X alias"`` is a near-synonym of ``X``: its vector is ``X``'s plus 0.3 of
    its own, a cosine of about 0.96 (above the default synonymy threshold).

    Example:
        >>> a, b, c = HashVectors(32).encode(["entity 4", "entity 4 alias", "entity 6"])
        >>> bool(a @ b > 0.9), bool(abs(a @ c) < 0.8)
        (True, True)
    """

    name = "crc32-fake"

    def __init__(self, dim: int, seed: int = 1) -> None:
        self.dim = dim
        self.table = np.random.default_rng(seed).standard_normal((1 << 16, dim)).astype(np.float32)
        self.queries: dict[str, np.ndarray] = {}
        self.seconds = 0.0

    def warm_up(self) -> None:
        pass

    def encode(self, texts: Sequence[str], *, is_query: bool = False) -> np.ndarray:
        t = time.perf_counter()
        if is_query and all(x in self.queries for x in texts):
            return np.stack([self.queries[x] for x in texts])
        v = self._hashed(texts)
        alias = [i for i, x in enumerate(texts) if x.endswith(" alias")]
        if alias:
            v[alias] = self._hashed([texts[i][:-6] for i in alias]) + 0.3 * v[alias]
            v[alias] /= np.linalg.norm(v[alias], axis=1, keepdims=True)
        self.seconds += time.perf_counter() - t
        return v

    def _hashed(self, texts: Sequence[str]) -> np.ndarray:
        h = np.fromiter((zlib.crc32(x.encode()) for x in texts), np.uint32, len(texts))
        v = self.table[h & 0xFFFF] + self.table[h >> 16]
        v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        return v

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text], is_query=True)[0]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "crc32-fake", "dim": self.dim}


__all__ = ["HashVectors", "ZipfExtractor", "zipf_sample"]
