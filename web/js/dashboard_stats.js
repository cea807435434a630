/*
 * dashboard_stats.js: the arithmetic of the live dashboard (dashboard.html), kept free of the
 * DOM so that node can test it (web/test/dashboard_stats.test.js).
 *
 * - counterDelta(prev, cur): how much a monotonic counter grew, reading a smaller value as a
 *   counter that restarted from zero (the node restarted);
 * - RateMeter: per-second rates between two `/health` answers from the workers' counters
 *   (bytes and datagrams in and out, RTP forwarded), summed over workers;
 * - formatBps / formatRate / formatPercent / formatAge: how figures are shown;
 * - streamRows / edgeRows: the tables' rows from a `/health` answer.
 *
 * Loaded as a plain script it defines `window.rtcdnDashboardStats`; under CommonJS it is
 * `module.exports`.
 */
(function (global) {
  "use strict";

  /** The worker counters the dashboard turns into rates (names as in `/health`). */
  const RATE_COUNTERS = Object.freeze([
    "bytes_in",
    "bytes_out",
    "datagrams_in",
    "datagrams_out",
    "rtp_forwarded",
    "retransmitted",
  ]);

  function isCount(x) {
    return typeof x === "number" && Number.isFinite(x) && x >= 0;
  }

  /**
   * How much a counter grew from `prev` to `cur`, or null when either is not a count. A value
   * below the previous one means the counter restarted from zero (a restarted node), so it
   * grew by `cur` since then (as Prometheus' rate() reads resets).
   */
  function counterDelta(prev, cur) {
    if (!isCount(prev) || !isCount(cur)) {
      return null;
    }
    return cur >= prev ? cur - prev : cur;
  }

  /** The rate counters of each worker of a `/health` answer, keyed by worker id. */
  function workerCounters(health) {
    const out = new Map();
    const workers = health && Array.isArray(health.workers) ? health.workers : [];
    for (const w of workers) {
      if (!w || w.id === undefined) {
        continue;
      }
      const counters = {};
      for (const name of RATE_COUNTERS) {
        counters[name] = w[name];
      }
      out.set(String(w.id), counters);
    }
    return out;
  }

  /**
   * Turns successive `/health` answers into per-second rates of the workers' counters.
   * `update(health, atMs)` returns null for the first answer (no interval yet) and whenever
   * the clock did not advance; otherwise
   * `{bps_in, bps_out, pps_in, pps_out, forwarded_pps, retransmitted_pps, seconds}`, summed
   * over the workers present in both answers. `reset()` forgets the previous answer (after
   * the node stopped answering, so that the gap is not averaged into one point).
   */
  class RateMeter {
    constructor() {
      this.prev = null;
    }

    reset() {
      this.prev = null;
    }

    update(health, atMs) {
      const counters = workerCounters(health);
      const prev = this.prev;
      if (prev && !(atMs > prev.atMs)) {
        return null;
      }
      this.prev = {atMs, counters};
      if (!prev) {
        return null;
      }
      const seconds = (atMs - prev.atMs) / 1000;
      const sums = {};
      for (const name of RATE_COUNTERS) {
        sums[name] = 0;
      }
      for (const [id, cur] of counters) {
        const before = prev.counters.get(id);
        if (!before) {
          continue;
        }
        for (const name of RATE_COUNTERS) {
          const d = counterDelta(before[name], cur[name]);
          if (d !== null) {
            sums[name] += d;
          }
        }
      }
      return {
        bps_in: (sums.bytes_in * 8) / seconds,
        bps_out: (sums.bytes_out * 8) / seconds,
        pps_in: sums.datagrams_in / seconds,
        pps_out: sums.datagrams_out / seconds,
        forwarded_pps: sums.rtp_forwarded / seconds,
        retransmitted_pps: sums.retransmitted / seconds,
        seconds,
      };
    }
  }

  /** `value` scaled by the largest of `units` ([divisor, suffix], ascending) it reaches. */
  function scaled(value, units, digits) {
    let unit = units[0];
    for (const u of units) {
      if (Math.abs(value) >= u[0]) {
        unit = u;
      }
    }
    const v = value / unit[0];
    // Three significant figures above the base unit: 1.25 M, 12.5 M, 125 M.
    const text = unit[0] === 1 ? String(Math.round(v)) : v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : digits);
    return text + unit[1];
  }

  const BIT_UNITS = [
    [1, " bit/s"],
    [1e3, " kbit/s"],
    [1e6, " Mbit/s"],
    [1e9, " Gbit/s"],
  ];
  const COUNT_UNITS = [
    [1, ""],
    [1e3, " k"],
    [1e6, " M"],
  ];

  /** A bit rate for people: "0 bit/s", "950 bit/s", "12.5 kbit/s", "1.25 Mbit/s"; "–" if unknown. */
  function formatBps(bps) {
    if (typeof bps !== "number" || !Number.isFinite(bps)) {
      return "–";
    }
    return scaled(bps, BIT_UNITS, 2);
  }

  /** A per-second count: "0/s", "950/s", "12.5 k/s"; "–" if unknown. */
  function formatRate(perSecond) {
    if (typeof perSecond !== "number" || !Number.isFinite(perSecond)) {
      return "–";
    }
    return scaled(perSecond, COUNT_UNITS, 2) + "/s";
  }

  /** A fraction 0..1 as a percentage: "42 %" ("3.5 %" under 10); "–" if unknown. */
  function formatPercent(fraction) {
    if (typeof fraction !== "number" || !Number.isFinite(fraction)) {
      return "–";
    }
    const p = fraction * 100;
    return (p < 10 ? p.toFixed(1) : p.toFixed(0)) + " %";
  }

  /** Milliseconds as "0.4 s", "12 s", "3 min"; "–" if unknown. */
  function formatAge(ms) {
    if (typeof ms !== "number" || !Number.isFinite(ms) || ms < 0) {
      return "–";
    }
    if (ms < 10000) {
      return (ms / 1000).toFixed(1) + " s";
    }
    if (ms < 120000) {
      return Math.round(ms / 1000) + " s";
    }
    return Math.round(ms / 60000) + " min";
  }

  /** The base stream name of a player's name: "cam-low" → "cam" when "cam" is published. */
  function baseStream(name, published) {
    if (published.has(name)) {
      return name;
    }
    const m = /^(.*)-(low|mid|high)$/.exec(name);
    return m && published.has(m[1]) ? m[1] : name;
  }

  /**
   * One row per published stream: `{stream, mediaSessionId, connected, tracks, video_bps,
   * viewers, viewers_bps, relayed_to}`, where `viewers_bps` sums the `sending_bps` of its
   * players (a layer suffix such as "-low" counts for the base stream).
   */
  function streamRows(health) {
    const published = health && Array.isArray(health.published) ? health.published : [];
    const names = new Set(published.map((p) => p.stream));
    const sending = new Map();
    for (const v of (health && Array.isArray(health.viewers)) ? health.viewers : []) {
      const base = baseStream(v.stream, names);
      sending.set(base, (sending.get(base) || 0) + (isCount(v.sending_bps) ? v.sending_bps : 0));
    }
    return published.map((p) => ({
      stream: p.stream,
      mediaSessionId: p.mediaSessionId,
      connected: Boolean(p.connected),
      tracks: [p.has_video ? "video" : null, p.has_audio ? "audio" : null].filter(Boolean).join(" + ") || "none",
      video_bps: isCount(p.video_bps) ? p.video_bps : null,
      viewers: isCount(p.viewers) ? p.viewers : 0,
      viewers_bps: sending.get(p.stream) || 0,
      relayed_to: Array.isArray(p.relayed_to) ? p.relayed_to : [],
    }));
  }

  /** Sum of what the node sends its players (`sending_bps` of every viewer), bits/s. */
  function viewersBps(health) {
    const viewers = health && Array.isArray(health.viewers) ? health.viewers : [];
    return viewers.reduce((sum, v) => sum + (isCount(v.sending_bps) ? v.sending_bps : 0), 0);
  }

  /** A URL host for `host` (IPv6 literals in brackets). */
  function urlHost(host) {
    return String(host).indexOf(":") >= 0 && String(host)[0] !== "[" ? "[" + host + "]" : String(host);
  }

  /**
   * One row per edge of an origin's `/health`: `{id, address, dashboard, reachable, calls,
   * streams_in, streams_out, connections, cpu, age_ms, relayed_streams}`; `dashboard` is this
   * page watching that edge. Empty for a node that is not an origin.
   */
  function edgeRows(health, pagePath) {
    const edges = health && Array.isArray(health.edges) ? health.edges : [];
    return edges.map((e) => {
      const base = "http://" + urlHost(e.host) + ":" + e.http;
      return {
        id: String(e.id),
        address: urlHost(e.host) + ":" + e.ws,
        dashboard: (pagePath || "dashboard.html") + "?node=" + encodeURIComponent(base),
        reachable: e.reachable === true,
        calls: isCount(e.calls) ? e.calls : null,
        streams_in: isCount(e.streams_in) ? e.streams_in : null,
        streams_out: isCount(e.streams_out) ? e.streams_out : null,
        connections: isCount(e.connections) ? e.connections : null,
        cpu: isCount(e.system_cpu_load) ? e.system_cpu_load : null,
        age_ms: isCount(e.stats_age_ms) ? e.stats_age_ms : null,
        relayed_streams: isCount(e.relayed_streams) ? e.relayed_streams : 0,
      };
    });
  }

  /**
   * The `/health` URL for the page's `?node=` parameter: an absolute http(s) URL of another
   * node (its path is ignored), or this page's own node when absent. Throws on anything else.
   */
  function healthUrl(search, pageOrigin) {
    const params = new URLSearchParams(search || "");
    const node = params.get("node");
    if (!node) {
      return pageOrigin + "/health";
    }
    let url;
    try {
      url = new URL(node);
    } catch (e) {
      throw new Error("node= is not a URL: " + node);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error("node= must be an http(s) URL: " + node);
    }
    return url.origin + "/health";
  }

  const api = {
    RATE_COUNTERS,
    counterDelta,
    workerCounters,
    RateMeter,
    formatBps,
    formatRate,
    formatPercent,
    formatAge,
    streamRows,
    viewersBps,
    edgeRows,
    healthUrl,
    urlHost,
  };
  if (typeof module === "object" && module.exports) {
    module.exports = api;
  } else {
    global.rtcdnDashboardStats = api;
  }
})(typeof window !== "undefined" ? window : this);
