"""Making untrusted text safe to store, print and export.

LLM answers and corpus titles may carry terminal escapes (``ESC ] 0 ; title
BEL`` rewrites a terminal's title, ``ESC [ 31 m`` colours it), bidirectional
overrides that reorder what a reader sees, zero-width characters and other
controls. :func:`strip_controls` removes them from names before they are
indexed; :func:`xml_safe` removes what XML 1.0 forbids before an export.

Example:
    >>> strip_controls("evil\\x1b]0;pwned\\x07 Corp\\u202e")
    'evil Corp'
    >>> xml_safe("Title\\x1b[31m red\\x00")
    'Title red'
"""

from __future__ import annotations

import re
import unicodedata

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), other two-byte ESC sequences.
_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]")
# Characters XML 1.0 does not allow, anywhere.
_XML_BAD_RE = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def strip_controls(text: str) -> str:
    """``text`` without escape sequences and control / format characters (Cc, Cf, Cs, Co).

    Tabs and line breaks become spaces; runs of spaces are kept as they are
    (callers normalise whitespace).
    """
    text = _ANSI_RE.sub("", text)
    if text.isprintable():
        return text
    return "".join(
        " " if ch in "\t\n\r" else ch
        for ch in text
        if ch in "\t\n\r" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co")
    )


def xml_safe(text: str) -> str:
    """``text`` with escape sequences and the characters XML 1.0 forbids removed."""
    return _XML_BAD_RE.sub("", _ANSI_RE.sub("", text))


__all__ = ["strip_controls", "xml_safe"]
