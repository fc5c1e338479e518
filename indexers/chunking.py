"""Optional chunking of long passages into overlapping word windows.

Example:
    >>> from hipporag.config import ChunkConfig
    >>> from hipporag.types import Passage
    >>> p = Passage.from_text("T", "a b c d e")
    >>> [c.text for c in chunk_passages([p], ChunkConfig(max_words=2, overlap_words=1))]
    ['a b', 'b c', 'c d', 'd e']
"""

from __future__ import annotations

from collections.abc import Sequence

from hipporag.config import ChunkConfig
from hipporag.types import Passage


def chunk_passages(passages: Sequence[Passage], config: ChunkConfig) -> list[Passage]:
    """Split passages longer than ``max_words``; shorter ones are returned unchanged."""
    if config.max_words <= 0:
        return list(passages)
    step = config.max_words - config.overlap_words
    out: list[Passage] = []
    seen: set[str] = set()
    for p in passages:
        words = p.text.split()
        if len(words) <= config.max_words:
            pieces = [p]
        else:
            pieces = []
            for start in range(0, len(words), step):
                piece = words[start : start + config.max_words]
                pieces.append(Passage.from_text(p.title, " ".join(piece)))
                if start + config.max_words >= len(words):
                    break
        for piece in pieces:
            if piece.id not in seen:
                seen.add(piece.id)
                out.append(piece)
    return out


__all__ = ["chunk_passages"]
