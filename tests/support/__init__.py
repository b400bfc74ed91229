"""What every test suite shares to run np as a user does: the command that starts it.

``np_command()`` is the installed ``np`` console script next to this interpreter (what users
run), else ``python -m server.cli``. The CLI, server, monitor and reliability tests all use
this one definition.
"""

from __future__ import annotations

import sys
from pathlib import Path

NP_BIN = Path(sys.executable).parent / "np"


def np_command() -> list[str]:
    """argv that runs np: ``[".venv/bin/np"]`` or ``[python, "-m", "server.cli"]``."""
    if NP_BIN.exists():
        return [str(NP_BIN)]
    return [sys.executable, "-m", "server.cli"]
