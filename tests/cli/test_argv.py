"""The argv grammar (``server.cli.argv``) in process: pairing, values starting with ``-``,
and the recorded command line (``shlex.quote``, capped)."""

from __future__ import annotations

import shlex

import pytest

from server.cli.argv import CMD_MAX, UsageError, command_line, tokenize


def test_pairs_keep_their_order_and_values_may_start_with_a_dash() -> None:
    p = tokenize(["t", "a", "-t", "one", "-d", "- a bullet", "--json", "-t", "two"])
    assert p.words == ["t", "a"]
    assert p.options == [("title", "one"), ("description", "- a bullet"), ("title", "two")]
    assert p.flags == {"json"}
    with pytest.raises(UsageError, match="needs a value"):
        tokenize(["t", "a", "-t"])
    assert tokenize(["t", "--nope", "-x"]).unknown == ["--nope", "-x"]  # reported by the verb


def test_the_recorded_command_line_round_trips_through_a_shell() -> None:
    argv = ["t", "u", "-i", "#1", "-s", "done", "-r", "it's done; rm -rf /", "-d", "ünï"]
    line = command_line(argv)
    assert line.startswith("np t u -i '#1' ")  # not a shell comment any more
    assert shlex.split(line) == ["np", *argv]
    long = command_line(["t", "a", "-t", "x" * 5000])
    assert len(long) == CMD_MAX and long.endswith("…")
