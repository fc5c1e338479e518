"""Text normalisation and stable, content-derived identifiers.

Normalisation is unicode-aware: NFKC, casefold, whitespace collapsed, and
punctuation at the edges trimmed. Letters of every script are kept, so
"Zürich", "東京" and "Москва" survive intact (lower-cased where the script has
case).

Example:
    >>> normalize_entity("  The  ZÜRICH ")
    'the zürich'
    >>> passage_id("Paris", "Paris is the capital of France.")
    'p_b733992fa2d5637c'
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_SPACE_RE = re.compile(r"\s+", re.UNICODE)
# Bidirectional-text controls (LRM, RLM, ALM, embeddings, overrides, isolates): invisible,
# they would make "acme\u200f." and "acme" two entities.
_BIDI_RE = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_ABBREV_END_RE = re.compile(
    r"(?:^|\s)(?:\w\.){2,}$|(?:^|\s)(?:inc|jr|sr|co|ltd|corp|st|dr|mr|mrs|ms|bros|no)\.$"
)


def normalize_text(text: str) -> str:
    """NFKC-normalise and collapse whitespace; keeps case (for passages)."""
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def normalize_entity(name: str) -> str:
    """Canonical form of an entity mention: NFKC + casefold + collapsed spaces.

    Leading/trailing punctuation and symbols are trimmed (quotes, brackets,
    commas), inner ones kept ("AT&T", "U.S." keep their inner marks). Returns
    an empty string when nothing word-like is left; callers skip those.
    Bidirectional controls (U+200E/F, U+202A-E, U+2066-9, U+061C) are removed.

    Example:
        >>> normalize_entity("Paris\u200f.") == normalize_entity("paris")
        True
    """
    s = normalize_text(_BIDI_RE.sub("", name)).casefold()
    start, end = 0, len(s)
    while start < end and _is_edge_junk(s[start]):
        start += 1
    while end > start and _is_edge_junk(s[end - 1]) and s[end - 1] != ".":
        end -= 1
    s = s[start:end].strip()
    # A trailing dot is kept only for abbreviations such as "u.s." or "inc.".
    if s.endswith(".") and not _ABBREV_END_RE.search(s):
        s = s[:-1].rstrip()
    if not any(ch.isalnum() for ch in s):
        return ""
    return s


def _is_edge_junk(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] in ("P", "S", "Z", "C")


def _digest(*parts: str, size: int = 8) -> str:
    h = hashlib.blake2b(digest_size=size)
    for part in parts:
        h.update(part.encode("utf-8"))
        h.update(b"\x1f")
    return h.hexdigest()


def passage_id(title: str, text: str) -> str:
    """Stable id of a passage, derived from its normalised title and text."""
    return "p_" + _digest(normalize_text(title), normalize_text(text))


def entity_id(normalized_name: str) -> str:
    """Stable id of an entity from its normalised name."""
    return "e_" + _digest(normalized_name)


def fact_text(subject: str, relation: str, obj: str) -> str:
    """The text embedded for a fact, HippoRAG 2 style: a tuple-like string."""
    return f"({subject}, {relation}, {obj})"


__all__ = ["entity_id", "fact_text", "normalize_entity", "normalize_text", "passage_id"]
