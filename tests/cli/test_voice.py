"""The CLI's voice: the store's neutral sentence plus the CLI's next step (flags, ``np`` verbs),
never the JSON spelling; ``--json`` errors carry the neutral sentence in ``data.detail``."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import NpRunner


def test_errors_name_flags_and_verbs(run_np: NpRunner, workdir: Path) -> None:
    none = run_np("p")
    assert none.code == 1 and "`np s`" in none.err, none
    assert run_np("s").code == 0
    again = run_np("s")
    assert again.code == 1 and "`np r`" in again.err, again
    added = run_np("t", "a", "-t", "one", "--json").json()
    task = added["added"][0]
    failed = run_np("t", "u", "-i", task, "-s", "failed")
    assert failed.code == 1 and '-r "<why>"' in failed.err, failed
    assert "over JSON" not in failed.err and '"reason" field' not in failed.err
    as_json = run_np("t", "u", "-i", task, "-s", "failed", "--json")
    error = as_json.json()["error"]
    assert error["kind"] == "reason_required" and error["data"]["field"] == "reason"
    assert error["message"].startswith(error["data"]["detail"])
    assert "-r" in error["message"] and "-r" not in error["data"]["detail"]
    missing = run_np("t", "u", "-i", "ffffff", "-s", "completed")
    assert missing.code == 1 and "`np t`" in missing.err, missing


def test_guides_name_cli_verbs(run_np: NpRunner, workdir: Path) -> None:
    start = run_np("s", "--json").json()
    assert 'np g s -t "<title>"' in start["guide"] and "np.goal.set" not in start["guide"]
