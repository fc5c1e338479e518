"""A persistent, process-safe cache of LLM responses (sqlite3 in WAL mode).

Keys are sha256 digests of everything that determines an answer: endpoint,
model, messages and sampling parameters (temperature, max_tokens, the
requested response format, ...). Only successful responses are stored. The
database uses write-ahead logging and a busy timeout, so several processes
(for example Ray workers on one machine) can read and write it at once.

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
import json
import logging
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

KEY_VERSION = 1
"""Bumped when the key derivation changes, so old entries are never misread."""

DB_NAME = "llm_cache.sqlite3"

logger = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    model TEXT NOT NULL DEFAULT '',
    created REAL NOT NULL
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
    ) -> str:
        """The sha256 key of one request.

        Args:
            base_url: Endpoint URL (trailing slashes ignored).
            model: Model name as sent to the server.
            messages: Chat messages.
            params: Sampling parameters and the requested response format;
                ``None`` values are ignored.
        """
        payload = {
            "v": KEY_VERSION,
            "base_url": base_url.rstrip("/"),
            "model": model,
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
            self.directory.mkdir(parents=True, exist_ok=True)
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

    def get(self, key: str) -> CachedResponse | None:
        """The cached response for ``key``, or None (also when the database is busy)."""
        try:
            row = (
                self._conn()
                .execute(
                    "SELECT text, prompt_tokens, completion_tokens FROM responses WHERE key = ?",
                    (key,),
                )
                .fetchone()
            )
        except sqlite3.Error as err:
            logger.warning("LLM cache read failed (%s); treating as a miss", err)
            return None
        return CachedResponse(row[0], int(row[1]), int(row[2])) if row else None

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
            self._conn().execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                (key, text, int(prompt_tokens), int(completion_tokens), model, time.time()),
            )
        except sqlite3.Error as err:
            logger.warning("LLM cache write failed (%s); the answer is not cached", err)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __len__(self) -> int:
        return int(self._conn().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def clear(self) -> None:
        """Delete every entry."""
        self._conn().execute("DELETE FROM responses")

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


__all__ = ["DB_NAME", "KEY_VERSION", "CachedResponse", "LLMCache", "default_cache_dir"]
