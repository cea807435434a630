// Simulcast with the official Web SDK: a publisher sends 1280x720 as three layers (the demo's
// simulcast option, web/js/simulcast.js: rids l, m, h at 320x180, 640x360, 1280x720); a player
// behind a 320 kbit/s downlink and an unlimited player play it (see simulcast_path.mjs).
// Judged, from the server's /health (`viewers[]`: the layer each player is sent) and the
// players' own statistics:
//   - the publisher's offer carries `a=simulcast:send l;m;h` and three `a=rid` lines, and the
//     server's answer keeps the three layers (the sender still has encodings l, m, h, each sent);
//   - within 10 s of play() the thin player is sent layer "l" and decodes at most 360 wide, then
//     over 10 s decodes at least 20 frames per second with no gap between frames of 1 s or more;
//   - the unlimited player is sent layer "h" and decodes 1280 wide within 10 s of its play() and
//     on every sample after that;
//   - (node case) once the limit is lifted the thin player is back on "h", 1280 wide, within 20 s.
// Cases: `node` (one server) and `cdn` (publisher on an origin, both players on an edge through
// the origin's balancer; no lift). RTCDN_SIMULCAST_CASES=node,cdn selects them.
// A run in which the publisher's Chromium was short of CPU (its quality limitation "cpu": it
// scales its layers down) is shown and run once more: it judges the machine's load, not the server. Every sample
// (layers, widths, estimates, what the publisher encodes) is printed when a check fails, or
// always with RTCDN_SIMULCAST_TIMELINE=1.
//
// Needs root (network namespaces), iproute2's tc (htb, bfifo, u32) and nsenter.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNamespace } from './netns.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUNNER = path.join(here, 'simulcast_path.mjs');
const CASES = (process.env.RTCDN_SIMULCAST_CASES || 'node,cdn').split(',').map((c) => c.trim());
const RUN_TIMEOUT_MS = 170000;
const MIN_FPS = 20;
const MAX_GAP_MS = 1000;

const ms = (x) => (x === null || x === undefined ? 'never' : `${Math.round(x)} ms`);

/** How many samples had each layer ("none" when /health named none). */
function layerCounts(samples, who) {
  const counts = {};
  for (const s of samples) {
    const layer = (s[who] && s[who].layer) || 'none';
    counts[layer] = (counts[layer] || 0) + 1;
  }
  return Object.entries(counts)
    .map(([k, v]) => `${k}:${v}`)
    .join(' ');
}

function distinct(values) {
  return [...new Set(values.filter((v) => v !== null && v !== undefined))].join(',') || '-';
}

