"""Keep secrets out of everything the toolkit writes: meta.json, checkpoints, caches, logs.

An API key is only ever read from the environment variable named by
``llm.api_key_env``; the one other place a secret can hide is a URL
(``https://user:token@host/v1`` or ``...?api_key=...``). :func:`redact_url`
removes both before a URL is serialised or printed.

Example:
    >>> redact_url("https://bob:s3cret@llm.example.com/v1?api-key=abc&x=1")
    'https://***@llm.example.com/v1?api-key=***&x=1'
    >>> redact_url("http://127.0.0.1:8080/v1")
    'http://127.0.0.1:8080/v1'
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

_SECRET_PARAM = re.compile(r"(key|token|secret|passw|pwd|auth|sig|credential|session)", re.I)


def redact_url(url: str) -> str:
    """``url`` with credentials and secret-looking query values replaced by ``***``.

    User info (``user:password@``) is masked as a whole; query parameters whose
    name looks like a secret (key, token, secret, password, auth, signature, ...)
    keep their name and lose their value. Anything that cannot be parsed as a
    URL is masked entirely, since it cannot be checked.

    Example:
        >>> redact_url("http://u@h:1/v1")
        'http://***@h:1/v1'
        >>> redact_url("not a url at all")
        'not a url at all'
        >>> redact_url("http://[::1")
        '***'
    """
    if not isinstance(url, str):
        return MASK
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(_SECRET_PARAM.search(k) for k, _ in pairs):
                masked = [(k, MASK if _SECRET_PARAM.search(k) else v) for k, v in pairs]
                query = urlencode(masked, safe="*")
        return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    except ValueError:
        return MASK


__all__ = ["MASK", "redact_url"]
