#!/usr/bin/env bash
# The one test command: installs the test dependencies (Chromium and nftables from Debian, the npm
# packages of tests/browser/package.json into .cache/browser) when missing, then runs fmt, clippy, build,
# the Rust tests and the browser tests. Idempotent; exits non-zero on the first failing step.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

CACHE="$ROOT/.cache/browser"
CHROMIUM="${CHROMIUM_BIN:-/usr/bin/chromium}"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

step() { printf '\n==> %s\n' "$*"; }

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
