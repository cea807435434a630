// Tests of js/dashboard_stats.js: rates from counter differences between /health answers,
// counter resets, formatting, and the table rows built from a /health answer.
// Run: node --test web/test/
"use strict";
const test = require("node:test");
const assert = require("node:assert");
const S = require("../js/dashboard_stats.js");

/** A /health answer whose workers carry the given counters. */
function health(...workers) {
  return {status: "ok", workers: workers.map((w, i) => Object.assign({id: i}, w))};
}

test("counterDelta: growth, a restart from zero, and unknown values", () => {
  assert.strictEqual(S.counterDelta(100, 250), 150);
  assert.strictEqual(S.counterDelta(7, 7), 0);
  // The node restarted between the two readings: the counter grew by its new value.
  assert.strictEqual(S.counterDelta(1000, 40), 40);
  assert.strictEqual(S.counterDelta(undefined, 5), null);
  assert.strictEqual(S.counterDelta(5, null), null);
  assert.strictEqual(S.counterDelta(-1, 5), null);
  assert.strictEqual(S.counterDelta(1, NaN), null);
});

test("RateMeter: per-second rates summed over workers, from the second answer on", () => {
  const m = new S.RateMeter();
  assert.strictEqual(m.update(health({bytes_in: 0, bytes_out: 0, datagrams_in: 0, datagrams_out: 0}), 1000), null);
  const r = m.update(
    health(
      {bytes_in: 125000, bytes_out: 250000, datagrams_in: 100, datagrams_out: 300, rtp_forwarded: 290},
      {bytes_in: 0, bytes_out: 0},
    ),
    3000,
  );
  // Two seconds: 125000 bytes = 1 Mbit in, 2 Mbit out; the second worker is new (no rate).
  assert.strictEqual(r.seconds, 2);
  assert.strictEqual(r.bps_in, 500000);
  assert.strictEqual(r.bps_out, 1000000);
  assert.strictEqual(r.pps_in, 50);
  assert.strictEqual(r.pps_out, 150);
  // rtp_forwarded was unknown in the first answer: no rate from it.
  assert.strictEqual(r.forwarded_pps, 0);
  const r2 = m.update(
    health(
      {bytes_in: 250000, bytes_out: 500000, datagrams_in: 200, datagrams_out: 600, rtp_forwarded: 590},
      {bytes_in: 12500, bytes_out: 0},
    ),
    4000,
  );
  assert.strictEqual(r2.bps_in, (125000 + 12500) * 8);
  assert.strictEqual(r2.forwarded_pps, 300);
});

test("RateMeter: a counter reset counts from zero, a stalled clock gives no rate", () => {
  const m = new S.RateMeter();
  m.update(health({bytes_in: 9000000, datagrams_in: 9000}), 0);
  // Restarted node: the counters start over.
  const r = m.update(health({bytes_in: 1000, datagrams_in: 10}), 1000);
  assert.strictEqual(r.bps_in, 8000);
  assert.strictEqual(r.pps_in, 10);
  assert.ok(r.bps_in >= 0 && r.pps_in >= 0, "never negative");
  assert.strictEqual(m.update(health({bytes_in: 2000, datagrams_in: 20}), 1000), null, "same time");
  // After a reset() the next answer starts a new interval.
  m.reset();
  assert.strictEqual(m.update(health({bytes_in: 3000}), 2000), null);
  assert.strictEqual(m.update(health({bytes_in: 3500}), 2500).bps_in, 8000);
});

test("RateMeter: answers without workers give zero rates, not errors", () => {
  const m = new S.RateMeter();
  m.update({status: "ok"}, 0);
  const r = m.update({status: "ok", workers: "nonsense"}, 1000);
  assert.deepStrictEqual([r.bps_in, r.pps_out], [0, 0]);
});

test("formatBps: bit rates with units", () => {
  assert.strictEqual(S.formatBps(0), "0 bit/s");
  assert.strictEqual(S.formatBps(950), "950 bit/s");
  assert.strictEqual(S.formatBps(1000), "1.00 kbit/s");
  assert.strictEqual(S.formatBps(12500), "12.5 kbit/s");
  assert.strictEqual(S.formatBps(256000), "256 kbit/s");
  assert.strictEqual(S.formatBps(1250000), "1.25 Mbit/s");
  assert.strictEqual(S.formatBps(2e9), "2.00 Gbit/s");
  assert.strictEqual(S.formatBps(null), "–");
  assert.strictEqual(S.formatBps(undefined), "–");
  assert.strictEqual(S.formatBps(Infinity), "–");
});

