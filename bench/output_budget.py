"""How many bytes an agent reads: the whole CLI output of a 5-task agent flow.

The flow (``FLOW``): start, set the goal, add five tasks, move every task through its
statuses (in progress, then completed, failed or cancelled; several changes per call, as the
guides teach), one question to the operator and its answer (issue 23: the answer arrives in
the agent's next output), one task edit, one goal change, resume. Every command runs as a
real ``np`` subprocess and its stdout and stderr are counted in UTF-8 bytes. Target: under
5 kB.

Baseline in the same run: the same flow where one open task carries a 19,500-character
description (the case that used to reprint 19.7 kB after every ``np t u``): bounded output
keeps it near the plain flow. Also reported: ``np t -i ID`` on that task, which shows it
whole.

    python -m bench.output_budget      prints every output and the totals
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import Profile, Row, np_command, np_env

TARGET_BYTES = 5000
LONG_DESCRIPTION = 19_500

GOAL = (
    "Add CSV export to the orders report",
    "Issue #42. Touches reports/views.py and reports/export.py; keep the PDF export as is.",
)
TASKS = [
    ("Read the report views and the PDF exporter", "reports/views.py, reports/export.py"),
    ("Write the CSV serializer", "reports/csv.py; reuse the PDF exporter's row iterator"),
    ("Stream large reports", "StreamingHttpResponse for more than 10k rows"),
    ("Add the Download CSV button", "templates/reports/orders.html"),
    ("Support .xlsx", "only if the operator asks"),
]


ANSWER = ["--actor", "ana", "q", "a", "-i", "{b}", "-a", "excel"]


def flow(ids: list[str]) -> list[list[str]]:
    """The commands after ``np s``, ``np g s`` and ``np t a`` (which give the ids)."""
    a, b, c, d, e = ids
    return [
        ["t", "u", "-i", a, "-s", "in_progress"],
        ["t", "u", "-i", a, "-s", "completed", "-i", b, "-s", "in_progress"],
        ["t", "q", "-i", b, "-q", "CSV dialect?", "-o", "excel", "-o", "rfc4180"],
        ANSWER,  # the operator answers (not the agent's output): "excel"
        ["t", "u", "-i", b, "-s", "completed", "-i", c, "-s", "in_progress"],
        ["t", "u", "-i", c, "-s", "failed", "-r", "the auth middleware breaks streaming",
         "-i", d, "-s", "in_progress"],
        ["t", "e", "-i", d, "-d", "templates/reports/orders.html and its view test",
         "-r", "the view test needs the button too"],
        ["t", "u", "-i", d, "-s", "completed", "-i", e, "-s", "cancelled",
         "-r", "the operator said CSV is enough"],
        ["g", "u", "-d", GOAL[1] + " Streaming is out of scope.", "-r", "the operator narrowed it"],
        ["r"],
    ]  # fmt: skip


def run_flow(workdir: Path, db: Path, long_description: bool) -> list[tuple[str, int, str]]:
    """Run the flow; return ``(command line, bytes printed, text)`` per command."""
    env = np_env(db)
    env.pop("NP_ACTOR", None)
    outputs: list[tuple[str, int, str]] = []

    def np(*args: str) -> str:
        proc = subprocess.run(
            [*np_command(), *args],
            cwd=workdir,
            env=env,
            capture_output=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"np {' '.join(args)} failed: {proc.stderr.decode()[:300]}")
        text = (proc.stdout + proc.stderr).decode("utf-8")
        outputs.append(("np " + " ".join(args), len(proc.stdout) + len(proc.stderr), text))
        return proc.stdout.decode("utf-8")

    np("s")
    np("g", "s", "-t", GOAL[0], "-d", GOAL[1])
    add: list[str] = []
    for n, (title, short) in enumerate(TASKS):
        text = short
        if long_description and n == 4:  # open until the last status change
            text = ((short + " — ") * (LONG_DESCRIPTION // (len(short) + 3)))[:LONG_DESCRIPTION]
        add += ["-t", title, "-d", text]
    np("t", "a", *add)
    listed = subprocess.run(
        [*np_command(), "t", "--json"], cwd=workdir, env=env, capture_output=True, check=True
    )
    ids = [t["id"] for t in json.loads(listed.stdout)["tasks"]]
    for args in flow(ids):
        if args is ANSWER:  # the operator's, between two agent commands: not counted
            answer = [ids[1] if a == "{b}" else a for a in args]
            subprocess.run([*np_command(), *answer], cwd=workdir, env=env, check=True,
                           capture_output=True)  # fmt: skip
            continue
        np(*args)
    if long_description:
        np("t", "-i", ids[4])
    return outputs


def measure(profile: Profile) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="np-bench-output-") as tmp:
        base = Path(tmp)
        plain_dir, long_dir = base / "plain", base / "long"
        plain_dir.mkdir()
        long_dir.mkdir()
        plain = run_flow(plain_dir, base / "np.db", long_description=False)
        long = run_flow(long_dir, base / "np.db", long_description=True)
    whole = long[-1]
    long = long[:-1]
    total = sum(n for _, n, _ in plain)
    long_total = sum(n for _, n, _ in long)
    biggest = max(plain, key=lambda o: o[1])
    return [
        Row(
            f"5-task agent flow: all CLI output ({len(plain)} commands)",
            total,
            "bytes",
            baseline_name=f"same flow, one open task with a {LONG_DESCRIPTION:,}-char description",
            baseline=long_total,
            target=f"< {TARGET_BYTES:,} bytes",
            ratio=long_total / total,
            ok=total < TARGET_BYTES,
            notes=[
                f"largest single output: `{biggest[0][:40]}…` {biggest[1]:,} bytes; "
                "per command: " + ", ".join(f"{n:,}" for _, n, _ in plain),
                f"`np t -i ID` on the long task shows it whole: {whole[1]:,} bytes",
            ],
        )
    ]


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="np-bench-output-") as tmp:
        base = Path(tmp)
        (base / "p").mkdir()
        outputs = run_flow(base / "p", base / "np.db", long_description=False)
    for line, n, text in outputs:
        print(f"$ {line}    # {n} bytes\n{text}")
    print(f"total: {sum(n for _, n, _ in outputs):,} bytes over {len(outputs)} commands")
    return 0


if __name__ == "__main__":
    sys.exit(main())
