"""API keys: ``hipporag keys`` (CLI), hashed storage, scopes, tenant filters, revocation."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hipporag.errors import InputError
from pipelines.cli import main
from pipelines.service.keys import (
    OPEN,
    AuthError,
    KeyStore,
    ScopeError,
    add_key,
    authorize,
    read_keys,
    revoke_key,
)

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True, env=env
    )


def test_keys_cli_add_list_revoke(tmp_path):
    path = tmp_path / "keys.toml"
    out = _cli(
        "keys",
        "add",
        str(path),
        "--name",
        "acme",
        "--scope",
        "read",
        "--scope",
        "write",
        "--filter",
        "tenant=acme",
        "--rate",
        "5",
    )
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]  # the key, on the last line
    assert key.startswith("hrk_") and len(key) > 40
    text = path.read_text()
    assert key not in text and key[8:] not in text  # only the hash is stored
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    principal = KeyStore(path).authorize(key)
    assert principal.scopes == {"read", "write"} and principal.filter == {"tenant": "acme"}
    assert principal.rate == 5.0

    listed = _cli("keys", "list", str(path))
    assert listed.returncode == 0 and "acme" in listed.stdout and key not in listed.stdout
    assert "tenant" in listed.stdout

    store = KeyStore(path)
    assert _cli("keys", "revoke", str(path), "acme").returncode == 0
    with pytest.raises(AuthError):  # the running store re-reads the changed file
        store.authorize(key)
    assert read_keys(path)["acme"]["revoked"]


def test_keys_cli_errors_are_one_line(tmp_path, capsys):
    path = tmp_path / "keys.toml"
    assert main(["keys", "add", str(path), "--name", "a"]) == 2
    assert "no --scope given" in capsys.readouterr().err
    assert (
        main(
            [
                "keys",
                "add",
                str(path),
                "--name",
                "a",
                "--scope",
                "read",
                "--filter-json",
                '{"tenant": {"bogus": 1}}',
            ]
        )
        == 2
    )
    assert "unknown operator" in capsys.readouterr().err
    assert main(["keys", "add", str(path), "--name", "a", "--scope", "read"]) == 0
    capsys.readouterr()
    assert main(["keys", "add", str(path), "--name", "a", "--scope", "read"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "exists" in err
    assert main(["keys", "revoke", str(path), "nobody"]) == 2
    assert not path.with_name("keys.toml.tmp").exists()


def test_authorize_rejects_missing_wrong_and_similar_keys(tmp_path):
    path = tmp_path / "keys.toml"
    key = add_key(path, "reader", scopes=["read"])
    store = KeyStore(path)
    for bad in (None, "", "hrk_", key[:-1], key + "x", key.upper()):
        with pytest.raises(AuthError):
            store.authorize(bad)
    p = store.authorize(key)
    p.require("read")
    with pytest.raises(ScopeError):
        p.require("write")
    assert authorize(None, None) is OPEN and OPEN.filter is None


def test_tenant_filter_is_anded_never_widened(tmp_path):
    path = tmp_path / "keys.toml"
    key = add_key(path, "t", scopes=["read"], filter={"tenant": "a"})
    p = KeyStore(path).authorize(key)
    assert p.restrict(None) == {"tenant": "a"}
    assert p.restrict({"tenant": "b"}) == {"tenant": {"all": ["a", "b"]}}
    assert OPEN.restrict({"x": 1}) == {"x": 1}


def test_bad_keys_file(tmp_path):
    path = tmp_path / "keys.toml"
    with pytest.raises(InputError, match="does not exist"):
        KeyStore(path)
    path.write_text("[keys.x]\nhash = 'nope'\nscopes = ['read']\n")
    with pytest.raises(InputError, match="hash"):
        KeyStore(path)
    path.write_text("not toml [")
    with pytest.raises(InputError, match="TOML"):
        read_keys(path)
    with pytest.raises(InputError, match="no key named"):
        revoke_key(tmp_path / "other.toml", "x")
