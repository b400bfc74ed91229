"""The floor for ``np serve``: a bare pygls server with one command, ``bench.write``, that
does one tiny ``BEGIN IMMEDIATE`` insert into a SQLite file (WAL, synchronous=NORMAL) and
returns a small object. Everything np adds on top — argument validation, the command
table, the unit of work, the plan it returns — is what the throughput ratio measures.

    python bench/bare_server.py DB
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Any

from pygls.lsp.server import LanguageServer


def main() -> int:
    db = sys.argv[1]
    conn = sqlite3.connect(db, isolation_level=None, timeout=5.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE IF NOT EXISTS bench (id INTEGER PRIMARY KEY, at REAL, note TEXT)")
    server = LanguageServer("bare-bench", "1.0")

    @server.command("bench.write")
    def write(*args: Any) -> dict[str, Any]:
        conn.execute("BEGIN IMMEDIATE")
        cur = conn.execute("INSERT INTO bench (at, note) VALUES (julianday('now'), ?)", ("x",))
        conn.execute("COMMIT")
        return {"id": cur.lastrowid}

    out = sys.stdout.buffer
    sys.stdout = sys.stderr
    server.start_io(sys.stdin.buffer, out)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
