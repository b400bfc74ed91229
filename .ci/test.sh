#!/usr/bin/env bash
# `make test`: everything the project checks, in an order that fails early, then one summary.
#
#  1. prerequisites, before any long run: the venv (make setup), the npm packages (reused while
#     their lock files are unchanged), the Neovim releases of the matrix (.ci/nvim-matrix.sh)
#     and the real VS Code (code-server, Chromium: scripts/real-host/setup.sh; np web's browser
#     tests in pytest use the same Chromium). Outside CI a
#     Neovim release that cannot be had is one line "Neovim 0.8.3: not tested — <why>", repeated
#     in the summary; in CI (CI=true) or with ../shared beside the clone every one is required.
#  2. lint (ruff, mypy --strict, import contracts) beside the VS Code extension's checks, Node
#     tests and .vsix (make editors-test): the two are independent.
#  3. pytest (all but tests/nvim and tests/hosts), spread over PYTEST_WORKERS processes
#     (pytest-xdist), then the Neovim plugin's suite on every release of the matrix (make
#     nvim-matrix), the releases in two halves side by side: independent processes on their
#     own temporary folders, which keep both cores busy while each waits on its subprocesses.
#     No test is ever run again: a test that fails once is a race to find.
#  4. the extension in a real VS Code (make vscode-real) beside np inside the real agent hosts
#     (make hosts; .ci/hosts.sh installs them in step 1; outside CI a host that cannot be
#     installed is one line "Agent host X: not tested — <why>").
#
#  5. the repository is as the checks found it: no test left a file in it.
#
# Stages run side by side write to a log each; it is printed in full when the stage ends
# (nothing is hidden). The summary names each stage, its result, its counts and its time, what
# was not covered and why, and ends with one total line "N passed, N failed, N skipped".
# Exit code 0 only when every stage passed.
set -uo pipefail
cd "$(dirname "$0")/.."
MAKE=${MAKE:-make}
STATE=$(mktemp -d "${TMPDIR:-/tmp}/np-test.XXXXXX")
trap 'rm -rf "$STATE"' EXIT
T0=$SECONDS
summary=() # one line per stage
notes=()   # what was not covered
failed=0
total_pass=0 total_fail=0 total_skip=0

say() { printf '\n== %s\n' "$*"; }

# num WORD LINE: the number before WORD in LINE ("842 passed"), else 0.
num() { grep -oE "[0-9]+ $1" <<<"$2" | head -1 | cut -d' ' -f1 | grep . || echo 0; }

