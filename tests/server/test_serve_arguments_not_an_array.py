"""``workspace/executeCommand`` with ``arguments`` that are not an array (a string, an
object, a number) is told that its argument goes in an array, naming the field, and nothing
is run: a string was taken character by character ("np.plan takes one JSON object
argument; 8 were given", the new user's finding)."""

from __future__ import annotations

from pathlib import Path

from serve_support import RawServer, server_env


def test_arguments_that_are_not_an_array_are_told_so(db_path: Path, workdir: Path) -> None:
    with RawServer(server_env(db_path), workdir) as server:
        server.initialize(workdir)
        for given in ("notalist", {"dir": str(workdir)}, 7):
            reply = server.request(
                "workspace/executeCommand", {"command": "np.session.start", "arguments": given}
            )
            error = reply["error"]
            assert "in an array" in error["message"] and "were given" not in error["message"]
            assert error["data"]["field"] == "arguments", error
        listed = server.command("np.session.list", {})
        assert listed["result"]["sessions"] == [], listed  # nothing was started
