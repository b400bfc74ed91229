#!/usr/bin/env bash
# The real agent hosts np is tested inside (tests/hosts): installs each pinned release from npm
# (once; cached outside the repository) and prints the names of the usable ones, space-separated,
# for NP_HOSTS.
#
#   .ci/hosts.sh                  all: claude codex gemini opencode qwen cline
#   .ci/hosts.sh claude codex     just those
#   NP_HOSTS="$(.ci/hosts.sh)" .venv/bin/python -m pytest -s tests/hosts
#
# Cache: ${NP_HOSTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/np-ci/hosts}/<host>/ (npm --prefix).
# The versions are pinned here and in tests/hosts/agent_hosts.py (a test holds them equal).
# Progress goes to stderr; stdout is only the list.
#
# Required or not: in CI (CI set) or with NP_HOSTS_REQUIRED=1, every host is required: one that
# cannot be installed fails the script (exit 1) with the reason. Elsewhere such a host is left
# out with one line on stderr,
#   Agent host opencode: not tested — <why>
# also appended to the file NP_HOSTS_NOT_TESTED names (make test's summary reads it).
set -euo pipefail
cache=${NP_HOSTS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/np-ci/hosts}
declare -A PKG=(
  [claude]=@anthropic-ai/claude-code@2.1.332
  [codex]=@openai/codex@0.171.0
  [gemini]=@google/gemini-cli@0.61.0
  [opencode]=opencode-ai@1.18.33
  [qwen]=@qwen-code/qwen-code@0.15.10
  [cline]=cline@3.0.65
)
ALL=(claude codex gemini opencode qwen cline)
say() { echo "hosts: $*" >&2; }
truthy() { case ${1,,} in "" | 0 | false | no) return 1 ;; *) return 0 ;; esac; }
required=0
if truthy "${NP_HOSTS_REQUIRED:-}" || truthy "${CI:-}"; then required=1; fi

[ $# -gt 0 ] || set -- "${ALL[@]}"
usable=()
for host in "$@"; do
  spec=${PKG[$host]:-}
  dir=$cache/$host
  bin=$dir/node_modules/.bin/$host
  why=""
  if [ -z "$spec" ]; then
    why="unknown host (known: ${ALL[*]})"
  elif ! command -v npm >/dev/null 2>&1; then
    why="npm is not installed"
  elif [ "$(cat "$dir/.np-ok" 2>/dev/null)" != "$spec" ] || [ ! -x "$bin" ]; then
    say "installing $spec into $dir (once)"
    mkdir -p "$dir"
    if ! (cd "$dir" && timeout 900 npm install --no-audit --no-fund --loglevel=error \
      --prefix . "$spec" >install.log 2>&1); then
      why="npm install $spec failed: $(grep -m1 -iE 'err|error' "$dir/install.log" || tail -1 "$dir/install.log")"
    fi
  fi
  if [ -z "$why" ] && ! timeout 120 "$bin" --version >/dev/null 2>&1 </dev/null; then
    why="$bin --version does not run (see $dir/install.log)"
  fi
  if [ -z "$why" ]; then
    echo "$spec" >"$dir/.np-ok"
    usable+=("$host")
    continue
  fi
  if [ "$required" = 1 ]; then
    say "ERROR: $host: $why"
    exit 1
  fi
  line="Agent host $host: not tested — $why"
  echo "$line" >&2
  [ -z "${NP_HOSTS_NOT_TESTED:-}" ] || echo "$line" >>"$NP_HOSTS_NOT_TESTED"
done
echo "${usable[*]}"
