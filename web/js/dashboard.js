/*
 * dashboard.js: the live dashboard page (dashboard.html). Polls one node's `GET /health` every
 * second (this page's node, or `?node=http://host:port` for another: `/health` allows any
 * origin), turns the workers' counters into rates (dashboard_stats.js), draws them
 * (linechart.js) and fills the summary tiles and tables. A node that stops answering is shown
 * as such and polled again every second; the charts show the gap.
 *
 * Owns the DOM of dashboard.html only. Names from the node (stream names, ids) are inserted as
 * text, never as HTML.
 */
(function () {
  "use strict";

  const S = window.rtcdnDashboardStats;
  const {LineChart} = window.rtcdnLineChart;

  /** Poll period and the longest a `/health` request may take. */
  const PERIOD_MS = 1000;
  const TIMEOUT_MS = 2500;
  const WINDOW_SECONDS = 120;
  /** The workers' counters of datagrams dropped or not sent (one sum per worker). */
  const DROP_COUNTERS = [
    "dropped_unknown_source", "dropped_unknown_ssrc", "dropped_handshake_busy", "dropped_invalid",
    "dropped_duplicate", "dropped_send_full", "dropped_fanout_full", "send_errors",
  ];

  const COLORS = {
    in: "#1f6feb",
    out: "#e8590c",
    publishers: "#8250df",
    viewers: "#1a7f37",
    process: "#cf222e",
    system: "#8c959f",
  };

  const $ = (id) => document.getElementById(id);
  const pct = (f) => (typeof f === "number" ? f * 100 : null);

  const charts = {
    bitrate: new LineChart($("chart-bitrate"), {
      series: [{label: "in", color: COLORS.in}, {label: "out", color: COLORS.out}],
      format: S.formatBps,
      floor: 1000,
      windowSeconds: WINDOW_SECONDS,
    }),
    packets: new LineChart($("chart-packets"), {
      series: [{label: "in", color: COLORS.in}, {label: "out", color: COLORS.out}],
      format: S.formatRate,
      floor: 10,
      windowSeconds: WINDOW_SECONDS,
    }),
    peers: new LineChart($("chart-peers"), {
      series: [{label: "publishers", color: COLORS.publishers, dash: [5, 4]}, {label: "viewers", color: COLORS.viewers}],
      format: (v) => String(v),
      floor: 2,
      integer: true,
      windowSeconds: WINDOW_SECONDS,
    }),
    cpu: new LineChart($("chart-cpu"), {
      series: [{label: "process", color: COLORS.process}, {label: "system", color: COLORS.system}],
      format: (v) => v + " %",
      floor: 10,
      windowSeconds: WINDOW_SECONDS,
    }),
  };
  const legendFormats = {bitrate: S.formatBps, packets: S.formatRate, peers: (v) => (v === null ? "–" : String(v)), cpu: (v) => (v === null ? "–" : v.toFixed(1) + " %")};

  /** An element with text content and attributes. */
  function el(tag, text, attrs) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) {
      e.textContent = String(text);
    }
    for (const [k, v] of Object.entries(attrs || {})) {
      e.setAttribute(k, v);
    }
    return e;
  }

  /** A table cell: text, or a prepared element; `cls` for styling ("n" = numeric). */
  function td(content, cls) {
    const cell = content instanceof Node ? el("td") : el("td", content);
    if (content instanceof Node) {
      cell.appendChild(content);
    }
    if (cls) {
      cell.className = cls;
    }
    return cell;
  }

  function badge(text, kind) {
    return el("span", text, {class: "badge " + kind});
  }

  /** Replaces a table's body with `rows` (arrays of cells), or one "empty" row. */
  function fillTable(table, rows, empty) {
    const body = table.tBodies[0];
    body.replaceChildren();
    if (!rows.length) {
      const cols = table.tHead.rows[0].cells.length;
      const row = el("tr", null, {class: "empty"});
      row.appendChild(el("td", empty, {colspan: String(cols)}));
      body.appendChild(row);
      return;
    }
    for (const r of rows) {
      body.appendChild(r);
    }
  }

  function renderLegend(name) {
    const box = $("legend-" + name);
    box.replaceChildren();
    const chart = charts[name];
    chart.latest().forEach((v, i) => {
      const line = chart.lines[i];
      const item = el("span", null, {class: "item"});
      const dot = el("i");
      dot.style.background = line.color;
      item.appendChild(dot);
      item.appendChild(el("span", line.label));
      item.appendChild(el("b", legendFormats[name](v), {"data-series": line.label}));
      box.appendChild(item);
    });
  }

  function drawCharts(now) {
    for (const name of Object.keys(charts)) {
      charts[name].draw(now);
      renderLegend(name);
    }
  }

  // --- what one answer shows ---

  const meter = new S.RateMeter();
  const workerMeters = new Map();

  function renderSummary(h, rates, viewersBps) {
    $("s-streams").textContent = h.streams;
    $("s-viewers").textContent = h.players !== undefined ? h.players : "–";
    $("s-viewers-d").textContent = "sent " + S.formatBps(viewersBps);
    $("s-peers").textContent = (h.connected_peers !== undefined ? h.connected_peers : "–") + " / " + h.peers;
    $("s-connections").textContent = h.connections !== undefined ? h.connections : "–";
    $("s-workers").textContent = Array.isArray(h.workers) ? h.workers.length : "–";
    $("s-in").textContent = rates ? S.formatBps(rates.bps_in) : "–";
    $("s-in-d").textContent = rates ? S.formatRate(rates.pps_in).replace("/s", " pkt/s") : "UDP";
    $("s-out").textContent = rates ? S.formatBps(rates.bps_out) : "–";
    $("s-out-d").textContent = rates ? S.formatRate(rates.pps_out).replace("/s", " pkt/s") : "UDP";
    $("s-cpu").textContent = S.formatPercent(h.process_cpu_load);
    $("s-cpu-d").textContent = "system " + S.formatPercent(h.system_cpu_load);
  }

  function renderEdges(h) {
    const isOrigin = Array.isArray(h.edges);
    $("role").textContent = isOrigin ? "origin" : "node";
    $("role").className = "badge " + (isOrigin ? "origin" : "plain");
    $("edges-card").hidden = !isOrigin;
    $("t-edges").hidden = !isOrigin;
    $("relayed-head").hidden = !isOrigin;
    if (!isOrigin) {
      return;
    }
    const rows = S.edgeRows(h, "dashboard.html");
    const up = rows.filter((r) => r.reachable).length;
    $("s-edges").textContent = up + " / " + rows.length;
    $("t-edges").classList.toggle("warn", up < rows.length);
    $("edges-count").textContent = rows.length;
    fillTable(
      $("edges"),
      rows.map((r) => {
        const tr = el("tr", null, {"data-edge": r.id, "data-reachable": String(r.reachable)});
        tr.appendChild(td(el("b", r.id)));
        tr.appendChild(td(r.address, "mono"));
        tr.appendChild(td(r.reachable ? badge("reachable", "ok") : badge("unreachable", "bad")));
        tr.appendChild(td(r.calls === null ? "–" : r.calls, "n"));
        tr.appendChild(td(r.streams_in === null ? "–" : r.streams_in, "n"));
        tr.appendChild(td(r.streams_out === null ? "–" : r.streams_out, "n"));
        tr.appendChild(td(r.connections === null ? "–" : r.connections, "n"));
        tr.appendChild(td(S.formatPercent(r.cpu), "n"));
        tr.appendChild(td(r.relayed_streams, "n"));
        tr.appendChild(td(S.formatAge(r.age_ms), "n"));
        tr.appendChild(td(el("a", "dashboard ↗", {href: r.dashboard})));
        return tr;
      }),
      "No edges in loadbalancing.xml",
    );
  }

  function renderStreams(h) {
    const isOrigin = Array.isArray(h.edges);
    const rows = S.streamRows(h);
    $("streams-count").textContent = rows.length;
    fillTable(
      $("streams"),
      rows.map((r) => {
        const tr = el("tr", null, {"data-stream": r.stream});
        tr.appendChild(td(el("b", r.stream), "stream"));
        tr.appendChild(td(r.mediaSessionId, "mono publisher"));
        tr.appendChild(td(r.connected ? badge("publishing", "ok") : badge("connecting", "wait")));
        tr.appendChild(td(r.tracks));
        tr.appendChild(td(S.formatBps(r.video_bps), "n video-in"));
        tr.appendChild(td(r.viewers, "n viewers"));
        tr.appendChild(td(S.formatBps(r.viewers_bps), "n sent"));
        if (isOrigin) {
          tr.appendChild(td(r.relayed_to.length ? "edge " + r.relayed_to.join(", ") : "–", "relayed"));
        }
        return tr;
      }),
      "No published streams",
    );
  }

  function renderViewers(h) {
    const viewers = Array.isArray(h.viewers) ? h.viewers : [];
    $("viewers-count").textContent = viewers.length;
    fillTable(
      $("viewers"),
      viewers.map((v) => {
        const tr = el("tr", null, {"data-viewer": v.mediaSessionId, "data-stream": v.stream});
        tr.appendChild(td(el("b", v.stream)));
        tr.appendChild(td(v.mediaSessionId, "mono"));
        tr.appendChild(td(v.layer === null || v.layer === undefined ? "–" : v.layer));
        tr.appendChild(td(S.formatBps(v.sending_bps), "n sending"));
        tr.appendChild(td(S.formatBps(v.estimate_bps), "n"));
        tr.appendChild(td(v.video_paused ? badge("paused", "bad") : badge("flowing", "ok")));
        return tr;
      }),
      "No viewers with a report yet (players report about once a second)",
    );
  }

  function renderWorkers(h, atMs) {
    const workers = Array.isArray(h.workers) ? h.workers : [];
    fillTable(
      $("workers"),
      workers.map((w) => {
        const id = String(w.id);
        if (!workerMeters.has(id)) {
          workerMeters.set(id, new S.RateMeter());
        }
        const r = workerMeters.get(id).update({workers: [w]}, atMs);
        const reasons = DROP_COUNTERS.filter((k) => w[k]);
        const dropped = reasons.reduce((sum, k) => sum + w[k], 0);
        const tr = el("tr", null, {"data-worker": id});
        tr.appendChild(td(el("b", "#" + id)));
        tr.appendChild(td(r ? S.formatBps(r.bps_in) : "–", "n"));
        tr.appendChild(td(r ? S.formatBps(r.bps_out) : "–", "n"));
        tr.appendChild(td(r ? S.formatRate(r.pps_in) : "–", "n"));
        tr.appendChild(td(r ? S.formatRate(r.pps_out) : "–", "n"));
        tr.appendChild(td(r ? S.formatRate(r.forwarded_pps) : "–", "n"));
        tr.appendChild(td(w.retransmitted, "n"));
        const lost = w.upstream_given_up || 0;
        const upstream = td(lost, "n upstream" + (lost ? " warnnum" : ""));
        upstream.title = "recovered (repaired or late): " + (w.upstream_repaired || 0);
        tr.appendChild(upstream);
        const cell = td(dropped, "n" + (dropped ? " warnnum" : ""));
        // Which counters make up the sum, on hover.
        cell.title = reasons.map((k) => k + ": " + w[k]).join("\n");
        tr.appendChild(cell);
        return tr;
      }),
      "No workers",
    );
  }

  // --- polling ---

  let healthUrl = null;
  let lastOk = null;
  let failures = 0;
  let polls = 0;

  function setState(state, text) {
    document.body.dataset.state = state;
    const pill = $("state");
    pill.textContent = text;
    pill.className = "pill " + state;
  }

  function clock(ms) {
    return new Date(ms).toLocaleTimeString([], {hour12: false});
  }

  function onAnswer(h, now) {
    failures = 0;
    lastOk = now;
    const rates = meter.update(h, now);
    const viewersBps = S.viewersBps(h);
    charts.bitrate.push(now, rates ? [rates.bps_in, rates.bps_out] : [null, null]);
    charts.packets.push(now, rates ? [rates.pps_in, rates.pps_out] : [null, null]);
    charts.peers.push(now, [h.streams, h.players]);
    charts.cpu.push(now, [pct(h.process_cpu_load), pct(h.system_cpu_load)]);
    renderSummary(h, rates, viewersBps);
    renderEdges(h);
    renderStreams(h);
    renderViewers(h);
    renderWorkers(h, now);
    $("alert").hidden = true;
    setState("live", "live");
    $("updated").textContent = "updated " + clock(now);
  }

  function onFailure(reason, now) {
    failures += 1;
    // The next answer starts new intervals: rates across the outage would be averages.
    meter.reset();
    workerMeters.clear();
    for (const chart of Object.values(charts)) {
      chart.push(now, null);
    }
    setState("down", "not answering");
    const since = lastOk === null ? "" : " since " + clock(lastOk);
    const alert = $("alert");
    alert.hidden = false;
    alert.textContent =
      healthUrl + " is not answering" + since + " (" + reason + "). Retrying every second; " +
      failures + " failed " + (failures === 1 ? "attempt" : "attempts") + ".";
  }

  async function pollOnce() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const res = await fetch(healthUrl, {cache: "no-store", signal: controller.signal});
      if (!res.ok) {
        throw new Error("HTTP " + res.status);
      }
      const body = await res.json();
      if (!body || body.status !== "ok") {
        throw new Error("unexpected answer");
      }
      onAnswer(body, Date.now());
    } catch (e) {
      onFailure(e && e.name === "AbortError" ? "timed out" : (e && e.message) || String(e), Date.now());
    } finally {
      clearTimeout(timer);
      polls += 1;
      document.body.dataset.polls = String(polls);
      drawCharts(Date.now());
    }
  }

  async function loop() {
    for (;;) {
      const started = Date.now();
      await pollOnce();
      const wait = Math.max(0, PERIOD_MS - (Date.now() - started));
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  function start() {
    try {
      healthUrl = S.healthUrl(window.location.search, window.location.origin);
    } catch (e) {
      setState("down", "bad node=");
      $("alert").hidden = false;
      $("alert").textContent = e.message;
      return;
    }
    const node = healthUrl.replace(/\/health$/, "").replace(/^https?:\/\//, "");
    $("node").textContent = node;
    document.title = "rtcdn dashboard · " + node;
    window.addEventListener("resize", () => drawCharts(Date.now()));
    drawCharts(Date.now());
    loop();
  }

  start();
})();
