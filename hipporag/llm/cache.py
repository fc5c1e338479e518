"""A persistent, process-safe cache of LLM responses (sqlite3 in WAL mode).

Keys are sha256 digests of everything that determines an answer: endpoint
(with credentials masked), model name, the model's identity as the server
reports it, messages and sampling parameters (temperature, max_tokens, the
requested response format, ...). Only successful responses are stored. The
database uses write-ahead logging and a busy timeout, so several processes
(for example Ray workers on one machine) can read and write it at once.

Safety: the database (and its WAL files) are private to the user (mode 0600,
folder 0700). Every entry carries an HMAC-SHA256 of its key and content made
with a random per-cache secret (``cache.secret``, 0600): an entry planted or
edited by anyone without that secret is ignored, counted in
:attr:`LLMCache.invalid` and asked again. No API key or URL credential is ever
stored.

Example:
    >>> import tempfile
    >>> cache = LLMCache(tempfile.mkdtemp())
    >>> key = LLMCache.make_key("http://127.0.0.1:8080/v1", "m",
    ...                         [{"role": "user", "content": "hi"}], {"temperature": 0.0})
    >>> cache.get(key) is None
    True
    >>> cache.put(key, "hello", prompt_tokens=3, completion_tokens=1)
    >>> cache.get(key).text
    'hello'
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hipporag.config import LLMConfig
from hipporag.errors import LLMError
from hipporag.fsio import temp_name
from hipporag.log import get_logger
from hipporag.redact import redact_url

KEY_VERSION = 2
"""Bumped when the key derivation changes, so old entries are never misread."""

DB_NAME = "llm_cache.sqlite3"
SECRET_NAME = "cache.secret"
TABLE = "responses_v2"

logger = get_logger(__name__)

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    model TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL,
    mac TEXT NOT NULL
)
"""


