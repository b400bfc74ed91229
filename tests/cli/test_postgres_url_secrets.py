"""A PostgreSQL URL np cannot parse, or a libpq ``key=value`` string given as ``--db``, is one
sentence with no password — on the CLI (NP_DEBUG traceback included) and in np serve's log —
and never becomes an internal error or a file named after the connection string (F0, F17)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import np_command

SECRET = "WrongPW-s3cret"
MALFORMED = [
    f"postgres://pwuser:{SECRET}@[::1/x",  # unclosed IPv6 bracket
    f"postgresql://u:{SECRET}@[zz]/x",  # a bracketed host that is no IP address
    f"postgresql://u:{SECRET}@[::1/x?password={SECRET}",
]


def np(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("NP_DEBUG", "NP_DB")}
    full.update(env)
    return subprocess.run(
        [*np_command(), *args],
        cwd=cwd,
        env=full,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("url", MALFORMED)
def test_redact_and_label_never_raise_and_never_show_the_password(url: str) -> None:
    from store.url import label, redact, redact_text

    assert SECRET not in redact(url) and "***" in redact(url)
    assert SECRET not in label(url)
    assert SECRET not in redact_text(f'error in URI: "{url}" (and {url})')


def test_a_password_with_an_unescaped_slash_is_still_masked() -> None:
    from store.url import label, redact

    url = "postgresql://np:pa/ss@db.example:5433/np"
    assert "pa/ss" not in redact(url) and "ss@" not in redact(url)
    assert label(url) == "db.example:5433/np"


@pytest.mark.parametrize("url", MALFORMED)
@pytest.mark.parametrize("debug", ["", "1"])
def test_a_malformed_url_is_one_storage_error_without_the_password(
    url: str, debug: str, tmp_path: Path
) -> None:
    r = np("--db", url, "p", cwd=tmp_path, **({"NP_DEBUG": debug} if debug else {}))
    assert r.returncode in (2, 3), r.stderr
    assert "internal error" not in r.stderr and "ValueError" not in r.stderr
    assert SECRET not in r.stdout + r.stderr
    if not debug:
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("np: ")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "value",
    [
        f"host=/tmp/pg dbname=postgres user=np password={SECRET}",
        f"  dbname=np password = {SECRET}",
        f"USER=np password={SECRET}",
    ],
)
def test_a_libpq_key_value_string_is_refused_and_makes_no_file(value: str, tmp_path: Path) -> None:
    for args, env in [(("--db", value, "t", "a", "-t", "kv"), {}), (("s",), {"NP_DB": value})]:
        r = np(*args, cwd=tmp_path, **env)
        assert r.returncode == 2, r.stderr
        assert "postgresql://" in r.stderr and "key=value" in r.stderr
        assert SECRET not in r.stdout + r.stderr
        assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("postgresql:/np@/db?host=/tmp/s", "postgresql:// (two slashes)"),  # one slash
        ("postgres:relative", "postgres:// (two slashes)"),
        ("sqlite:///tmp/q.db", "its file path (/tmp/q.db)"),
        ("mysql://x/y", "a mysql: URL"),
    ],
)
@pytest.mark.parametrize("door", ["--db", "NP_DB", "serve", "mcp"])
def test_a_mistyped_database_url_is_refused_and_makes_no_file(
    value: str, says: str, door: str, tmp_path: Path
) -> None:
    """A URL np cannot open never becomes a SQLite file of that name in the working
    directory (where the plans written to it would be lost to everyone reading the real
    database): every door refuses it, saying the fix."""
    if door in ("serve", "mcp"):
        r = np(door, "--db", value, cwd=tmp_path)
        assert r.returncode != 0
    else:
        argv, env = (
            (("--db", value, "t", "a", "-t", "x"), {})
            if door == "--db"
            else (("s",), {"NP_DB": value})
        )
        r = np(*argv, cwd=tmp_path, **env)
        assert r.returncode == 2, r.stderr
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("np: "), r.stderr
    assert says in r.stderr, r.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_blank_np_db_counts_as_unset(tmp_path: Path) -> None:
    home = tmp_path / "home"
    work = tmp_path / "work"
    work.mkdir()
    r = np("s", cwd=work, NP_DB="  ", HOME=str(home), XDG_DATA_HOME="")
    assert r.returncode == 0, r.stderr
    assert (home / ".local" / "share" / "np" / "np.db").exists()
    assert list(work.iterdir()) == []


def test_an_unparsable_file_uri_is_a_usage_error(tmp_path: Path) -> None:
    r = np("--db", "file://[::1/x", "p", cwd=tmp_path)
    assert r.returncode == 2 and "cannot be parsed" in r.stderr, r.stderr
    assert "internal error" not in r.stderr


def test_the_server_log_masks_urls_in_messages_and_tracebacks() -> None:
    from server.logformat import RedactingFormatter

    url = f"postgres://u:{SECRET}@[::1/x"
    try:
        raise ValueError(f'bad URI: "{url}"')
    except ValueError:
        record = logging.LogRecord(
            "np.serve", logging.ERROR, __file__, 1, "failed on %s", (url,), sys.exc_info()
        )
    line = RedactingFormatter().format(record)
    assert "bad URI" in line and "Traceback" in line
    assert SECRET not in line


@pytest.mark.parametrize("door", ["serve", "mcp"])
def test_np_serve_and_np_mcp_logs_hold_no_password(door: str, tmp_path: Path) -> None:
    """The real servers on a malformed URL: whatever they answer and log, never the password."""
    import json

    url = MALFORMED[0]
    if door == "serve":
        msgs = [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}},
            },
            {"jsonrpc": "2.0", "method": "initialized", "params": {}},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "workspace/executeCommand",
                "params": {"command": "np.plan", "arguments": [{}]},
            },
            {"jsonrpc": "2.0", "id": 3, "method": "shutdown"},
            {"jsonrpc": "2.0", "method": "exit"},
        ]
        data = b"".join(
            b"Content-Length: %d\r\n\r\n" % len(body) + body
            for body in (json.dumps(m).encode() for m in msgs)
        )
    else:
        msgs = [
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-03-26",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"},
                },
            },
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
            {
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {"name": "np_plan", "arguments": {}},
            },
        ]
        data = b"".join(json.dumps(m).encode() + b"\n" for m in msgs)
    env = {**os.environ, "NP_DB": url}
    env.pop("NP_DEBUG", None)
    proc = subprocess.run(
        [*np_command(), door], input=data, cwd=tmp_path, env=env, capture_output=True, timeout=60
    )
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert '"id": 2' in out.replace('"id":2', '"id": 2'), (out, err)
    assert SECRET.encode() not in proc.stdout + proc.stderr, (out, err)
    assert "ValueError" not in out + err


def test_the_recorded_command_masks_a_password_holding_a_slash() -> None:
    from server.cli.argv import command_line

    line = command_line(["--db", "postgresql://np:pa/ss@h/db?sslpassword=k3y", "t"])
    assert "pa/ss" not in line and "ss@" not in line and "k3y" not in line
    assert "postgresql://np:***@h/db" in line


@pytest.mark.parametrize(("query", "option"), [("sslmode=bogus", "sslmode"), ("port=abc", "port")])
def test_a_parameter_libpq_refuses_is_named_not_the_network(
    tmp_path: Path, query: str, option: str
) -> None:
    """A URL parameter with a value libpq refuses (before any connection) is said to be
    the URL's, naming the parameter and libpq's reason: not "cannot be reached" (a new
    user's finding). No server is needed: libpq refuses it first."""
    pytest.importorskip("psycopg")
    r = np("--db", f"postgresql://np:s3cret@/np?host=/nonexistent&{query}", "p", cwd=tmp_path)
    assert r.returncode == 3, r.stderr
    assert f"The PostgreSQL URL's {option} is not valid" in r.stderr, r.stderr
    assert "cannot be reached" not in r.stderr and "s3cret" not in r.stderr
