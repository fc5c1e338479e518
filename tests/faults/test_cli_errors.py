"""The CLI's error policy, run as a user would (subprocess): one line, a hint, no traceback.

Every case asserts the exit code (2: bad input or configuration, 1: internal),
a single stderr line with "how to fix", no traceback, and, where an index
already sits at the target, that it is byte-for-byte unchanged and still opens.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from hipporag.index import Index
from tests.plugins.llm_server import FakeOpenAIServer

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "pipelines" / "demo_data" / "corpus.json"


def cli(*args: str | bytes, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HIPPORAG_PROGRESS": "0", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args],
        cwd=ROOT,
        capture_output=True,
        timeout=timeout,
        env=env,
        text=True,
        errors="replace",
    )


def assert_one_line_error(proc: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert proc.returncode == code, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error: ")]
    assert len(errors) == 1, proc.stderr[-2000:]
    assert "how to fix: " in errors[0]
    assert "Traceback" not in proc.stderr
    return errors[0]


def tree_digest(path: Path) -> dict[str, str]:
    return {
        str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(path.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def existing_index(demo_index_path: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    out = tmp_path / "idx"
    shutil.copytree(demo_index_path, out)
    return out, tree_digest(out)


def assert_unchanged(index: tuple[Path, dict[str, str]]) -> None:
    path, digest = index
    assert tree_digest(path) == digest
    assert Index(path).n_passages > 0


# -- argv and usage --------------------------------------------------------------------------
def test_invalid_utf8_argument(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "info", b"idx-\xff\xfe"],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    line = assert_one_line_error(
        subprocess.CompletedProcess(proc.args, proc.returncode, "", proc.stderr.decode())
    )
    assert "not valid UTF-8" in line


@pytest.mark.parametrize(
    "args",
    [["bogus-command"], ["retrieve"], ["index", str(DEMO)], ["retrieve", "x", "q", "-k", "many"]],
)
def test_usage_errors_are_one_line(args):
    assert_one_line_error(cli(*args))


def test_internal_error_is_exit_1_and_traceback_only_with_v(tmp_path):
    code = (
        "import sys, pipelines.commands.info as m\n"
        "def boom(args):\n    return {}['missing']\n"
        "m.run = boom\n"
        "from pipelines.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    for verbose in ([], ["-v"]):
        proc = subprocess.run(
            [sys.executable, "-c", code, *verbose, "info", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 1, proc.stderr
        assert "internal error: KeyError" in proc.stderr
        assert ("Traceback" in proc.stderr) == bool(verbose)


# -- output paths checked before any work --------------------------------------------------
def test_output_parent_is_a_file(tmp_path):
    f = tmp_path / "afile"
    f.write_text("x")
    line = assert_one_line_error(cli("index", str(DEMO), "--out", str(f / "idx")))
    assert "not a folder" in line and f.read_text() == "x"


def test_output_that_is_a_mount_point():
    mount = next((p for p in ("/dev/shm", "/dev", "/proc") if os.path.ismount(p)), None)
    if mount is None:
        pytest.skip("no mount point to try")
    line = assert_one_line_error(cli("index", str(DEMO), "--out", mount))
    assert "mount point" in line


def test_output_on_an_unwritable_file_system():
    target = "/proc/hipporag-test/idx"
    proc = cli("index", str(DEMO), "--out", target)
    line = assert_one_line_error(proc)
    assert "cannot write" in line or "not a folder" in line


def test_output_without_enough_free_space(tmp_path):
    big = tmp_path / "huge.json"
    size = shutil.disk_usage(tmp_path).free + (1 << 30)
    try:
        with open(big, "wb") as fh:  # sparse: takes no disk space, but its size counts
            fh.truncate(size)
    except OSError:
        pytest.skip("this file system has no sparse files that large")
    line = assert_one_line_error(cli("index", str(big), "--out", str(tmp_path / "idx")))
    assert "not enough free space" in line


def test_bad_config_file(tmp_path, existing_index):
    cfg = tmp_path / "bad.toml"
    cfg.write_text("[openie\nkind = ")
    assert_one_line_error(
        cli("index", str(DEMO), "--out", str(existing_index[0]), "--config", str(cfg))
    )
    assert_unchanged(existing_index)


def test_bad_max_failed_share(existing_index):
    line = assert_one_line_error(
        cli("index", str(DEMO), "--out", str(existing_index[0]), "--max-failed-share", "7")
    )
    assert "max_failed_share" in line
    assert_unchanged(existing_index)


# -- LLM failures through the CLI ------------------------------------------------------------
@pytest.fixture
def server():
    s = FakeOpenAIServer()
    yield s
    s.close()


def llm_config(tmp_path: Path, url: str, **llm: Any) -> Path:
    cfg = tmp_path / "llm.toml"
    opts = {"base_url": url, "model": "m", "max_retries": 1, "timeout_s": 5.0, **llm}
    opts["cache_dir"] = str(tmp_path / "llm-cache")
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in opts.items())
    cfg.write_text(f'[openie]\nkind = "llm"\n\n[openie.llm]\n{body}\n')
    return cfg


def small_corpus(tmp_path: Path, n: int = 5) -> Path:
    rows = [{"title": f"City {i}", "text": f"Paris is in France, note {i}."} for i in range(n)]
    p = tmp_path / "small.json"
    p.write_text(json.dumps(rows))
    return p


@pytest.mark.parametrize("kind", ["html", "choices_string", "null_content"])
def test_llm_server_answering_garbage_keeps_the_index(tmp_path, server, existing_index, kind):
    from tests.faults.test_llm_replies import MALFORMED

    server.responder = lambda body: MALFORMED[kind]
    cfg = llm_config(tmp_path, server.url)
    proc = cli(
        "index", str(small_corpus(tmp_path)), "--out", str(existing_index[0]), "--config", str(cfg)
    )
    line = assert_one_line_error(proc)
    assert "failed for 5 of 5 passages" in line
    assert len(server.requests) <= 5 * 2  # bounded: max_retries = 1
    assert_unchanged(existing_index)


def test_wrong_schema_answers_exceed_the_failure_share(tmp_path, server, existing_index):
    server.responder = lambda body: ("ok", '{"answer": "I cannot help with that"}')
    cfg = llm_config(tmp_path, server.url)
    proc = cli(
        "index", str(small_corpus(tmp_path)), "--out", str(existing_index[0]), "--config", str(cfg)
    )
    line = assert_one_line_error(proc)
    assert "failed for 5 of 5 passages" in line and "--max-failed-share" in line
    assert_unchanged(existing_index)
    # nothing of it was cached: after the server is fixed, every passage is asked again
    from hipporag.llm import LLMCache

    assert len(LLMCache(tmp_path / "llm-cache")) == 0


def test_some_failures_allowed_writes_the_index(tmp_path, server):
    def respond(body):
        last = body["messages"][-1]["content"]
        if "note 0." in last:
            return ("status", 500)
        if "Named entities:" in last:
            return ("ok", json.dumps({"triples": [["Paris", "in", "France"]]}))
        return ("ok", json.dumps({"named_entities": ["Paris", "France"]}))

    server.responder = respond
    cfg = llm_config(tmp_path, server.url, max_retries=0)
    out = tmp_path / "out"
    corpus = str(small_corpus(tmp_path))
    # 1 of 5 failed = 20%: within the default share, so the index is written
    proc = cli("index", corpus, "--out", str(out), "--config", str(cfg), "--batch-size", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "openie failed for 1 passages" in proc.stdout
    # the same with a stricter share: refused, the index written before is kept
    before = tree_digest(out)
    proc = cli(
        "index",
        corpus,
        "--out",
        str(out),
        "--config",
        str(cfg),
        "--batch-size",
        "1",
        "--max-failed-share",
        "0.1",
    )
    assert_one_line_error(proc)
    assert tree_digest(out) == before


# -- control characters in passages ----------------------------------------------------------
def test_control_characters_in_passages_are_escaped_on_output(tmp_path):
    from hipporag.config import IndexConfig
    from indexers.builder import IndexBuilder
    from indexers.readers import read_corpus

    corpus = tmp_path / "ansi.json"
    evil = "Paris \x1b[2J\x1b[31mis red\x07 and \u202eevil\u202c in France."
    corpus.write_text(json.dumps([{"title": "Paris\x1b]0;pwned\x07", "text": evil}]))
    passages, stats = read_corpus(corpus)
    out = tmp_path / "idx"
    IndexBuilder(IndexConfig()).build(passages, out, read_stats=stats.to_dict())
    proc = cli("retrieve", str(out), "Paris France", "-k", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]
    for raw in ("\x1b", "\x07", "\u202e"):
        assert raw not in proc.stdout
    assert "\\x1b" in proc.stdout
    js = cli("retrieve", str(out), "Paris France", "-k", "1", "--json")
    assert js.returncode == 0 and "\u202e" not in js.stdout
    assert "\u202e" in json.dumps(json.loads(js.stdout), ensure_ascii=False)  # value kept
