"""Printing text of unknown origin (passages, titles, answers) safely to a terminal.

A passage can carry ANSI escape sequences, a BEL, a carriage return or bidi
overrides that would recolour, rewrite or reorder what the user sees. Human
output goes through :func:`printable`, JSON output through :func:`json_safe`;
newlines and tabs are kept.

Example:
    >>> printable("red \\x1b[31mtext\\x07 and \\u202eevil")
    'red \\\\x1b[31mtext\\\\x07 and \\\\u202eevil'
    >>> json_safe('{"t": "a\\x9bb"}')
    '{"t": "a\\\\u009bb"}'
"""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls, bidi embeddings/overrides/isolates,
# and the line/paragraph separators that some terminals honour.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def _escape(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with terminal control characters shown as escapes (``\\x1b``, ``\\u202e``).

    Example:
        >>> printable("tab\\tand\\nnewline stay")
        'tab\\tand\\nnewline stay'
    """
    return _UNSAFE.sub(_escape, text)


def json_safe(text: str) -> str:
    """JSON text with the same characters written as ``\\uXXXX`` (the value is unchanged).

    ``json.dumps(..., ensure_ascii=False)`` escapes C0 controls already but leaves
    C1 controls and bidi characters raw; this escapes them too.
    """
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


__all__ = ["json_safe", "printable"]
