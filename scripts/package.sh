#!/usr/bin/env bash
# Builds the Debian package of rtcdn with cargo-deb (metadata: [package.metadata.deb] in
# Cargo.toml; unit, maintainer scripts and configuration: packaging/) and prints its path,
# its control fields and its contents. cargo-deb is installed into .cache/cargo at the pinned
# version when missing (about a minute of compiling, once).
#
#   scripts/package.sh              release build -> <target>/debian/rtcdn_<version>_<arch>.deb
#                                   and its debug symbols, rtcdn-dbgsym_<version>_<arch>.ddeb
#   scripts/package.sh --debug DIR  packages the debug binary cargo already built into DIR
#                                   (scripts/test.sh checks the package this way; not a release)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CARGO_DEB_VERSION="3.8.0"
TOOLS="$ROOT/.cache/cargo"
CARGO_DEB="$TOOLS/bin/cargo-deb"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

if ! "$CARGO_DEB" --version 2>/dev/null | grep -qx "cargo-deb $CARGO_DEB_VERSION"; then
  echo "==> installing cargo-deb $CARGO_DEB_VERSION into $TOOLS" >&2
  # Built in a temporary target directory of its own, not the project's.
  env -u CARGO_TARGET_DIR nice -n 10 cargo install --locked --quiet --force \
    --version "$CARGO_DEB_VERSION" --root "$TOOLS" cargo-deb >&2
fi

case "${1:-}" in
  "")
    out="$TARGET_DIR/debian"
    mkdir -p "$out"
    # The release profile keeps debug info (debug = 1): it goes to the -dbgsym package, and
    # the binary in the .deb is stripped.
    # cargo-deb prints the path of each archive it wrote: the .ddeb, then the .deb.
    archives="$(nice -n 10 "$CARGO_DEB" --locked --dbgsym --output "$out/")"
    deb="$(grep '\.deb$' <<<"$archives")"
    echo "==> $(grep '\.ddeb$' <<<"$archives")"
    ;;
  --debug)
    out="${2:?usage: scripts/package.sh --debug DIR}"
    mkdir -p "$out"
    [ -x "$TARGET_DIR/debug/rtcdn" ] || {
      echo "no debug binary at $TARGET_DIR/debug/rtcdn: run cargo build first" >&2
      exit 1
    }
    # cargo-deb warns that the dev profile is not meant for releases: this package only
    # checks the packaging. Stripped and fast-compressed to keep it quick.
    deb="$("$CARGO_DEB" --quiet --profile dev --no-build --no-dbgsym --strip --fast \
      --output "$out/")"
    ;;
  *)
    echo "usage: scripts/package.sh [--debug DIR]" >&2
    exit 2
    ;;
esac

echo "==> $deb"
dpkg-deb --info "$deb"
echo "==> contents"
dpkg-deb --contents "$deb"
