"""Fixtures for the ``np serve`` tests.

Starting ``np serve`` costs about a second (lsprotocol's import), so most tests share one
server per module and keep apart by acting in their own project directory (sessions are
keyed by directory). Tests that need a server of their own start one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from serve_support import Shared, start_client


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shared(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Shared]:
    base = tmp_path_factory.mktemp("serve")
    db = base / "np.db"
    client = await start_client(db)
    yield Shared(client, db, base)
    await client.close()
    assert client.returncode == 0


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "project"
    d.mkdir()
    return d