/** The figures of one run as a table, then every check with its outcome; returns the failures. */
function judge(r) {
  const { limits } = r;
  const tag = `[simulcast ${r.mode}]`;
  const neg = r.negotiated;
  const offer = neg.offerVideo[0] || {};
  const answer = neg.answerVideo[0] || {};
  const widePlayOffset = r.players.thin.playAt - r.players.wide.playAt;
  const tl = r.timeline;
  // The wide player's first sample on the top layer at full width, in ms since its play().
  const wideTopIdx = tl.findIndex((s) => s.wide && s.wide.layer === 'h' && s.wideWidth >= limits.TOP_WIDTH);
  const wideTopMs = wideTopIdx >= 0 ? tl[wideTopIdx].t + widePlayOffset : null;
  const wideOff = wideTopIdx >= 0
    ? tl.slice(wideTopIdx + 1).filter((s) => !(s.wide && s.wide.layer === 'h' && s.wideWidth >= limits.TOP_WIDTH))
    : [];
  const win = r.window;
  const inWindow = tl.filter((s) => s.phase === 'window');
  const bps = (samples, who, f) => {
    const v = samples.map((s) => s[who] && s[who][f]).filter((x) => typeof x === 'number');
    return v.length ? `${Math.round(v.reduce((a, b) => a + b, 0) / v.length / 1000)} kbit/s` : '-';
  };
  const pubLayers = r.publisherLayers
    .map((l) => (l.bytesSent > 0 ? `${l.rid || '?'} ${l.frameWidth}x${l.frameHeight}@${Math.round(l.framesPerSecond)}` : `${l.rid || '?'} not sent`))
    .join(', ');

  const rows = [
    ['play() -> PLAYING', `${r.players.thin.playingMs} ms`, `${r.players.wide.playingMs} ms`],
    ['/health viewers[]', tl.some((s) => s.thin) ? 'listed' : 'absent', tl.some((s) => s.wide) ? 'listed' : 'absent'],
    [`layer "l" (thin) / "h" + ${limits.TOP_WIDTH} wide (wide)`, ms(r.down.layerMs), ms(wideTopMs)],
    [`decodes <= ${limits.THIN_MAX_WIDTH} wide`, ms(r.down.widthMs), ''],
    [`window ${win.seconds.toFixed(1)} s: frames/s (shown, decoded)`, `${win.fps.toFixed(1)}, ${win.decodedFps.toFixed(1)}`, ''],
    ['window: longest frame gap', `${win.maxGapMs} ms`, ''],
    ['window: freezes (Chromium), lost', `${win.freezeCount} (${win.totalFreezesDuration.toFixed(2)} s), ${win.packetsLost}`, ''],
    ['window: thin link carried, dropped', `${win.linkKbps} kbit/s, ${win.linkDropped} pkts`, ''],
    ['window: /health sending, estimate', `${bps(inWindow, 'thin', 'sending_bps')}, ${bps(inWindow, 'thin', 'estimate_bps')}`, `${bps(inWindow, 'wide', 'sending_bps')}, ${bps(inWindow, 'wide', 'estimate_bps')}`],
    ['layers over the run (samples)', layerCounts(tl, 'thin'), layerCounts(tl, 'wide')],
    ['frame widths over the run', distinct(tl.map((s) => s.thinWidth)), distinct(tl.map((s) => s.wideWidth))],
  ];
  if (r.up) rows.push(['after the lift: "h" / 1280 wide', `${ms(r.up.layerMs)} / ${ms(r.up.widthMs)}`, '']);
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length), 'thin (320 kbit/s)'.length);
  const line = (a, b, c) => `${tag} ${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`;
  console.log(
    [
      `${tag} offer: a=simulcast:${offer.simulcast}; rids ${offer.rids.map((x) => `${x.id} ${x.direction}`).join(', ')}`,
      `${tag} offer lines: ${neg.offerLines.slice(1).join(' | ')}`,
      `${tag} answer: a=simulcast:${answer.simulcast}; rids ${(answer.rids || []).map((x) => `${x.id} ${x.direction}`).join(', ') || 'none'}; sender encodings after it: ${neg.sentLayers.join(', ')}`,
      `${tag} publisher sends: ${pubLayers}`,
      r.mode === 'cdn' ? `${tag} players on ws port ${r.players.thin.serverPort} / ${r.players.wide.serverPort}, edge ${r.edgePort}` : null,
      line('figure', 'thin (320 kbit/s)', 'wide'),
      ...rows.map(([a, b, c]) => line(a, b, c)),
    ]
      .filter(Boolean)
      .join('\n'),
  );

  const checks = [
    ['offer: a=simulcast:send l;m;h', offer.simulcast === 'send l;m;h', offer.simulcast],
    ['offer: a=rid l, m, h send', JSON.stringify(offer.rids) === JSON.stringify(['l', 'm', 'h'].map((id) => ({ id, direction: 'send' }))), JSON.stringify(offer.rids)],
    ['thin link carries the thin player\'s media', win.linkKbps > 0, `${win.linkKbps} kbit/s`],
    ['answer keeps simulcast (sender encodings l, m, h)', neg.sentLayers.join() === 'l,m,h', `encodings ${neg.sentLayers.join(',')}; answer a=simulcast:${answer.simulcast}`],
    [
      'publisher sends l 320, m 640, h 1280 wide',
      ['l:320', 'm:640', 'h:1280'].every((want) => r.publisherLayers.some((l) => `${l.rid}:${l.frameWidth}` === want && l.bytesSent > 0)),
      pubLayers,
    ],
    ['/health lists both players in viewers[]', tl.some((s) => s.thin) && tl.some((s) => s.wide), tl[tl.length - 1].health],
    [`thin: layer "l" within ${limits.DOWN_WITHIN_MS} ms`, r.down.layerMs !== null && r.down.layerMs <= limits.DOWN_WITHIN_MS, ms(r.down.layerMs)],
    [`thin: decodes <= ${limits.THIN_MAX_WIDTH} wide within ${limits.DOWN_WITHIN_MS} ms`, r.down.widthMs !== null && r.down.widthMs <= limits.DOWN_WITHIN_MS, ms(r.down.widthMs)],
    [`thin: >= ${MIN_FPS} frames/s over the window`, win.fps >= MIN_FPS && win.decodedFps >= MIN_FPS, `${win.fps.toFixed(1)} shown, ${win.decodedFps.toFixed(1)} decoded`],
    [`thin: no frame gap of ${MAX_GAP_MS} ms or more in the window`, win.maxGapMs < MAX_GAP_MS, `${win.maxGapMs} ms`],
    [`wide: layer "h" at ${limits.TOP_WIDTH} wide within ${limits.DOWN_WITHIN_MS} ms`, wideTopMs !== null && wideTopMs <= limits.DOWN_WITHIN_MS, ms(wideTopMs)],
    [
      'wide: stays on "h" at full width',
      wideTopIdx >= 0 && wideOff.length === 0,
      wideOff.length ? `off at ${wideOff.map((s) => `${Math.round(s.t)} ms (${s.wide && s.wide.layer}, ${s.wideWidth})`).join(', ')}` : wideTopIdx >= 0 ? 'yes' : 'never there',
    ],
  ];
  if (r.mode === 'cdn') {
    checks.unshift([
      'both players on the edge',
      r.players.thin.serverPort === r.edgePort && r.players.wide.serverPort === r.edgePort,
      `${r.players.thin.serverPort}, ${r.players.wide.serverPort} (edge ${r.edgePort})`,
    ]);
  }
  if (r.up) {
    checks.push([
      `thin after the lift: "h" and ${limits.TOP_WIDTH} wide within ${limits.UP_WITHIN_MS} ms`,
      r.up.layerMs !== null && r.up.widthMs !== null && Math.max(r.up.layerMs, r.up.widthMs) <= limits.UP_WITHIN_MS,
      `${ms(r.up.layerMs)} / ${ms(r.up.widthMs)}`,
    ]);
  }
  for (const [name, ok, detail] of checks) console.log(`${tag} ${ok ? 'ok  ' : 'FAIL'} ${name}: ${detail}`);
  const failed = checks.filter(([, ok]) => !ok);
  if (process.env.RTCDN_SIMULCAST_TIMELINE || failed.length) {
    // Every sample: what each player was sent and decoded, and what the publisher encoded;
    // the thin player's frames received/dropped, keyframes decoded, packets received/lost,
    // NACKs, PLIs and freezes.
    const kbps = (v) => (typeof v === 'number' ? Math.round(v / 1000) : '-');
    const pub = (p) => ['l', 'm', 'h'].map((rid) => (p && p[rid] ? `${rid} ${p[rid].w}@${p[rid].fps}${p[rid].qlr && p[rid].qlr !== 'none' ? ` ${p[rid].qlr}` : ''}` : `${rid} -`)).join(', ');
    for (const s of tl) {
      const v = (who) => (s[who] ? `${s[who].layer || '-'} ${s[`${who}Width`]}${who === 'thin' ? ` n=${s.thinFrames}` : ''} est ${kbps(s[who].estimate_bps)} snd ${kbps(s[who].sending_bps)}` : '-');
      console.log(`${tag}   t ${String(Math.round(s.t)).padStart(6)} ${s.phase.padEnd(6)} thin ${v('thin').padEnd(38)} wide ${v('wide').padEnd(34)} publisher ${pub(s.pub)}; thin rx ${s.thinRx}`);
    }
  }
  return failed.map(([name, , detail]) => `${name} (${detail})`);
}

