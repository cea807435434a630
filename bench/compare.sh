#!/usr/bin/env bash
# rtcdn vs the hardware floor vs Janus on the same workload (see bench/README.md).
#
# Usage: bench/compare.sh ["50 200 500"]      (or COUNTS="20 50" bench/compare.sh)
# Env:   DURATION=10s BITRATE=1000kbps VERIFY=sample:10 NS=rtcdn-bench KEEP=1 (keep work dir)
#        SERVERS="rtcdn floor+gso rtcdn+media_gso=false floor janus": the rows, in order (a
#          subset runs only those). "rtcdn+key=value" is rtcdn with one more
#          flashphoner.properties line; "floor+gso" is the floor sending with UDP GSO;
#          "rtcdn-edge" is an origin (publisher) and an edge (subscribers, rtcdn-load
#          --play-server) relaying over WebRTC, CPU and RSS summed over both processes.
#        JANUS_DEBUG=3 (its log level) JANUS_ARGS= (more janus flags)
#        RTCDN_BASELINE=/path/to/rtcdn: adds the row "baseline" (that binary, e.g. a build of an
#          earlier commit, with rtcdn's settings) unless SERVERS is set, for before/after
#          figures from one run
#        IMPAIR="loss=5,delay=20ms,jitter=5ms": every rtcdn, baseline and janus row runs a second
#          time with this impairment on every client, both directions (rtcdn-load --impair; the
#          row is named "<server> @impair"); floor rows stay lossless (the floor repairs
#          nothing). SEED=1 seeds the impairment. The table then shows residual loss after
#          repair, NACKs, retransmissions and freezes.
#
# Runs as root. Creates a network namespace with a veth pair whose addresses exist only inside
# it (Janus gathers no loopback candidates), starts each server inside it in turn, drives it
# with rtcdn-load (1 publisher, N subscribers), reads the server's CPU time from
# /proc/<pid>/stat through rtcdn-load --server-pid, and prints one table. Every process is
# bounded in time; the namespace and the servers go away on exit.
set -euo pipefail

