"""The CLI starts the other doors by module name (``server.cli.PROGRAMS``), so import-linter
cannot see those edges: this checks every entry still resolves to a function that takes what
``server.cli`` passes it."""

from __future__ import annotations

import inspect

import pytest

from server.cli import PROGRAMS, program

# What server.cli._run_program passes each program, positionally.
ARITY = {
    "serve": 3,
    "monitor": 3,
    "doctor": 2,
    "backup": 3,
    "db-migrate": 2,
    "db-copy": 3,
    "mcp": 3,
    "web": 4,
    "hooks": 3,
    "bridge": 2,
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_entry_resolves(name: str) -> None:
    module, function = PROGRAMS[name]
    entry = program(name)
    assert callable(entry), (module, function)
    expected = ARITY[name]
    if expected is not None:
        params = [
            p
            for p in inspect.signature(entry).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        required = [p for p in params if p.default is p.empty]
        assert len(required) <= expected <= len(params), (name, inspect.signature(entry))
