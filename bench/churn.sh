#!/usr/bin/env bash
# The churn soak of issue 12 (see bench/README.md, "Churn soak"): release builds of rtcdn on
# 127.0.0.1, one node or an origin and an edge, driven by rtcdn-load --churn.
#
# Usage: bench/churn.sh node|edge [out-dir]      (out-dir default: /tmp/rtcdn-churn-<mode>)
# Env:   DURATION=10m SUBSCRIBERS=200 PUBLISHERS=2 BITRATE=500kbps
#        CHURN="joins=20/s,leaves=20/s,publisher-restart=30s,vanish=10%,settle=20s,sample=2s"
#        JOIN_PARALLEL=8 PORT=18480 (the node or origin; the edge PORT+1) NOBUILD=1
#
# The servers run with ice_consent_timeout=5000 and a websocket keep-alive of a ping every 2 s,
# closed after 3 unanswered (defaults: 30 s and 5 s x 10), so that a vanished viewer's peer and
# websocket are freed within the settle time; worker_threads=1. Writes churn.json, churn.svg,
# the summary (summary.txt) and the servers' logs into out-dir. Every server is killed on exit
# and at the latest after the run's length plus ten minutes. Exit status: rtcdn-load's (2 if a
# leak was found).
set -euo pipefail

MODE=${1:?usage: bench/churn.sh node|edge [out-dir]}
OUT=${2:-/tmp/rtcdn-churn-$MODE}
DURATION=${DURATION:-10m}
SUBSCRIBERS=${SUBSCRIBERS:-200}
PUBLISHERS=${PUBLISHERS:-2}
BITRATE=${BITRATE:-500kbps}
CHURN=${CHURN:-joins=20/s,leaves=20/s,publisher-restart=30s,vanish=10%,settle=20s,sample=2s}
JOIN_PARALLEL=${JOIN_PARALLEL:-8}
PORT=${PORT:-18480}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release
PIDS=()
mkdir -p "$OUT"

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM
log() { echo "churn: $*" >&2; }

if [ -z "${NOBUILD:-}" ]; then
    log "building release binaries (target $CARGO_TARGET_DIR)"
    (cd "$ROOT" && nice -n 10 cargo build --release -q -p bench --bin rtcdn-load \
        && nice -n 10 cargo build --release -q --bin rtcdn)
fi

wait_tcp() { # port
    for _ in $(seq 100); do
        bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null && return 0
        sleep 0.1
    done
    log "port $1 did not open"; return 1
}

start_rtcdn() { # name ws_port media_port_from [extra property line]; sets STARTED (its pid)
    local dir=$OUT/$1
    if bash -c "exec 3<>/dev/tcp/127.0.0.1/$2" 2>/dev/null; then
        log "port $2 is already taken"; exit 1
    fi
    mkdir -p "$dir"
    printf 'ip=127.0.0.1\nws.port=%s\nwss.port=0\nmedia_port_from=%s\nmedia_port_to=%s\nworker_threads=1\nice_consent_timeout=5000\nkeep_alive.server_interval=2000\nkeep_alive.probes=3\n%s\n' \
        "$2" "$3" "$(($3 + 99))" "${4:-}" >"$dir/flashphoner.properties"
    "$BIN/rtcdn" --config-dir "$dir" >"$OUT/$1.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    # A bound on the server's life whatever happens to this script.
    (sleep $((LIMIT)); kill "$pid" 2>/dev/null || true) >/dev/null 2>&1 &
    PIDS+=("$!")
    wait_tcp "$2"
    if ! kill -0 "$pid" 2>/dev/null; then
        log "$1 exited:"; tail -5 "$OUT/$1.log" >&2; exit 1
    fi
    STARTED=$pid
}

secs=$(awk -v d="$DURATION" 'BEGIN { n = d + 0; if (d ~ /m$/) n *= 60; print int(n) }')
LIMIT=$((secs + 600))
case $MODE in
node)
    start_rtcdn node "$PORT" 38001
    TARGET=(--server "ws://127.0.0.1:$PORT" --server-pid "$STARTED")
    ;;
edge)
    start_rtcdn edge "$((PORT + 1))" 38201
    edge=$STARTED
    mkdir -p "$OUT/origin"
    cat >"$OUT/origin/loadbalancing.xml" <<EOF
<loadbalancer mode="ROUNDROBIN" stream_distribution="webrtc">
  <node id="1"><ip>127.0.0.1</ip><ws>$((PORT + 1))</ws></node>
</loadbalancer>
EOF
    start_rtcdn origin "$PORT" 38001 "load_balancing_enabled=true"
    origin=$STARTED
    TARGET=(--server "ws://127.0.0.1:$PORT" --play-server "ws://127.0.0.1:$((PORT + 1))"
        --server-pid "$origin" --server-pid "$edge")
    ;;
*) log "mode must be node or edge"; exit 64 ;;
esac

log "$MODE: $PUBLISHERS publishers, $SUBSCRIBERS viewers, $CHURN for $DURATION; output in $OUT"
status=0
"$BIN/rtcdn-load" "${TARGET[@]}" --publishers "$PUBLISHERS" --subscribers "$SUBSCRIBERS" \
    --duration "$DURATION" --bitrate "$BITRATE" --verify sample:10 \
    --join-parallel "$JOIN_PARALLEL" --churn "$CHURN" \
    --json "$OUT/churn.json" --svg "$OUT/churn.svg" | tee "$OUT/summary.txt" || status=$?
exit "$status"