# counts LOG KIND: "passed failed skipped" from a stage's log.
counts() {
  local log=$1 kind=$2 line p=0 f=0 s=0
  case $kind in
    pytest)
      line=$(grep -E '^=+ .*(passed|failed|error|skipped|no tests ran).* in [0-9.]+s' "$log" | tail -1)
      p=$(num passed "$line") s=$(num skipped "$line")
      f=$(($(num failed "$line") + $(num 'errors?' "$line")))
      ;;
    node) # node --test's spec reporter: "ℹ pass 61", "ℹ fail 0", "ℹ skipped 0"
      p=$(grep -oE '^ℹ pass [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
      f=$(grep -oE '^ℹ fail [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
      s=$(grep -oE '^ℹ (skipped|todo) [0-9]+' "$log" | awk '{s+=$3} END {print s+0}')
      ;;
    plain) # "N passed, N failed" (the in-host suite)
      line=$(grep -E '^ *[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
      p=$(num passed "$line") f=$(num failed "$line")
      ;;
  esac
  echo "${p:-0} ${f:-0} ${s:-0}"
}

# finish NAME KIND RC LOG START: record one stage's result in the summary.
finish() {
  local name=$1 kind=$2 rc=$3 log=$4 start=$5 p f s what
  read -r p f s < <(counts "$log" "$kind")
  total_pass=$((total_pass + p)) total_fail=$((total_fail + f)) total_skip=$((total_skip + s))
  what=""
  [ "$kind" = none ] || what=" — $p passed, $f failed, $s skipped"
  [ "$kind" = none ] || [ "$p$f" != 00 ] || what=" — no test result found in its output"
  if [ "$rc" = 0 ]; then
    summary+=("$(printf '%-14s passed%s (%ds)' "$name" "$what" $((SECONDS - start)))")
  else
    failed=1
    summary+=("$(printf '%-14s FAILED (exit %s)%s (%ds)' "$name" "$rc" "$what" $((SECONDS - start)))")
  fi
}

# run NAME KIND CMD...: one stage in the foreground, its output shown as it comes.
run() {
  local name=$1 kind=$2 start=$SECONDS rc
  shift 2
  say "$name: $*"
  "$@" 2>&1 | tee "$STATE/$name.log"
  rc=${PIPESTATUS[0]}
  finish "$name" "$kind" "$rc" "$STATE/$name.log" "$start"
  return "$rc"
}

# together "NAME KIND CMD" "NAME KIND CMD": stages side by side, each log printed when it ends.
together() {
  local start=$SECONDS spec name kind cmd pids=() names=() kinds=() i rc
  for spec in "$@"; do
    read -r name kind cmd <<<"$spec"
    say "$name: $cmd (side by side; its output follows when it ends)"
    bash -c "$cmd" >"$STATE/$name.log" 2>&1 &
    pids+=($!) names+=("$name") kinds+=("$kind")
  done
  for i in "${!pids[@]}"; do
    wait "${pids[$i]}"
    rc=$?
    say "${names[$i]}: output"
    cat "$STATE/${names[$i]}.log"
    finish "${names[$i]}" "${kinds[$i]}" "$rc" "$STATE/${names[$i]}.log" "$start"
  done
}

report() {
  say "summary (make test, $((SECONDS - T0))s)"
  printf '%s\n' "${summary[@]}"
  [ ${#notes[@]} -eq 0 ] || printf 'not covered: %s\n' "${notes[@]}"
  echo "total: $total_pass passed, $total_fail failed, $total_skip skipped"
}

# 1. prerequisites ---------------------------------------------------------------------------
start=$SECONDS
say "prerequisites: venv, npm packages, Neovim matrix, real VS Code"
prereq_rc=0
$MAKE --no-print-directory setup bytecode nvim node-deps || prereq_rc=$?
if [ -z "${NP_NVIM_MATRIX:-}" ] && [ "$prereq_rc" = 0 ]; then
  : >"$STATE/not-tested"
  NP_NVIM_MATRIX=$(NP_NVIM_NOT_TESTED=$STATE/not-tested .ci/nvim-matrix.sh ${NVIM_RELEASES:-}) || prereq_rc=$?
  while IFS= read -r line; do notes+=("$line"); done <"$STATE/not-tested"
fi
export NP_NVIM_MATRIX
if [ -z "${NP_HOSTS:-}" ] && [ "$prereq_rc" = 0 ]; then
  : >"$STATE/hosts-not-tested"
  NP_HOSTS=$(NP_HOSTS_NOT_TESTED=$STATE/hosts-not-tested .ci/hosts.sh) || prereq_rc=$?
  while IFS= read -r line; do notes+=("$line"); done <"$STATE/hosts-not-tested"
fi
export NP_HOSTS
if [ "$prereq_rc" = 0 ]; then
  (cd editors/vscode && scripts/real-host/setup.sh >/dev/null) || prereq_rc=$?
fi
if [ "$prereq_rc" != 0 ]; then
  summary+=("$(printf '%-14s FAILED (exit %s): nothing else ran' prerequisites "$prereq_rc")")
  report
  exit 1
fi
summary+=("$(printf '%-14s ready (%ds); Neovim: %s' prerequisites $((SECONDS - start)) \
  "$(for b in ${NP_NVIM_MATRIX//:/ }; do "$b" --version | head -1 | sed 's/^NVIM v//'; done | paste -sd' ')")")

# What is in the working tree before the checks: a file a test leaves in the repository (a
# database named after a mistyped URL, an output written to the wrong folder) fails the run.
left_before=$(git status --porcelain --untracked-files=all 2>/dev/null | sort)

# 2-4. the checks ----------------------------------------------------------------------------
M="$MAKE --no-print-directory"
together "lint none $M lint" "editors node $M editors-test"
# Each half sees its own NP_NVIM_MATRIX; the whole run's range is checked against this one.
export NP_NVIM_MATRIX_WHOLE="$NP_NVIM_MATRIX"
IFS=: read -r -a bins <<<"$NP_NVIM_MATRIX"
half=$(((${#bins[@]} + 1) / 2))
first=$(IFS=:; echo "${bins[*]:0:half}")
second=$(IFS=:; echo "${bins[*]:half}")
# pytest (its own PYTEST_WORKERS processes, which use the machine's cores), then the two
# Neovim halves side by side.
together "pytest pytest $M pytest"
if [ -n "$second" ]; then
  together "neovim-1 pytest NP_NVIM_MATRIX=$(printf %q "$first") $M nvim-matrix" \
    "neovim-2 pytest NP_NVIM_MATRIX=$(printf %q "$second") $M nvim-matrix"
else
  together "neovim pytest $M nvim-matrix"
fi
# The real VS Code beside the real agent hosts: each its own processes, ports and folders.
together "vscode-real plain $M vscode-real" "agent-hosts pytest $M hosts"
left=$(comm -13 <(printf '%s\n' "$left_before") <(git status --porcelain --untracked-files=all 2>/dev/null | sort) | grep .)
if [ -n "$left" ]; then
  failed=1
  summary+=("$(printf '%-14s FAILED: the tests left files in the repository:' clean-tree)")
  while IFS= read -r line; do summary+=("  $line"); done <<<"$left"
fi
report
exit "$failed"
