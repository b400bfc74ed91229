"""How to add one of np's optional extras (``mcp``, ``postgres``, ``web``) to np as it is
installed: ``pipx inject`` into np's own pipx environment, else pip in the environment np
runs in. The packages and their bounds come from np's installed metadata (pyproject.toml),
so the command is the one for this install. Stdlib only; used on the error path only."""

from __future__ import annotations

import os
import shlex
import sys


def _requirements(extra: str) -> list[str]:
    """The requirements of ``extra`` as np's metadata lists them (empty if unknown)."""
    from importlib import metadata

    try:
        requires = metadata.requires("nasin-pali") or []
    except metadata.PackageNotFoundError:
        return []
    found = []
    for line in requires:
        spec, _, marker = line.partition(";")
        if marker.replace(" ", "").replace("'", '"') == f'extra=="{extra}"':
            found.append(spec.strip())
    return found


def in_pipx() -> bool:
    """Whether np runs from an environment pipx made (``…/pipx/venvs/NAME``)."""
    return f"{os.sep}pipx{os.sep}venvs{os.sep}" in sys.prefix + os.sep


def install_hint(extra: str) -> str:
    """The command that adds ``extra`` to this np, as a sentence's end (no final period)."""
    if in_pipx():
        packages = " ".join(shlex.quote(r) for r in _requirements(extra)) or extra
        return (
            f"pipx inject nasin-pali {packages} (or, from np's checkout, "
            f"pipx install --force '.[{extra}]' with the other extras you use)"
        )
    return (
        f"pip install '.[{extra}]' from np's checkout, with the pip of the environment np "
        f"runs in ({shlex.quote(sys.executable)} -m pip)"
    )
