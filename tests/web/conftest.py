"""``np web`` driven in a real browser: Debian's Chromium through Playwright's Python API
(``executable_path``: nothing is downloaded), against a real ``np web`` process on a real
database of either engine (``np_db``)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import np_command

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
URL_LINE = re.compile(r"(http://\S+):(\d+)/\?token=(\S+)")


def _required() -> bool:
    return os.environ.get("CI") == "true" or os.environ.get("NP_REQUIRE_BROWSER") == "1"


class WebServer:
    """A running ``np web``: its address, token, process and what it wrote to stderr."""

    def __init__(self, db: str, cwd: Path, *extra: str, env: dict[str, str] | None = None):
        self.db = db
        self.env = {**os.environ, "NP_DB": db, **(env or {})}
        self.env.pop("NP_ACTOR", None)
        self.proc = subprocess.Popen(
            [*np_command(), "web", *([] if "--port" in extra else ["--port", "0"]), *extra],
            cwd=str(cwd),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.stdout = ""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.stdout += line
            found = URL_LINE.search(line)
            if found:
                self.origin = f"{found[1]}:{found[2]}"
                self.port = int(found[2])
                self.token = found[3]
                break
        else:
            raise AssertionError(f"np web printed no address: {self.stdout!r} {self.stop()!r}")
        self.link = f"{self.origin}/?token={self.token}"
        self.err_lines: list[str] = []
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.err_lines.append(line)

    def stop(self) -> str:
        """SIGINT (as Ctrl-C), wait, and return everything it wrote to stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if hasattr(self, "_reader"):
            self._reader.join(timeout=5)
        return "".join(getattr(self, "err_lines", []))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    d = tmp_path / "project"
    d.mkdir()
    return d


@pytest.fixture
def np_cli(np_db: str, project: Path) -> Any:
    """Run the real ``np`` CLI on the test's database (as an agent in ``project``)."""

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "NP_DB": np_db}
        env.pop("NP_ACTOR", None)
        proc = subprocess.run(
            [*np_command(), *args],
            cwd=str(project),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        if check:
            assert proc.returncode == 0, proc
        return proc

    return run


@pytest.fixture
def web(np_db: str, project: Path) -> Iterator[WebServer]:
    server = WebServer(np_db, project)
    yield server
    err = server.stop()
    assert server.proc.returncode == 0, err
    assert server.token not in err  # the token is never in the log


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module. Not per run: Playwright's sync API runs an event loop
    of its own while it is open, and the asyncio tests of other suites need none running."""
    if not os.path.exists(CHROMIUM):
        if _required():
            pytest.fail(f"Chromium is required here (CI) but {CHROMIUM} is missing")
        pytest.skip("no Chromium: apt-get install chromium (make test does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if _required():
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1100, "height": 900})
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()
