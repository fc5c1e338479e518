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

import logging
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


_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
_QUERY_SECRET = re.compile(
    r"(?P<name>[\w.-]*(?:key|token|secret|passw|pwd|auth|sig|credential|session)[\w.-]*)="
    r"(?P<value>[^&\s\"']+)",
    re.IGNORECASE,
)


def redact_text(text: str) -> str:
    """Mask URL credentials and secret-looking ``name=value`` pairs anywhere in ``text``.

    Example:
        >>> redact_text("POST http://u:p@h/v1/?api_key=abc done")
        'POST http://***@h/v1/?api_key=*** done'
    """
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{MASK}@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m.group('name')}={MASK}", text)


class RedactingFilter(logging.Filter):
    """A logging filter that applies :func:`redact_text` to every record it sees.

    Example:
        >>> log = logging.getLogger("hipporag.redact.example")
        >>> log.addFilter(RedactingFilter())
        >>> rec = log.makeRecord(log.name, logging.INFO, "", 0, "to %s", ("http://a:b@h",), None)
        >>> RedactingFilter().filter(rec), rec.getMessage()
        (True, 'to http://***@h')
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging module's business
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


_HTTP_LOGGERS = ("httpx", "httpx2", "openai", "openai._base_client", "urllib3.connectionpool")
_installed = False


def protect_http_logs() -> None:
    """Attach a :class:`RedactingFilter` to the loggers of the HTTP libraries (once).

    httpx logs every request URL at INFO, credentials included; this keeps them
    out of any log the application configures.
    """
    global _installed
    if _installed:
        return
    for name in _HTTP_LOGGERS:
        logging.getLogger(name).addFilter(RedactingFilter())
    _installed = True


__all__ = ["MASK", "RedactingFilter", "protect_http_logs", "redact_text", "redact_url"]
