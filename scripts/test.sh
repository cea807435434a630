#!/usr/bin/env bash
# The one test command: installs the test dependencies (Chromium, nftables, dpkg and systemd from
# Debian, the npm packages of tests/browser/package.json into .cache/browser, cargo-deb into
# .cache/cargo) when missing, then runs fmt, clippy, build, the Debian package of the debug build,
# the Rust tests and the browser tests. Idempotent; exits non-zero on the first failing step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CACHE="$ROOT/.cache/browser"
CHROMIUM="${CHROMIUM_BIN:-/usr/bin/chromium}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

step() { printf '\n==> %s\n' "$*"; }

# A clean run builds ~60 test binaries; incremental caches would double the disk it needs, and a
# fresh checkout gains nothing from them.
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=0
fi
mkdir -p "$TARGET_DIR"
step "disk"
df -h "$TARGET_DIR" | tail -n 1

step "Chromium ($CHROMIUM)"
if [ -x "$CHROMIUM" ]; then
  echo "present: $("$CHROMIUM" --version 2>/dev/null || echo unknown version)"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "Chromium is missing and installing it needs root: apt-get install -y chromium" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y chromium
fi

step "nftables (the lossy-link browser tests drop packets with nft in network namespaces)"
if command -v nft >/dev/null 2>&1; then
  echo "present: $(nft --version)"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "nft is missing and installing it needs root: apt-get install -y nftables" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y nftables || { apt-get update && apt-get install -y nftables; }
fi

step "dpkg-deb and systemd-analyze (tests/package.rs checks the Debian package with them)"
if command -v dpkg-deb >/dev/null 2>&1 && command -v systemd-analyze >/dev/null 2>&1; then
  echo "present: $(dpkg-deb --version | head -n 1); $(systemd-analyze --version | head -n 1)"
else
  if [ "$(id -u)" -ne 0 ]; then
    echo "dpkg-deb or systemd-analyze is missing and installing them needs root: apt-get install -y dpkg systemd" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y dpkg systemd || { apt-get update && apt-get install -y dpkg systemd; }
fi

# playwright-core, the official Web SDK, and the WHIP/WHEP clients written elsewhere that
# whip_clients.test.mjs drives (with esbuild, which bundles the CommonJS ones for the page).
step "npm packages of tests/browser/package.json -> .cache/browser"
mkdir -p "$CACHE"
# Reinstall only when the lock file changed since the last successful install (the stamp is
# written after npm ci succeeds, so an interrupted install is redone).
if [ -d "$CACHE/node_modules" ] && cmp -s tests/browser/package-lock.json "$CACHE/.installed-lock.json"; then
  echo "up to date"
else
  rm -f "$CACHE/.installed-lock.json"
  cp tests/browser/package.json tests/browser/package-lock.json "$CACHE/"
  (cd "$CACHE" && npm ci --no-audit --no-fund)
  cp tests/browser/package-lock.json "$CACHE/.installed-lock.json"
fi

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo build --workspace --all-targets"
cargo build --workspace --all-targets

# The Rust tests and the browser tests both run even if the other fails, so one run shows
# every failure; the script still exits non-zero if either failed.
failed=()

# The package of the debug binary just built (cargo-deb is compiled into .cache/cargo the first
# time, about a minute); tests/package.rs, in the workspace tests below, checks it.
step "Debian package of the debug build (scripts/package.sh --debug)"
DEB_DIR="$TARGET_DIR/debian-check"
rm -rf "$DEB_DIR"
if scripts/package.sh --debug "$DEB_DIR"; then
  RTCDN_DEB="$(ls "$DEB_DIR"/rtcdn_*.deb)"
  export RTCDN_DEB
else
  failed+=("scripts/package.sh --debug")
fi

step "cargo test --workspace"
cargo test --workspace || failed+=("cargo test --workspace")

step "JS client unit tests (node --test web/test/)"
node --test web/test/ || failed+=("JS client unit tests")

step "browser tests (node --test tests/browser/*.test.mjs)"
RTCDN_BIN="${RTCDN_BIN:-$TARGET_DIR/debug/rtcdn}" RTCDN_BROWSER_CACHE="$CACHE" \
  node --test tests/browser/*.test.mjs || failed+=("browser tests")

if [ "${#failed[@]}" -gt 0 ]; then
  printf '\n==> FAILED: %s\n' "${failed[*]}" >&2
  exit 1
fi
step "all tests passed"
