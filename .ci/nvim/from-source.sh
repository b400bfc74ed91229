#!/usr/bin/env bash
# Build Neovim 0.8.x or 0.9.x on Debian 12 from an upstream source tarball (no registry ships
# these versions; the tarball has to come with the repository or shared/). Everything the
# build needs comes from Debian: bookworm's libraries, plus libvterm 0.3 (trixie's static
# library) and, for 0.9, tree-sitter >= 0.20.8 (trixie's source, built as a static library).
# The bundled-deps build (cmake.deps) is not used: it downloads from outside.
# Adapted from shared/vendor/neovim/nvim-from-source.sh: waits for the dpkg lock (other jobs may
# be installing), uses sudo when not root, installs into DEST only when the build succeeded.
# Usage: from-source.sh neovim-0.9.5.tar.gz DEST      -> DEST/bin/nvim
set -euo pipefail
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
LOCK=(-o DPkg::Lock::Timeout=600)
tarball=$(realpath "$1")
dest=$(realpath -m "$2")
work=$dest.build
rm -rf "$work"
mkdir -p "$work"
$SUDO apt-get "${LOCK[@]}" update -qq
$SUDO apt-get "${LOCK[@]}" install -y -qq cmake ninja-build gettext gperf pkg-config luajit libluajit-5.1-dev \
  lua-lpeg-dev lua-mpack lua-bitop libuv1-dev libmsgpack-dev libtermkey-dev libunibilium-dev \
  lua-luv-dev libtree-sitter-dev dpkg-dev >/dev/null
# A private apt setup for trixie (binary + source), on the mirror this machine already uses.
mirror=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null ||
  awk '$1=="deb"{print $2; exit}' /etc/apt/sources.list)
apt=$work/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
printf 'deb [signed-by=%s] %s trixie main\ndeb-src [signed-by=%s] %s trixie main\n' \
  /usr/share/keyrings/debian-archive-keyring.gpg "$mirror" \
  /usr/share/keyrings/debian-archive-keyring.gpg "$mirror" >"$apt/sources.list"
cat >"$apt/apt.conf" <<CONF
Dir::Etc::sourcelist "$apt/sources.list";
Dir::Etc::sourceparts "/nonexistent";
Dir::State::Lists "$apt/lists";
Dir::Cache "$apt/cache";
APT::Sandbox::User "root";
CONF
(
  export APT_CONFIG=$apt/apt.conf
  apt-get update -qq
  cd "$work"
  # libvterm 0.3.3 (bookworm has 0.1.4; Neovim 0.8+ needs 0.3): the static library only.
  apt-get download -qq libvterm-dev/trixie
  dpkg-deb -x libvterm-dev_*.deb vterm
  # tree-sitter 0.22 from Debian source (bookworm's 0.20.7 lacks ts_tree_included_ranges).
  apt-get source -qq --download-only tree-sitter/trixie
  tar -xf tree-sitter_*.orig.tar.xz
  ts=$(ls -d tree-sitter-*/)
  mkdir -p ts/include ts/lib
  cc -O2 -fPIC -std=c11 -D_DEFAULT_SOURCE -I"$ts/lib/include" -I"$ts/lib/src" \
    -c "$ts/lib/src/lib.c" -o ts/lib.o 2>ts.log || { cat ts.log >&2; exit 1; }
  ar rcs ts/lib/libtree-sitter.a ts/lib.o
  cp -r "$ts/lib/include/tree_sitter" ts/include/
)
src=$work/src
mkdir -p "$src"
tar -xzf "$tarball" -C "$src" --strip-components=1
V=$work/vterm/usr
cmake -S "$src" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$dest" \
  -DLIBVTERM_INCLUDE_DIR="$V/include" -DLIBVTERM_LIBRARY="$V/lib/x86_64-linux-gnu/libvterm.a" \
  -DLIBLUV_INCLUDE_DIR=/usr/include/lua5.1 \
  -DLIBLUV_LIBRARY=/usr/lib/x86_64-linux-gnu/liblua5.1-luv.so \
  -DTREESITTER_INCLUDE_DIR="$work/ts/include" \
  -DTREESITTER_LIBRARY="$work/ts/lib/libtree-sitter.a" >"$work/cmake.log" 2>&1 ||
  { tail -40 "$work/cmake.log" >&2; exit 1; }
ninja -C "$work/build" >"$work/ninja.log" || { tail -40 "$work/ninja.log" >&2; exit 1; }
rm -rf "$dest"
cmake --install "$work/build" >/dev/null
"$dest/bin/nvim" --version | head -1
rm -rf "$work"
