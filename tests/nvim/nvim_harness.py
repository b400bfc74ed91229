"""The headless-Neovim runner behind the ``nvim`` fixture (see conftest.py)."""

from __future__ import annotations

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PLUGIN = ROOT / "editors" / "nvim"
NP_BIN = Path(sys.executable).parent / "np"


@dataclass(frozen=True)
class NvimBin:
    """One Neovim executable of the matrix; ``version`` is None when it does not run."""

    path: str
    version: str | None

    @property
    def id(self) -> str:
        return self.version or f"missing:{self.path}"

    @property
    def version_info(self) -> tuple[int, ...]:
        return tuple(int(p) for p in re.findall(r"\d+", self.version or "")[:3])


def _version(path: str) -> str | None:
    try:
        proc = subprocess.run(
            [path, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except OSError:
        return None
    match = re.match(r"NVIM v(\S+)", proc.stdout)
    return match.group(1) if proc.returncode == 0 and match else None


@functools.cache
def matrix() -> tuple[NvimBin, ...]:
    """The Neovim builds to run the suite on, in this order of precedence:

    ``NP_NVIM_MATRIX`` (executables separated by ``:``, as printed by .ci/nvim-matrix.sh),
    ``NP_TEST_NVIM`` (one executable), else ``nvim`` on PATH. Empty when there is none.
    """
    listed = os.environ.get("NP_NVIM_MATRIX")
    if listed is not None:
        paths = [p for p in listed.split(":") if p]
    else:
        one = os.environ.get("NP_TEST_NVIM") or shutil.which("nvim")
        paths = [one] if one else []
    return tuple(NvimBin(p, _version(p)) for p in paths)


def whole_matrix() -> tuple[NvimBin, ...]:
    """Every Neovim of this test run: ``NP_NVIM_MATRIX_WHOLE`` when `make test` splits the
    matrix into halves that run side by side (each half sees only its own NP_NVIM_MATRIX),
    else :func:`matrix`."""
    whole = os.environ.get("NP_NVIM_MATRIX_WHOLE")
    if not whole:
        return matrix()
    return tuple(NvimBin(p, _version(p)) for p in whole.split(":") if p)


def in_ci() -> bool:
    """True when ``CI`` is set (to anything but empty, 0 or false), as CI services do."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require_nvim(nvim_bin: NvimBin | None) -> NvimBin:
    """``nvim_bin`` if it runs; otherwise skip the test, or fail it in CI (``CI`` is set)."""
    if nvim_bin is None:
        reason = "nvim is not installed: the Neovim plugin tests need `nvim` on PATH"
        hint = " (in CI, `make test` installs the Neovim matrix: .ci/nvim-matrix.sh)"
    elif nvim_bin.version is None:
        reason = f"{nvim_bin.path} is not a working Neovim (from NP_NVIM_MATRIX/NP_TEST_NVIM)"
        hint = " (in CI every listed Neovim must run)"
    else:
        return nvim_bin
    if in_ci():
        pytest.fail(reason + hint)
    pytest.skip(reason)


# What a passing run may print on stderr. Headless Neovim prints its messages there: the
# errors raised in scheduled callbacks, autocommands and LSP handlers (which leave its exit
# code at 0) and the odd progress line. Everything but the known progress lines fails the run.
BENIGN = (
    re.compile(r"Running healthchecks\.\.\."),  # 0.7-0.11
    re.compile(r"(checkhealth: .*)"),  # 0.12's progress messages ("checkhealth: checks done")
)


def printed_errors(stderr: str) -> str:
    """The lines of ``stderr`` that are not known, harmless progress messages."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return "\n".join(line for line in lines if not any(b.fullmatch(line) for b in BENIGN))


INIT = HERE / "minimal_init.lua"
PRELUDE = 'local T = require("np_test")\n'


class NvimRun:
    """A finished (or, from ``start``, a running) headless Neovim."""

    def __init__(self, proc: subprocess.Popen[str], out_path: Path, signals: Path) -> None:
        self.proc = proc
        self.out_path = out_path
        self.signals = signals
        self.code: int | None = None
        self.stdout = ""
        self.stderr = ""

    def wait_signal(self, name: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not (self.signals / name).exists():
            if self.proc.poll() is not None:
                self.finish()
                pytest.fail(f"nvim exited before signalling {name!r}:\n{self.stderr}")
            if time.monotonic() > deadline:
                self.proc.kill()
                self.finish()
                pytest.fail(f"nvim never signalled {name!r}:\n{self.stderr}")
            time.sleep(0.02)

    def finish(self, timeout: float = 30) -> NvimRun:
        try:
            self.stdout, self.stderr = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.stdout, self.stderr = self.proc.communicate()
            pytest.fail(f"nvim did not exit within {timeout}s:\n{self.stderr}")
        self.code = self.proc.returncode
        return self

    @property
    def out(self) -> dict[str, Any]:
        if not self.out_path.exists():
            return {}
        data: dict[str, Any] = json.loads(self.out_path.read_text(encoding="utf-8") or "{}")
        return data

    def check(self) -> NvimRun:
        """Fail unless the script passed and Neovim printed no error along the way."""
        if self.code != 0:
            pytest.fail(f"nvim test script failed (exit {self.code}):\n{self.stderr}{self.stdout}")
        errors = printed_errors(self.stderr)
        if errors:
            pytest.fail(f"the script passed, but Neovim printed errors:\n{errors}")
        return self


class Nvim:
    def __init__(self, bin: NvimBin, tmp_path: Path, env: dict[str, str], cwd: Path) -> None:
        self.bin = bin
        self.tmp_path = tmp_path
        self.env = env
        self.cwd = cwd
        self.runs = 0

    def start(self, script: str, *, env: dict[str, str | None] | None = None) -> NvimRun:
        """Start Neovim on ``script`` without waiting for it."""
        self.runs += 1
        base = self.tmp_path / f"nvim-{self.runs}"
        signals = base / "signals"
        signals.mkdir(parents=True)
        script_path = base / "test.lua"
        script_path.write_text(PRELUDE + textwrap.dedent(script), encoding="utf-8")
        out_path = base / "out.json"
        full_env = {
            **self.env,
            "NP_NVIM_PLUGIN": str(PLUGIN),
            "NP_NVIM_TESTS": str(HERE),
            "NP_TEST_SCRIPT": str(script_path),
            "NP_TEST_OUT": str(out_path),
            "NP_TEST_SIGNALS": str(signals),
            "NP_BIN": str(NP_BIN),
            # Keep Neovim's state, cache and logs (lsp.log) inside the test's directory.
            "XDG_CONFIG_HOME": str(base / "config"),
            "XDG_DATA_HOME": str(base / "data"),
            "XDG_STATE_HOME": str(base / "state"),
            "XDG_CACHE_HOME": str(base / "cache"),
        }
        for key, value in (env or {}).items():
            if value is None:
                full_env.pop(key, None)
            else:
                full_env[key] = value
        proc = subprocess.Popen(
            [self.bin.path, "--headless", "--clean", "-n", "-i", "NONE", "-u", str(INIT)],
            cwd=str(self.cwd),
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        return NvimRun(proc, out_path, signals)

    def __call__(self, script: str, *, env: dict[str, str | None] | None = None) -> NvimRun:
        """Run ``script`` to the end and fail the test unless it passed."""
        return self.start(script, env=env).finish().check()
