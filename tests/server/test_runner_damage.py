"""The runner shared by np serve and np mcp: a change that committed and then met a damaged
file while its result was read back is told as a storage error that says it was committed
(never "saved", never an internal error); any other failure after a commit stays "saved"."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from server.commands.runner import Runner, SavedButFailed
from store import StorageError, Store


def _commit_then(directory: Path, error: Exception):  # type: ignore[no-untyped-def]
    directory.mkdir()

    def fn(store: Store) -> None:
        with store.transaction("test", "tester") as unit:
            unit.start_session(str(directory))
        raise error

    return fn


def test_damage_after_a_commit_is_a_storage_error_that_says_committed(tmp_path: Path) -> None:
    runner = Runner(str(tmp_path / "np.db"))
    damaged = StorageError("damaged", field="db", cause="corrupt")
    try:
        with pytest.raises(StorageError) as caught:
            asyncio.run(runner.run(True, _commit_then(tmp_path / "a", damaged)))
        assert caught.value.data["committed"] is True
        assert "committed" in caught.value.message and "damaged" in caught.value.message
        with pytest.raises(SavedButFailed):
            asyncio.run(runner.run(True, _commit_then(tmp_path / "b", KeyError("x"))))
    finally:
        runner.close()
