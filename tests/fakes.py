"""Small fakes for fast unit tests (never the only test of a part)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence

import numpy as np

from hipporag.types import Extraction, Passage, Triple


class HashEmbedder:
    """Deterministic bag-of-words hashing embedder: similar words, similar vectors."""

    name = "hash-test"
    dim = 64

    def warm_up(self) -> None:
        pass

    def encode(self, texts: Sequence[str], *, is_query: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            for w in t.lower().split():
                h = int(hashlib.md5(w.encode()).hexdigest(), 16)
                out[i, h % self.dim] += 1.0 if (h >> 8) & 1 else -1.0
            out[i, 0] += 1e-3
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def to_dict(self) -> dict:
        return {"kind": "hash-test"}


class CapitalizedWordsExtractor:
    """Entities = capitalised words; triples = consecutive entity pairs."""

    def warm_up(self) -> None:
        pass

    def extract(self, passages: Sequence[Passage]) -> list[Extraction]:
        out = []
        for p in passages:
            words = [w.strip(".,;:()") for w in p.text.split()]
            ents = [w for w in words if w[:1].isupper() and len(w) > 2]
            triples = [Triple(a, "near", b) for a, b in itertools.pairwise(ents) if a != b]
            out.append(Extraction(p.id, ents, triples))
        return out

    def to_dict(self) -> dict:
        return {"kind": "capitalized-test"}