test("formatRate, formatPercent, formatAge", () => {
  assert.strictEqual(S.formatRate(0), "0/s");
  assert.strictEqual(S.formatRate(49.6), "50/s");
  assert.strictEqual(S.formatRate(1500), "1.50 k/s");
  assert.strictEqual(S.formatRate(null), "–");
  assert.strictEqual(S.formatPercent(0.42), "42 %");
  assert.strictEqual(S.formatPercent(0.035), "3.5 %");
  assert.strictEqual(S.formatPercent(undefined), "–");
  assert.strictEqual(S.formatAge(400), "0.4 s");
  assert.strictEqual(S.formatAge(45000), "45 s");
  assert.strictEqual(S.formatAge(180000), "3 min");
  assert.strictEqual(S.formatAge(null), "–");
});

test("streamRows: publisher, rate, viewers and what they are sent (layer suffixes included)", () => {
  const rows = S.streamRows({
    published: [
      {stream: "cam", mediaSessionId: "p1", connected: true, has_audio: true, has_video: true,
        video_bps: 900000, viewers: 2, relayed_to: ["1"]},
      {stream: "mic", mediaSessionId: "p2", connected: false, has_audio: true, has_video: false,
        video_bps: null, viewers: 0, relayed_to: []},
    ],
    viewers: [
      {stream: "cam", mediaSessionId: "v1", sending_bps: 500000},
      {stream: "cam-low", mediaSessionId: "v2", sending_bps: 150000},
      {stream: "other", mediaSessionId: "v3", sending_bps: 1},
    ],
  });
  assert.deepStrictEqual(rows, [
    {stream: "cam", mediaSessionId: "p1", connected: true, tracks: "video + audio", video_bps: 900000,
      viewers: 2, viewers_bps: 650000, relayed_to: ["1"]},
    {stream: "mic", mediaSessionId: "p2", connected: false, tracks: "audio", video_bps: null,
      viewers: 0, viewers_bps: 0, relayed_to: []},
  ]);
  assert.deepStrictEqual(S.streamRows({}), []);
  assert.strictEqual(S.viewersBps({viewers: [{sending_bps: 5}, {sending_bps: 7}, {}]}), 12);
});

test("edgeRows: reachability, figures, and a link to the edge's own dashboard", () => {
  const rows = S.edgeRows({
    edges: [
      {id: "1", host: "127.0.0.1", ws: 8080, wss: 8443, http: 8081, reachable: true, stats_age_ms: 300,
        calls: 3, connections: 2, streams_in: 1, streams_out: 2, system_cpu_load: 0.25, relayed_streams: 1},
      {id: "2", host: "::1", ws: 9080, wss: 9443, http: 9080, reachable: false, stats_age_ms: null,
        calls: null, connections: null, streams_in: null, streams_out: null, system_cpu_load: null},
    ],
  }, "dashboard.html");
  assert.strictEqual(rows[0].address, "127.0.0.1:8080");
  assert.strictEqual(rows[0].dashboard, "dashboard.html?node=" + encodeURIComponent("http://127.0.0.1:8081"));
  assert.deepStrictEqual(
    [rows[0].reachable, rows[0].calls, rows[0].streams_out, rows[0].cpu, rows[0].age_ms, rows[0].relayed_streams],
    [true, 3, 2, 0.25, 300, 1],
  );
  assert.strictEqual(rows[1].address, "[::1]:9080");
  assert.strictEqual(rows[1].dashboard, "dashboard.html?node=" + encodeURIComponent("http://[::1]:9080"));
  assert.deepStrictEqual([rows[1].reachable, rows[1].calls, rows[1].cpu, rows[1].relayed_streams], [false, null, null, 0]);
  assert.deepStrictEqual(S.edgeRows({streams: 0}), [], "not an origin");
});

test("healthUrl: this node, another node by ?node=, and bad parameters", () => {
  assert.strictEqual(S.healthUrl("", "http://127.0.0.1:8080"), "http://127.0.0.1:8080/health");
  assert.strictEqual(
    S.healthUrl("?node=" + encodeURIComponent("http://10.0.0.2:8081/dashboard.html"), "http://a"),
    "http://10.0.0.2:8081/health",
  );
  assert.strictEqual(S.healthUrl("?x=1&node=https://edge.example", "http://a"), "https://edge.example/health");
  assert.throws(() => S.healthUrl("?node=javascript:alert(1)", "http://a"), /http\(s\)/);
  assert.throws(() => S.healthUrl("?node=not a url", "http://a"), /not a URL/);
});
