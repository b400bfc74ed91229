"""The verb table is the one source of usage: ``np --help``, ``np help [COMMAND]``, per-command
``--help`` and the README's command tables all agree with ``server.cli.verbs``."""

from __future__ import annotations

import re
from pathlib import Path

from server.cli.verbs import ORDER, VERBS
from tests.conftest import NpRunner

ROOT = Path(__file__).resolve().parent.parent.parent


def readme_commands() -> list[str]:
    """First-column entries of the README's ``| command | does |`` tables."""
    found: list[str] = []
    in_table = False
    for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| command | does |"):
            in_table = True
            continue
        if in_table and not line.startswith("|"):
            in_table = False
        if in_table and not line.startswith("|---"):
            first = re.split(r"(?<!\\)\|", line)[1].strip()
            if first.startswith("`np"):  # the Neovim plugin's table lists :Np… commands
                found.append(first.strip("`").replace("\\|", "|"))
    return found


def test_readme_tables_match_the_verb_table() -> None:
    readme = readme_commands()
    usages = [v.usage for v in ORDER]
    assert sorted(readme) == sorted(usages), (
        f"README only: {sorted(set(readme) - set(usages))}; "
        f"verb table only: {sorted(set(usages) - set(readme))}"
    )


def test_help_lists_every_verb(run_np: NpRunner) -> None:
    out = run_np("--help")
    assert out.code == 0
    for v in ORDER:
        assert v.usage in out.out, v.usage
        assert v.summary.split(" (never")[0] in out.out, v.summary
    assert run_np("help").out == out.out
    bare = run_np()
    assert bare.code == 2 and bare.err == out.out


def test_per_command_help_comes_from_the_table(run_np: NpRunner) -> None:
    for path, v in VERBS.items():
        if path == ("help",):
            continue
        shown = run_np(*path, "--help")
        assert shown.code == 0, shown
        assert shown.out.startswith(f"Usage: {v.usage}\n"), (path, shown.out)
        assert run_np("help", *path).out == shown.out
    unknown = run_np("help", "zz")
    assert unknown.code == 2 and "np --help" in unknown.err


def test_help_on_a_command_lists_the_commands_below_it(run_np: NpRunner) -> None:
    """Issue 18: `np help t` did not list `t a`, `t u`, `t e` (nor `np help g` its two)."""
    for path, below in {
        ("t",): ["t a", "t u", "t e"],
        ("task",): ["t a", "t u", "t e"],
        ("g",): ["g s", "g u"],
        ("db",): ["db migrate", "db copy"],
    }.items():
        out = run_np("help", *path)
        assert out.code == 0, out
        for sub in below:
            v = VERBS[tuple(sub.split())]
            assert re.search(rf"^  {re.escape(v.usage)} +{re.escape(v.summary)}$", out.out, re.M)
        assert run_np(*path, "--help").out == out.out
    assert "Its commands" not in run_np("help", "t", "a").out  # a leaf: its usage only
    group = run_np("db")
    assert group.code == 2
    assert group.err == "np: np db needs one more word; try: np db migrate, np db copy.\n"
    wrong = run_np("db", "frob")
    assert wrong.code == 2 and "try: np db migrate, np db copy." in wrong.err


def _readme() -> str:
    return (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_prompt_snippet_is_what_np_prompt_prints(run_np: NpRunner) -> None:
    text = _readme()
    start = text.index("Paste the output of `np prompt`")
    snippet = text[text.index("```markdown\n", start) + len("```markdown\n") :]
    snippet = snippet[: snippet.index("```")]
    assert snippet == run_np("prompt").out


def test_readme_json_rpc_table_lists_every_command_np_serve_advertises() -> None:
    """np serve advertises every command of the table (``executeCommandProvider``); the
    README's JSON-RPC table names each once, and says no count that could go stale."""
    from server.commands import COMMANDS

    text = _readme()
    table = text[text.index("| command | argument | result |") :]
    table = table[: table.index("\n\n")]
    names = re.findall(r"^\| `(np\.[a-z.]+)` \|", table, re.M)
    assert sorted(names) == sorted(COMMANDS)
    for stale in ("All fifteen", "seven tools", "FIGURES"):
        assert stale not in text