/**
 * The samples (ms) at which the publisher's Chromium was short of CPU: it reported the quality
 * limitation "cpu" (it scales its input down, or drops frames, when encoding takes too long).
 * On this 2-core machine that happens only when something else loads it; the publisher then
 * sends other layers than the run is about.
 */
function publisherShortOfCpu(r) {
  return r.timeline.filter((s) => s.pub && Object.values(s.pub).some((p) => p.qlr === 'cpu')).map((s) => Math.round(s.t));
}

for (const mode of ['node', 'cdn']) {
  const title =
    mode === 'node'
      ? 'simulcast: the thin player gets layer l at >= 20 fps, the wide one h; lifting the limit brings the thin one back to h'
      : 'simulcast through the CDN: both players on an edge; the edge sends the thin one l, the wide one h';
  test(title, { skip: !CASES.includes(mode), timeout: 2 * RUN_TIMEOUT_MS + 10000 }, async () => {
    const run = () => runInNamespace(RUNNER, mode === 'node' ? [mode, 'lift'] : [mode], RUN_TIMEOUT_MS);
    let r = await run();
    let short = publisherShortOfCpu(r);
    if (short.length) {
      // Not a judgement of the server: the publisher sent what a starved encoder sends.
      // Shown for the record, then run once more.
      judge(r);
      console.log(`[simulcast ${mode}] the publisher's Chromium was short of CPU at ${short.join(', ')} ms (the machine was loaded): run again`);
      r = await run();
      short = publisherShortOfCpu(r);
    }
    const failed = judge(r);
    if (failed.length && short.length) failed.push(`the publisher's Chromium was short of CPU in both runs (at ${short.join(', ')} ms of the second): the machine is overloaded`);
    assert.deepEqual(failed, [], `simulcast ${mode}: failed checks`);
  });
}
