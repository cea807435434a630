#!/usr/bin/env bash
# Runs the fuzz targets one after the other (nightly + cargo-fuzz; see fuzz/README.md).
#
#   fuzz/run.sh [-t SECONDS] [-r RUNS] [TARGET...]
#
#   -t SECONDS  stop each target after this long (default 180)
#   -r RUNS     also stop it after this many executions (whichever comes first), e.g.
#               -t 1800 -r 10000000 for issue 12's "10 million executions or 30 minutes"
#   TARGET...   default: all of them (stun rtp rtcp dtls sdp wcs properties loadbalancing)
#
# Each target reads its committed corpus (fuzz/corpus/<target>) and writes what it finds into
# fuzz/work/<target> (git-ignored); afterwards the committed corpus is re-minimised to the
# fewest inputs that cover every edge of both. Crashes, timeouts and OOMs land in fuzz/artifacts/<target>/ and stop that
# target. A table of executions, exec/s, cov, ft and corpus size per target is printed at the
# end and kept in fuzz/work/summary.txt; each target's libFuzzer log is fuzz/work/<target>.log.
#
# Builds with -s none (safe Rust: no sanitizer, faster) and -a (debug assertions and overflow
# checks, as in the stable replay test). Runs niced (19): the machine may be shared.
# Environment: FUZZ_TARGET_DIR (cargo target dir, default fuzz/target), CARGO_FUZZ (the
# cargo-fuzz command, default "cargo +nightly fuzz").
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
seconds=180
runs=0
while getopts "t:r:" opt; do
  case "$opt" in
    t) seconds="$OPTARG" ;;
    r) runs="$OPTARG" ;;
    *) sed -n '2,11p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
all=(stun rtp rtcp dtls sdp wcs properties loadbalancing)
targets=("${all[@]}")
[ "$#" -eq 0 ] || targets=("$@")

# Largest input libFuzzer makes per target (bytes): a datagram sequence, an SDP, a file.
# SDP and WCS frames up to the SDP size limit (64 KiB), so the fuzzer reaches the bounds.
max_len() {
  case "$1" in
    sdp) echo 65536 ;;
    wcs) echo 98304 ;;
    dtls) echo 16384 ;;
    rtp | properties) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

cargo_fuzz=(${CARGO_FUZZ:-cargo +nightly fuzz})
target_dir="${FUZZ_TARGET_DIR:-$here/target}"
flags=(-s none -a --target-dir "$target_dir")
cd "$root"
if ! "${cargo_fuzz[@]}" --version >/dev/null 2>&1; then
  echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked (needs a nightly toolchain)" >&2
  exit 1
fi
nice -n 19 "${cargo_fuzz[@]}" build "${flags[@]}"
bin="$target_dir/x86_64-unknown-linux-gnu/release"

mkdir -p "$here/work"
summary="$here/work/summary.txt"
printf '%-14s %12s %9s %7s %7s %7s  %s\n' target executions exec/s cov ft corpus result | tee "$summary"
status=0
for t in "${targets[@]}"; do
  work="$here/work/$t"
  mkdir -p "$work" "$here/corpus/$t" "$here/artifacts/$t"
  log="$here/work/$t.log"
  args=(-max_total_time="$seconds" -max_len="$(max_len "$t")" -timeout=10 -rss_limit_mb=2048
    -print_final_stats=1 -artifact_prefix="$here/artifacts/$t/")
  if [ "$runs" -gt 0 ]; then args+=(-runs="$runs"); fi
  result=ok
  nice -n 19 "$bin/$t" "${args[@]}" "$work" "$here/corpus/$t" >"$log" 2>&1 || { result="FAILED (see $log)"; status=1; }
  # The final stats: "#N DONE cov: C ft: F corp: K/SIZE exec/s: E", "stat::number_of_executed_units: N".
  last="$(grep -E '^#[0-9]+' "$log" | tail -1)"
  execs="$(grep -Eo 'stat::number_of_executed_units: +[0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$' || true)"
  rate="$(grep -Eo 'stat::average_exec_per_sec: +[0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+$' || true)"
  cov="$(grep -Eo 'cov: [0-9]+' <<<"$last" | grep -Eo '[0-9]+' || true)"
  ft="$(grep -Eo 'ft: [0-9]+' <<<"$last" | grep -Eo '[0-9]+' || true)"
  corp="$(grep -Eo 'corp: [0-9]+/[0-9A-Za-z]+' <<<"$last" | cut -d' ' -f2 || true)"
  # The committed corpus becomes the smallest set of inputs (from it and this run's) that
  # covers every edge either covered (a set cover of edges, not of hit counts): it stays small,
  # fuzz/work/<target> keeps the full working corpus for the next run on this machine.
  fresh="$here/work/$t.min"
  rm -rf "$fresh" && mkdir -p "$fresh"
  if nice -n 19 "$bin/$t" -set_cover_merge=1 -use_counters=0 -max_len="$(max_len "$t")" \
    "$fresh" "$here/corpus/$t" "$work" >>"$log" 2>&1 && [ -n "$(ls -A "$fresh")" ]; then
    rm -rf "$here/corpus/$t" && mv "$fresh" "$here/corpus/$t"
  fi
  printf '%-14s %12s %9s %7s %7s %7s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result" | tee -a "$summary"
done
exit "$status"