COUNTS=${1:-${COUNTS:-"50 200 500"}}
DURATION=${DURATION:-10s}
BITRATE=${BITRATE:-1000kbps}
VERIFY=${VERIFY:-sample:10}
IMPAIR=${IMPAIR:-}
SEED=${SEED:-1}
NS=${NS:-rtcdn-bench}
DEFAULT_SERVERS="rtcdn floor+gso rtcdn+media_gso=false floor janus"
[ -n "${RTCDN_BASELINE:-}" ] && DEFAULT_SERVERS="rtcdn baseline floor+gso rtcdn+media_gso=false floor janus"
SERVERS=${SERVERS:-$DEFAULT_SERVERS}
ADDR=10.99.0.1
PEER_ADDR=10.99.0.2
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN=$CARGO_TARGET_DIR/release
WORK=$(mktemp -d /tmp/rtcdn-compare.XXXXXX)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    [ -n "${KEEP:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

log() { echo "compare: $*" >&2; }

# --- prerequisites -------------------------------------------------------------------------
if ! command -v janus >/dev/null; then
    log "installing Janus from Debian"
    timeout 300 apt-get install -y janus >/dev/null
fi
JANUS_LIB=$(dirname "$(dirname "$(find /usr/lib -path '*janus/plugins/libjanus_videoroom.so' | head -1)")")
log "building release binaries (target $CARGO_TARGET_DIR)"
(cd "$ROOT" && cargo build --release -q -p bench --bin rtcdn-load --bin rtcdn-floor \
    && cargo build --release -q --bin rtcdn)

# --- namespace -----------------------------------------------------------------------------
ip netns del "$NS" 2>/dev/null || true
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add vb0 type veth peer name vb1
ip -n "$NS" addr add $ADDR/24 dev vb0
ip -n "$NS" addr add $PEER_ADDR/24 dev vb1
ip -n "$NS" link set vb0 up
ip -n "$NS" link set vb1 up
# nsenter execs in place (ip netns exec forks); servers are started with "${NSENTER[@]}"
# directly (not through the in_ns function, which would fork a subshell) so $! is the server.
NSENTER=(nsenter --net="/run/netns/$NS")
in_ns() { "${NSENTER[@]}" "$@"; }

# --- servers -------------------------------------------------------------------------------
# Each start_* prints the server's pid; the server is killed after $1 seconds at the latest.
bounded() { # seconds pid
    (sleep "$1"; kill "$2" 2>/dev/null || true) >/dev/null 2>&1 &
    PIDS+=("$!")
}

wait_tcp() { # port
    for _ in $(seq 100); do
        in_ns bash -c "exec 3<>/dev/tcp/$ADDR/$1" 2>/dev/null && return 0
        sleep 0.1
    done
    log "port $1 did not open"; return 1
}

start_rtcdn_at() { # seconds dir ws_port media_port_from [extra property line] [binary]
    mkdir -p "$WORK/$2"
    printf 'ip=%s\nws.port=%s\nwss.port=0\nmedia_port_from=%s\nworker_threads=1\n%s\n' $ADDR "$3" "$4" "${5:-}" \
        >"$WORK/$2/flashphoner.properties"
    "${NSENTER[@]}" "${6:-$BIN/rtcdn}" --config-dir "$WORK/$2" >>"$WORK/$2.log" 2>&1 &
    local pid=$!; PIDS+=("$pid"); bounded "$1" "$pid"
    wait_tcp "$3" >&2; echo "$pid"
}

start_rtcdn() { # seconds [extra property line] [binary]
    start_rtcdn_at "$1" rtcdn 8080 31001 "${2:-}" "${3:-}"
}

start_rtcdn_edge() { # seconds: an edge on 8081, then an origin on 8080 relaying every stream to
    # it (loadbalancing.xml, stream_distribution="webrtc"); prints "origin-pid edge-pid"
    local edge origin
    edge=$(start_rtcdn_at "$1" edge 8081 33001 "media_port_to=34000")
    mkdir -p "$WORK/origin"
    cat >"$WORK/origin/loadbalancing.xml" <<EOF
<loadbalancer mode="ROUNDROBIN" stream_distribution="webrtc">
  <node id="1"><ip>$ADDR</ip><ws>8081</ws></node>
</loadbalancer>
EOF
    origin=$(start_rtcdn_at "$1" origin 8080 31001 "load_balancing_enabled=true")
    echo "$origin $edge"
}

start_floor() { # seconds [more flags]
    # shellcheck disable=SC2086 # $2 is a list of flags
    "${NSENTER[@]}" "$BIN/rtcdn-floor" --bind $ADDR:9000 --run-for "$1" ${2:-} >>"$WORK/floor.log" 2>&1 &
    local pid=$!; PIDS+=("$pid"); sleep 0.3; echo "$pid"
}

start_janus() {
    local dir=$WORK/janus
    mkdir -p "$dir"
    local disable
    disable=$(cd "$JANUS_LIB/plugins" && ls libjanus_*.so | grep -v videoroom | paste -sd, -)
    local tdisable
    tdisable=$(cd "$JANUS_LIB/transports" && ls libjanus_*.so | grep -v http | paste -sd, -)
    cat >"$dir/janus.jcfg" <<EOF
general: {
    configs_folder = "$dir"
    plugins_folder = "$JANUS_LIB/plugins"
    transports_folder = "$JANUS_LIB/transports"
    events_folder = "$JANUS_LIB/events"
    loggers_folder = "$JANUS_LIB/loggers"
    debug_level = ${JANUS_DEBUG:-3}
    session_timeout = 60
}
media: { rtp_port_range = "20000-40000" }
nat: {
    ice_lite = true
    ice_enforce_list = "vb0"
    ice_ignore_list = "lo"
}
plugins: { disable = "$disable" }
transports: { disable = "$tdisable" }
events: { broadcast = false }
EOF
    cat >"$dir/janus.transport.http.jcfg" <<EOF
general: { base_path = "/janus" http = true port = 8088 https = false ip = "$ADDR" }
admin: { admin_http = false }
EOF
    echo 'general: { }' >"$dir/janus.plugin.videoroom.jcfg"
    "${NSENTER[@]}" janus ${JANUS_ARGS:-} -C "$dir/janus.jcfg" -F "$dir" -i $ADDR >"$WORK/janus.log" 2>&1 &
    local pid=$!; PIDS+=("$pid"); bounded "$1" "$pid"
    wait_tcp 8088 >&2; echo "$pid"
}

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# --- runs ----------------------------------------------------------------------------------
secs=${DURATION%s}
RESULTS=$WORK/results.tsv
: >"$RESULTS"
RUNS=()
for server in $SERVERS; do
    RUNS+=("$server")
    if [ -n "$IMPAIR" ] && [[ $server != floor* ]]; then RUNS+=("$server@impair"); fi
done
for n in $COUNTS; do
    for run in "${RUNS[@]}"; do
        server=${run%@impair}
        impair=()
        label=$server
        if [[ $run == *@impair ]]; then
            impair=(--impair "$IMPAIR" --seed "$SEED")
            label="$server @impair"
        fi
        limit=$(( ${secs%.*} + 60 + n / 5 ))
        case $server in
            rtcdn+*) pid=$(start_rtcdn "$limit" "${server#rtcdn+}") ;;
            rtcdn-edge) pid=$(start_rtcdn_edge "$limit") ;;
            baseline) pid=$(start_rtcdn "$limit" "" "${RTCDN_BASELINE:?RTCDN_BASELINE is not set}") ;;
            floor+gso) pid=$(start_floor "$limit" --gso) ;;
            *) pid=$("start_$server" "$limit") ;;
        esac
        play=()
        case $server in
            rtcdn-edge) target=wcs; url=ws://$ADDR:8080; play=(--play-server "ws://$ADDR:8081") ;;
            rtcdn*|baseline) target=wcs; url=ws://$ADDR:8080 ;;
            floor*) target=floor; url=udp://$ADDR:9000 ;;
            janus) target=janus; url=http://$ADDR:8088/janus ;;
        esac
        read -r -a pids <<<"$pid"
        idle=0
        pid_flags=()
        for p in "${pids[@]}"; do
            idle=$(( idle + $(rss_kib "$p") ))
            pid_flags+=(--server-pid "$p")
            log "server process: $(tr "\0" " " </proc/$p/cmdline 2>/dev/null)"
        done
        log "$label, $n subscribers (pid $pid, idle rss $idle KiB)"
        json=$WORK/${run//[^a-z0-9_-]/_}-$n.json
        if ! in_ns timeout "$limit" "$BIN/rtcdn-load" --target $target --server "$url" "${play[@]}" \
            --subscribers "$n" --duration "$DURATION" --bitrate "$BITRATE" --verify "$VERIFY" \
            "${impair[@]}" "${pid_flags[@]}" --join-timeout 30s --json "$json" --quiet \
            >"${json%.json}.out" 2>&1
        then
            log "$label with $n subscribers failed: $(tail -3 "${json%.json}.out")"
        fi
        if [[ $server == rtcdn* || $server == baseline ]]; then
            log "$server worker counters: $(in_ns curl -s "http://$ADDR:8080/health" | tr -d ' \n' | head -c 400)"
        fi
        if [[ $server == rtcdn-edge ]]; then
            log "edge worker counters: $(in_ns curl -s "http://$ADDR:8081/health" | tr -d ' \n' | head -c 400)"
        fi
        for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
        printf '%s\t%s\t%s\t%s\n' "$label" "$n" "$idle" "$json" >>"$RESULTS"
        sleep 0.5
    done
done

# --- table ---------------------------------------------------------------------------------
python3 - "$RESULTS" "$IMPAIR" <<'EOF'
import json, os, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
res = {}
for server, n, idle, path in rows:
    r = None
    if os.path.exists(path):
        r = json.load(open(path))  # the last step's figures are flattened at top level
    res[(server, int(n))] = (r, int(idle or 0))
def fmt(v, f="{:.2f}"):
    return "-" if v is None else f.format(v)
impaired = bool(sys.argv[2])
if impaired:
    print(f"@impair: rtcdn-load --impair {sys.argv[2]} (every client, both directions)\n")
repair_head = " residual loss % | NACKs / retx / freezes |" if impaired else ""
print("| server | subs | receiving | CPU-µs / fwd pkt | pkts/s at 50 % core | loss % | p50 / p99 latency µs | RSS KiB / sub |" + repair_head)
print("|---|---|---|---|---|---|---|---|" + ("---|---|" if impaired else ""))
counts = sorted({n for _, n in res})
servers = list(dict.fromkeys(s for s, _ in res))
for n in counts:
    for server in servers:
        r, idle = res.get((server, n), (None, 0))
        if r is None:
            print(f"| {server} | {n} | failed | - | - | - | - | - |" + (" - | - |" if impaired else ""))
            continue
        us = r.get("cpu_us_per_forwarded_packet")
        pps = 0.5e6 / us if us else None
        rss = r.get("server_rss_kib")
        per = (rss - idle) / n if rss and n else None
        lat = r["latency_us"]
        repair = ""
        if impaired:
            repair = (f" {fmt(r.get('residual_loss_pct'), '{:.3f}')} | {r.get('nacks_sent', '-')} / "
                      f"{r.get('retransmissions_received', '-')} / {r.get('freezes', '-')} |")
        print(f"| {server} | {n} | {r['receiving_subscribers']} | {fmt(us)} | {fmt(pps, '{:,.0f}')} "
              f"| {r['loss_pct']:.3f} | {lat['p50']:.0f} / {lat['p99']:.0f} | {fmt(per, '{:.1f}')} |" + repair)
print()
# Headline ratios of CPU per forwarded packet, for the pairs this run measured: rtcdn against
# the floor with the same send path (GSO with GSO, plain sendmmsg with plain), Janus against
# rtcdn as deployed (defaults).
pairs = [("rtcdn", "floor+gso"), ("baseline", "floor+gso"), ("rtcdn", "baseline"),
         ("rtcdn+media_gso=false", "floor"), ("rtcdn", "floor"), ("janus", "rtcdn"),
         ("rtcdn @impair", "rtcdn"), ("janus @impair", "rtcdn @impair"),
         ("rtcdn-edge", "rtcdn"), ("rtcdn-edge @impair", "rtcdn-edge")]
pairs = [(a, b) for a, b in pairs if a in servers and b in servers]
if ("rtcdn", "floor+gso") in pairs and ("rtcdn", "floor") in pairs:
    pairs.remove(("rtcdn", "floor"))
if not pairs:
    sys.exit(0)
print("| subs | " + " | ".join(f"{a} / {b}" for a, b in pairs) + " |")
print("|---|" + "---|" * len(pairs))
for n in counts:
    def us(s):
        r = res.get((s, n), (None, 0))[0]
        return r.get("cpu_us_per_forwarded_packet") if r else None
    cells = []
    for a, b in pairs:
        x, y = us(a), us(b)
        cells.append(fmt(x / y if x and y else None, "{:.2f}×"))
    print(f"| {n} | " + " | ".join(cells) + " |")
EOF
