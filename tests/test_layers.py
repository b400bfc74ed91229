"""The layer contracts hold (import-linter, as in ``make lint``), and they do catch a breach.

Contracts live in pyproject.toml ``[tool.importlinter]``: store below server, no protocol
library in store, the command table and text below every front door, the doors independent,
``np serve`` wiring above protocol above transport, the schema runner above its migrations;
and the engine seam: the store's core names no engine and no driver, the two engines never
import each other, and ``server/`` imports no engine package.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT = Path(sys.executable).parent / "lint-imports"


def _lint(cwd: Path, *config: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-cache", *config],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(cwd), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_the_layer_contracts_hold() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" in result.stdout and " 0 broken" in result.stdout


def _copy_tree(tmp_path: Path) -> None:
    for package in ("store", "server"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")


def _append(path: Path, line: str) -> None:
    with path.open("a") as fh:
        fh.write(f"\n{line}  # a breach\n")


def test_a_breach_of_the_engine_seam_is_caught(tmp_path: Path) -> None:
    """A copy of the tree where the core imports the SQLite engine and a driver, one
    engine imports the other, and a door imports an engine: each contract says BROKEN
    and names the import."""
    _copy_tree(tmp_path)
    _append(tmp_path / "store" / "unit.py", "import store.sqlite.conn")
    _append(tmp_path / "store" / "queries.py", "import psycopg")
    _append(tmp_path / "store" / "postgres" / "feed.py", "import store.sqlite.feed")
    _append(tmp_path / "server" / "cli" / "verbs.py", "import store.postgres.url_free")
    (tmp_path / "store" / "postgres" / "url_free.py").write_text("")
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    out = result.stdout
    assert "the store's core names no engine and no driver BROKEN" in out
    assert "store.unit -> store.sqlite.conn" in out
    assert "store.queries -> psycopg" in out
    assert "the engines do not import each other BROKEN" in out
    assert "store.postgres.feed -> store.sqlite.feed" in out
    assert "server/ imports the store's surface, never an engine package or a driver BROKEN" in out
    assert "server.cli.verbs -> store.postgres.url_free" in out


def test_a_breach_is_caught(tmp_path: Path) -> None:
    """A copy of the tree where the CLI imports the LSP door and the store imports the
    command table: lint-imports must fail and name both contracts."""
    for package in ("store", "server"):
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    with (tmp_path / "server" / "cli" / "argv.py").open("a") as fh:
        fh.write("\nimport server.lsp.server  # a breach\n")
    with (tmp_path / "store" / "types.py").open("a") as fh:
        fh.write(textwrap.dedent("\nimport server.commands  # a breach\n"))
    result = _lint(tmp_path)
    assert result.returncode != 0, result.stdout
    assert "store never imports server BROKEN" in result.stdout
    assert "front doors do not import each other" in result.stdout
    assert "server.cli.argv -> server.lsp.server" in result.stdout
