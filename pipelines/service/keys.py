"""API keys: hashed in a TOML file, each with scopes and an optional tenant filter.

A keys file (``keys.toml``, written by ``hipporag keys add``) holds one table
per key; the key itself is never stored, only its SHA-256::

    [keys.acme-reader]
    hash = "sha256:9f2c..."
    prefix = "hrk_Tq3x"          # the key's first characters, to recognise it
    scopes = ["read"]
    filter = { tenant = "acme" } # optional: ANDed into every request of the key
    rate = 20.0                  # optional: requests per second (burst: 2 s worth)
    created = "2026-12-06T21:50:00Z"
    # revoked = "2026-12-07T08:00:00Z" once revoked

Keys are random (32 bytes, URL-safe), so one SHA-256 is enough to store them;
:meth:`KeyStore.authorize` hashes the presented key and compares it with every
stored hash in constant time (:func:`hmac.compare_digest`, no early exit). The
file is re-read when it changes, so a revoked key stops working at once.

Example:
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "keys.toml"
    >>> key = add_key(path, "acme", scopes=["read"], filter={"tenant": "acme"})
    >>> p = KeyStore(path).authorize(key)
    >>> p.name, sorted(p.scopes), p.filter
    ('acme', ['read'], {'tenant': 'acme'})
    >>> p.restrict({"year": {"gte": 2020}})
    {'tenant': 'acme', 'year': {'gte': 2020}}
    >>> try:
    ...     KeyStore(path).authorize("hrk_wrong")
    ... except AuthError as err:
    ...     print(err.message)
    unknown or revoked API key
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import hmac
import os
import secrets
import threading
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hipporag.errors import HippoRAGError, InputError
from hipporag.filters import all_of, validate_filters

SCOPES = ("read", "write")
PREFIX = "hrk_"


class AuthError(HippoRAGError):
    """No key, or an unknown or revoked one (HTTP 401)."""


class ScopeError(HippoRAGError):
    """The key lacks the scope, or the request reaches outside its tenant (HTTP 403)."""


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a key's name, scopes, tenant filter and rate.

    Attributes:
        name: the key's name (``"local"`` without a keys file).
        scopes: ``{"read"}``, ``{"write"}`` or both.
        filter: a :mod:`hipporag.filters` spec ANDed into every request, or None.
        rate: requests per second allowed (None: unlimited).
    """

    name: str
    scopes: frozenset[str]
    filter: dict[str, Any] | None = None
    rate: float | None = None

    def require(self, scope: str) -> None:
        """Raise :class:`ScopeError` unless the key has ``scope``."""
        if scope not in self.scopes:
            raise ScopeError(
                f"key {self.name!r} may not {scope} (its scopes: {', '.join(sorted(self.scopes))})",
                hint=f"use a key with the {scope!r} scope (hipporag keys add ... --scope {scope})",
            )

    def restrict(self, request_filter: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """The request's filter ANDed with the key's (:func:`hipporag.filters.all_of`)."""
        return all_of(self.filter, request_filter)


OPEN = Principal("local", frozenset(SCOPES))
"""The principal of every request when the service runs without a keys file."""


def hash_key(key: str) -> str:
    """The stored form of a key: ``sha256:`` and its hex digest."""
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_keys(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """The key tables of a keys file, by name (``{}`` when the file does not exist).

    Raises:
        InputError: the file is not valid TOML or an entry is malformed.
    """
    p = Path(path)
    if not p.exists():
        return {}
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise InputError(
            f"keys file {p} is not valid TOML ({err})",
            hint="fix it, or recreate it with hipporag keys add",
        ) from None
    keys = data.get("keys", {})
    if not isinstance(keys, dict):
        raise InputError(
            f"keys file {p}: 'keys' must be a table", hint="see hipporag keys add --help"
        )
    for name, entry in keys.items():
        _check_entry(p, name, entry)
    return keys


def _check_entry(path: Path, name: str, entry: Any) -> None:
    where = f"keys file {path}, key {name!r}"
    hint = "fix the entry, or revoke it and add a new key with hipporag keys add"
    if not isinstance(entry, dict) or not str(entry.get("hash", "")).startswith("sha256:"):
        raise InputError(f"{where}: no 'hash = \"sha256:...\"'", hint=hint)
    scopes = entry.get("scopes")
    if not isinstance(scopes, list) or not scopes or set(scopes) - set(SCOPES):
        raise InputError(f"{where}: scopes must be a non-empty list of {SCOPES}", hint=hint)
    if entry.get("filter") is not None:
        validate_filters(entry["filter"])
    rate = entry.get("rate")
    if rate is not None and (not isinstance(rate, int | float) or rate <= 0):
        raise InputError(f"{where}: rate must be a positive number", hint=hint)


def _write(path: Path, keys: Mapping[str, Any]) -> None:
    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("# API keys of `hipporag serve` (hashes only); manage with `hipporag keys`.\n")
        fh.write(tomli_w.dumps({"keys": dict(keys)}))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def add_key(
    path: str | os.PathLike[str],
    name: str,
    *,
    scopes: Iterable[str] = ("read",),
    filter: Mapping[str, Any] | None = None,
    rate: float | None = None,
) -> str:
    """Create a key, store its hash in ``path`` (created 0600) and return the key (shown once).

    Raises:
        InputError: the name is taken or empty, an unknown scope, a bad filter or rate.
    """
    p = Path(path)
    keys = read_keys(p)
    if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise InputError(f"bad key name {name!r}", hint="use letters, digits, '-', '_' or '.'")
    if name in keys:
        raise InputError(
            f"a key named {name!r} exists in {p}", hint="choose another --name, or revoke it first"
        )
    scopes = sorted(set(scopes))
    if not scopes or set(scopes) - set(SCOPES):
        raise InputError(f"bad scopes {scopes}", hint="give --scope read and/or --scope write")
    key = PREFIX + secrets.token_urlsafe(32)
    entry: dict[str, Any] = {"hash": hash_key(key), "prefix": key[:8], "scopes": scopes}
    if filter:
        entry["filter"] = validate_filters(filter)
    if rate is not None:
        entry["rate"] = float(rate)
    entry["created"] = _now()
    _check_entry(p, name, entry)
    keys[name] = entry
    _write(p, keys)
    return key


def revoke_key(path: str | os.PathLike[str], name: str) -> None:
    """Mark key ``name`` revoked (it stays listed, and never authorizes again).

    Raises:
        InputError: no key of that name.
    """
    p = Path(path)
    keys = read_keys(p)
    if name not in keys:
        known = ", ".join(sorted(keys)) or "none"
        raise InputError(f"no key named {name!r} in {p}", hint=f"known keys: {known}")
    keys[name]["revoked"] = keys[name].get("revoked") or _now()
    _write(p, keys)


@dataclass
class KeyStore:
    """The keys of a keys file, re-read when the file changes.

    Args:
        path: the keys file (it must exist when the service starts).
    """

    path: Path
    _entries: list[tuple[str, Principal, bool]] = field(default_factory=list, repr=False)
    _stamp: tuple[int, int] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_file():
            raise InputError(
                f"keys file {self.path} does not exist",
                hint=f"create a key with: hipporag keys add {self.path} --name NAME --scope read",
            )
        self._load()

    def _load(self) -> None:
        st = self.path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        entries = []
        for name, e in read_keys(self.path).items():
            principal = Principal(name, frozenset(e["scopes"]), e.get("filter"), e.get("rate"))
            entries.append((e["hash"], principal, bool(e.get("revoked"))))
        with self._lock:
            self._entries, self._stamp = entries, stamp

    def authorize(self, key: str | None) -> Principal:
        """The principal of ``key``.

        Raises:
            AuthError: no key, or one that is unknown or revoked.
        """
        if not key:
            raise AuthError("no API key", hint="send the header 'Authorization: Bearer YOUR_KEY'")
        with contextlib.suppress(OSError):  # the file being replaced: keep the keys we have
            self._load()
        presented = hash_key(key).encode()
        found: Principal | None = None
        revoked = False
        for stored, principal, is_revoked in self._entries:  # every entry: no early exit
            if hmac.compare_digest(stored.encode(), presented):
                found, revoked = principal, is_revoked
        if found is None or revoked:
            raise AuthError(
                "unknown or revoked API key", hint="check the key, or ask for a new one"
            )
        return found


def authorize(store: KeyStore | None, key: str | None) -> Principal:
    """``store.authorize(key)``; :data:`OPEN` (every scope, no filter) when there is no store."""
    return OPEN if store is None else store.authorize(key)


__all__ = [
    "OPEN",
    "SCOPES",
    "AuthError",
    "KeyStore",
    "Principal",
    "ScopeError",
    "add_key",
    "authorize",
    "hash_key",
    "read_keys",
    "revoke_key",
]