def default_cache_dir() -> Path:
    """``~/.cache/hipporag/llm`` (respects ``XDG_CACHE_HOME``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "hipporag" / "llm"


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A stored answer and the token usage it cost when it was first made."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0


class LLMCache:
    """On-disk response cache shared by threads and processes.

    Args:
        directory: Where the database lives; created if missing. Defaults to
            :func:`default_cache_dir`.

    A cache pickles as its directory only; every process (and thread) opens its
    own sqlite connection lazily.

    Example:
        >>> import tempfile
        >>> cache = LLMCache(tempfile.mkdtemp())
        >>> len(cache)
        0
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.path = self.directory / DB_NAME
        self._local = threading.local()
        self._init_lock = threading.Lock()
        self._initialised = False
        self._secret: bytes | None = None
        self.invalid = 0
        """Entries ignored because their checksum did not match (planted or edited)."""

    @classmethod
    def from_config(cls, config: LLMConfig) -> LLMCache:
        """A cache at ``config.cache_dir``, or at :func:`default_cache_dir` when unset."""
        return cls(config.cache_dir)

    # -- keys --------------------------------------------------------------

    @staticmethod
    def make_key(
        base_url: str,
        model: str,
        messages: Sequence[Mapping[str, Any]],
        params: Mapping[str, Any],
        *,
        identity: Mapping[str, Any] | None = None,
    ) -> str:
        """The sha256 key of one request.

        Args:
            base_url: Endpoint URL (trailing slashes ignored, credentials masked).
            model: Model name as sent to the server.
            messages: Chat messages.
            params: Sampling parameters and the requested response format;
                ``None`` values are ignored.
            identity: The model as the server describes it (``/v1/models`` id,
                created, owned_by), when known.

        Example:
            >>> a = LLMCache.make_key("http://h/v1", "m", [], {}, identity={"created": 1})
            >>> a == LLMCache.make_key("http://h/v1", "m", [], {}, identity={"created": 2})
            False
        """
        payload = {
            "v": KEY_VERSION,
            "base_url": redact_url(base_url.rstrip("/")),
            "model": model,
            "identity": dict(identity) if identity else None,
            "messages": [dict(m) for m in messages],
            "params": {k: v for k, v in params.items() if v is not None},
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    # -- storage -----------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        pid = getattr(self._local, "pid", None)
        if conn is not None and pid == os.getpid():
            return conn
        try:
            self._prepare_files()
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 30000")
            with self._init_lock:
                if not self._initialised:
                    conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute(_SCHEMA)
                    self._initialised = True
            conn.execute("PRAGMA synchronous = NORMAL")
        except (OSError, sqlite3.Error) as err:
            raise LLMError(
                f"cannot open the LLM cache at {self.path}: {err}",
                hint="set llm.cache_dir to a writable directory",
            ) from err
        self._local.conn = conn
        self._local.pid = os.getpid()
        return conn

    def _prepare_files(self) -> None:
        """Create the folder (0700), the database file (0600) and the secret once."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        for suffix in ("", "-wal", "-shm"):
            p = Path(f"{self.path}{suffix}")
            if p.exists() and p.stat().st_mode & 0o077:
                os.chmod(p, 0o600)  # sqlite gives -wal/-shm the database's mode
        self._load_secret()

    def _load_secret(self) -> bytes:
        if self._secret is not None:
            return self._secret
        path = self.directory / SECRET_NAME
        if not path.exists():
            tmp = temp_name(path)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(32).hex().encode())
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(tmp, path)  # fails if another process made one first: use theirs
            except FileExistsError:
                pass
            finally:
                tmp.unlink(missing_ok=True)
        self._secret = path.read_bytes().strip()
        return self._secret

    def _mac(self, key: str, text: str, prompt_tokens: int, completion_tokens: int) -> str:
        blob = json.dumps([key, text, prompt_tokens, completion_tokens], ensure_ascii=False)
        return hmac.new(self._load_secret(), blob.encode("utf-8"), hashlib.sha256).hexdigest()

    def get(self, key: str) -> CachedResponse | None:
        """The cached response for ``key``, or None (also when the database is busy).

        An entry whose checksum does not match is ignored and counted in
        :attr:`invalid` (the request is then sent to the server again).
        """
        try:
            row = (
                self._conn()
                .execute(
                    f"SELECT text, prompt_tokens, completion_tokens, mac FROM {TABLE} "
                    "WHERE key = ?",
                    (key,),
                )
                .fetchone()
            )
        except sqlite3.Error as err:
            logger.warning("LLM cache read failed (%s); treating as a miss", err)
            return None
        if not row:
            return None
        ok = isinstance(row[0], str) and isinstance(row[1], int) and isinstance(row[2], int)
        if not ok or not hmac.compare_digest(str(row[3]), self._mac(key, *row[:3])):
            with self._init_lock:
                self.invalid += 1
            logger.warning("ignoring an LLM cache entry whose checksum does not match")
            return None
        return CachedResponse(row[0], int(row[1]), int(row[2]))

    def delete(self, key: str) -> bool:
        """Remove one entry; True when there was one."""
        try:
            cur = self._conn().execute(f"DELETE FROM {TABLE} WHERE key = ?", (key,))
        except sqlite3.Error as err:
            logger.warning("LLM cache delete failed (%s)", err)
            return False
        return cur.rowcount > 0

    def info(self) -> dict[str, Any]:
        """Location, entry count, size on disk, entries failing their checksum, file mode.

        Example:
            >>> import tempfile
            >>> LLMCache(tempfile.mkdtemp()).info()["entries"]
            0
        """
        rows = self._conn().execute(
            f"SELECT key, text, prompt_tokens, completion_tokens, mac FROM {TABLE}"
        )
        n = bad = 0
        for r in rows:  # streamed: a large cache is not loaded at once
            n += 1
            ok = isinstance(r[1], str) and isinstance(r[2], int) and isinstance(r[3], int)
            bad += not ok or not hmac.compare_digest(str(r[4]), self._mac(*r[:4]))
        files = [Path(f"{self.path}{s}") for s in ("", "-wal", "-shm")]
        return {
            "path": str(self.path),
            "entries": n,
            "invalid_entries": int(bad),
            "bytes": sum(f.stat().st_size for f in files if f.exists()),
            "mode": oct(self.path.stat().st_mode & 0o777),
        }

    def put(
        self,
        key: str,
        text: str,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        model: str = "",
    ) -> None:
        """Store a successful response (last writer wins). A busy database only warns."""
        try:
            p_tok, c_tok = int(prompt_tokens), int(completion_tokens)
            self._conn().execute(
                f"INSERT OR REPLACE INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, text, p_tok, c_tok, model, time.time(), self._mac(key, text, p_tok, c_tok)),
            )
        except sqlite3.Error as err:
            logger.warning("LLM cache write failed (%s); the answer is not cached", err)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __len__(self) -> int:
        return int(self._conn().execute(f"SELECT COUNT(*) FROM {TABLE}").fetchone()[0])

    def clear(self) -> int:
        """Delete every entry (also those of older cache versions); returns how many."""
        conn = self._conn()
        n = len(self)
        conn.execute(f"DELETE FROM {TABLE}")
        conn.execute("DROP TABLE IF EXISTS responses")  # version 1 entries, never read
        conn.execute("VACUUM")
        return n

    def close(self) -> None:
        """Close this thread's connection (others close when their thread ends)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- pickling: the directory only ----------------------------------------

    def __getstate__(self) -> dict[str, Any]:
        return {"directory": str(self.directory)}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["directory"])  # type: ignore[misc]

    def __repr__(self) -> str:
        return f"LLMCache({str(self.directory)!r})"


__all__ = [
    "DB_NAME",
    "KEY_VERSION",
    "SECRET_NAME",
    "CachedResponse",
    "LLMCache",
    "default_cache_dir",
]
