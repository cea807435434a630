// The live dashboard (web/dashboard.html, embedded in the binary) in headless Chromium, on a
// static CDN of real processes: an origin whose loadbalancing.xml names one edge. The official
// Web SDK publishes on the origin; one viewer plays on the origin, two on the edge (the origin
// relays the stream there). The dashboard is opened on both nodes and, through the origin's
// edge link (`?node=`, a cross-origin /health request), on the edge again. The test waits until
// the charts have drawn a few points, checks what the tables show, saves full-page screenshots
// (target/dashboard-origin.png, target/dashboard-edge.png), then kills the edge: its dashboard
// shows the node is not answering and keeps retrying, the origin's shows the edge unreachable.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { expectVideoPlaying, launchBrowser, repoRoot, startCdn, streamName, waitInPage } from './helpers.mjs';
import { openSdkClient, waitBalancerKnows, waitStatus } from './sdk_page.mjs';

/** How long the dashboard may take to show what the nodes report (reports come every second). */
const SHOW_MS = 20000;

/** Where the screenshots go (relative to the repository root). */
const SHOTS = path.join(repoRoot, 'target');

/** Starts `role` ('publish' | 'play') of `name` on `wsUrl` in a new SDK page; waits for its status. */
async function sdkClient(browser, httpUrl, label, role, wsUrl, name, options) {
  const page = await openSdkClient(browser, `${httpUrl}/sdk_client.html`, label);
  await page.evaluate(([r, url, n, o]) => window.rtStart(r, url, n, o), [role, wsUrl, name, options || {}]);
  const want = role === 'publish' ? 'PUBLISHING' : 'PLAYING';
  const st = await waitStatus(page, [want, 'FAILED'], label);
  assert.equal(st.status, want, `${label}: ${st.info}`);
  return page;
}

/** Opens a dashboard page at a screenshot-friendly size and waits until it answered once. */
async function openDashboard(browser, url, label) {
  const page = await browser.newPage(label);
  await page.setViewportSize({ width: 1360, height: 900 });
  await page.goto(url);
  await waitInPage(page, () => document.body.dataset.state === 'live', undefined, SHOW_MS, `${label}: never live`);
  return page;
}

/** Waits until every chart of the page has drawn at least `n` points of a series. */
async function waitChartsDrawn(page, n, label) {
  await waitInPage(
    page,
    (min) =>
      [...document.querySelectorAll('canvas')].every((c) => Number(c.dataset.points || 0) >= min),
    n,
    SHOW_MS,
    `${label}: the charts did not draw ${n} points`,
  );
}

/** The text of the cell `cls` in the streams table's row of `name` (null if no row). */
async function streamCell(page, name, cls) {
  return page.evaluate(
    ([n, c]) => {
      const row = [...document.querySelectorAll('#streams tbody tr')].find((r) => r.dataset.stream === n);
      return row ? row.querySelector(`td.${c}`)?.textContent ?? null : null;
    },
    [name, cls],
  );
}

/** Waits until the stream's row shows a non-zero received rate and `viewers` viewers sent a non-zero rate. */
async function waitStreamFlowing(page, name, viewers, label) {
  await waitInPage(
    page,
    ([n, v]) => {
      const row = [...document.querySelectorAll('#streams tbody tr')].find((r) => r.dataset.stream === n);
      if (!row) return false;
      const text = (c) => row.querySelector(`td.${c}`).textContent;
      const nonZero = (t) => /^[0-9.]+ [kMG]?bit\/s$/.test(t) && parseFloat(t) > 0;
      const reported = [...document.querySelectorAll('#viewers tbody tr')].filter(
        (r) => r.dataset.stream === n && nonZero(r.querySelector('td.sending').textContent),
      );
      return nonZero(text('video-in')) && text('viewers') === String(v) && nonZero(text('sent')) && reported.length === v;
    },
    [name, viewers],
    SHOW_MS,
    `${label}: stream ${name} never showed a rate in and ${viewers} viewers with a rate`,
  );
}

/** What the page's summary and legends show. */
async function summary(page) {
  return page.evaluate(() => {
    const text = (id) => document.getElementById(id).textContent;
    const legend = (chart, series) =>
      document.querySelector(`#legend-${chart} b[data-series="${series}"]`).textContent;
    return {
      role: text('role'),
      streams: text('s-streams'),
      viewers: text('s-viewers'),
      workers: text('s-workers'),
      // Per worker row: packets lost upstream for good, and the recovered ones on hover.
      lostUpstream: [...document.querySelectorAll('#workers tbody tr[data-worker] td.upstream')].map((c) => ({
        lost: c.textContent,
        recovered: c.title,
      })),
      // What is shown: null when the tile or the card is not displayed.
      edges: document.getElementById('t-edges').checkVisibility() ? text('s-edges') : null,
      edgesCard: document.getElementById('edges-card').checkVisibility(),
      bitrateIn: legend('bitrate', 'in'),
      bitrateOut: legend('bitrate', 'out'),
      packetsIn: legend('packets', 'in'),
      packetsOut: legend('packets', 'out'),
      streamRows: document.querySelectorAll('#streams tbody tr[data-stream]').length,
      viewerRows: [...document.querySelectorAll('#viewers tbody tr[data-viewer]')].map((r) => r.dataset.stream),
      edgeRows: [...document.querySelectorAll('#edges tbody tr[data-edge]')].map((r) => ({
        id: r.dataset.edge,
        reachable: r.dataset.reachable,
        status: r.cells[2].textContent,
        relayed: r.cells[8].textContent,
      })),
    };
  });
}

/** Parses "1.25 Mbit/s" / "450/s" style legend values to a number in base units. */
function parseFigure(text) {
  const m = /^([0-9.]+) ?([kMG]?)/.exec(text);
  if (!m) return NaN;
  return parseFloat(m[1]) * { '': 1, k: 1e3, M: 1e6, G: 1e9 }[m[2]];
}

async function screenshot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  const file = path.join(SHOTS, name);
  // Charts redraw every second: take the picture right after a fresh draw.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => r())));
  await page.screenshot({ path: file, fullPage: true });
  console.log(`[dashboard] screenshot: ${file}`);
}

test('dashboard: origin and edge pages show streams, viewers, rates and edges; a dead node is shown', { timeout: 150000 }, async () => {
  const cdn = await startCdn({ edges: 1, mode: 'ROUNDROBIN' });
  let browser = null;
  try {
    const { origin } = cdn;
    const [edge] = cdn.edges;
    await waitBalancerKnows(origin, [edge.port]);
    browser = await launchBrowser();
    const name = streamName('dash');

    await sdkClient(browser, origin.httpUrl, 'publisher', 'publish', origin.wsUrl, name);
    const originViewer = await sdkClient(browser, origin.httpUrl, 'origin viewer', 'play', origin.wsUrl, name);
    const edgeViewers = [];
    for (const label of ['edge viewer 1', 'edge viewer 2']) {
      edgeViewers.push(await sdkClient(browser, edge.httpUrl, label, 'play', edge.wsUrl, name, { waitAvailable: true }));
    }
    await expectVideoPlaying(originViewer, '#display video', { timeoutMs: 15000, windowMs: 1000 });
    for (const v of edgeViewers) await expectVideoPlaying(v, '#display video', { timeoutMs: 15000, windowMs: 1000 });

    const originDash = await openDashboard(browser, `${origin.httpUrl}/dashboard.html`, 'origin dashboard');
    const edgeDash = await openDashboard(browser, `${edge.httpUrl}/dashboard.html`, 'edge dashboard');
    await waitStreamFlowing(originDash, name, 1, 'origin dashboard');
    await waitStreamFlowing(edgeDash, name, 2, 'edge dashboard');
    await waitChartsDrawn(originDash, 5, 'origin dashboard');
    await waitChartsDrawn(edgeDash, 5, 'edge dashboard');
    await waitInPage(
      originDash,
      () => document.querySelector('#edges tbody tr[data-edge="1"] td:nth-child(9)')?.textContent === '1',
      undefined,
      SHOW_MS,
      'origin dashboard: the edge never showed one relayed stream',
    );

    const o = await summary(originDash);
    console.log(`[dashboard] origin: ${JSON.stringify(o)}`);
    assert.equal(o.role, 'origin');
    assert.equal(o.streams, '1', 'one published stream (one publisher) on the origin');
    assert.equal(o.streamRows, 1);
    assert.equal(o.viewers, '1', 'the origin has one player (relay legs are not players)');
    assert.deepEqual(o.viewerRows, [name]);
    assert.equal(o.workers, '2');
    assert.deepEqual(
      o.lostUpstream.map((w) => w.lost),
      ['0', '0'],
      'nothing lost upstream on loopback, shown per worker',
    );
    assert.match(o.lostUpstream[0].recovered, /^recovered \(repaired or late\): \d+$/);
    assert.equal(o.edges, '1 / 1');
    assert.equal(o.edgesCard, true);
    assert.deepEqual(o.edgeRows, [{ id: '1', reachable: 'true', status: 'reachable', relayed: '1' }]);
    assert.equal(await streamCell(originDash, name, 'relayed'), 'edge 1');
    assert.ok(parseFigure(o.bitrateIn) > 100e3, `origin receives the publisher's media: ${o.bitrateIn}`);
    assert.ok(parseFigure(o.bitrateOut) > 100e3, `origin sends to its viewer and the edge: ${o.bitrateOut}`);
    assert.ok(parseFigure(o.packetsIn) > 10 && parseFigure(o.packetsOut) > 10, `${o.packetsIn} ${o.packetsOut}`);

    const e = await summary(edgeDash);
    console.log(`[dashboard] edge: ${JSON.stringify(e)}`);
    assert.equal(e.role, 'node');
    assert.equal(e.edges, null, 'an edge shows no edges tile');
    assert.equal(e.edgesCard, false, 'an edge shows no edges table');
    assert.equal(e.streams, '1', 'the relayed stream is published on the edge');
    assert.equal(e.viewers, '2');
    assert.deepEqual(e.viewerRows, [name, name]);
    assert.equal(await streamCell(edgeDash, name, 'viewers'), '2');
    assert.ok(parseFigure(e.bitrateIn) > 100e3 && parseFigure(e.bitrateOut) > 100e3, `${e.bitrateIn} ${e.bitrateOut}`);

    // The origin's link to the edge's dashboard: this page watches the edge cross-origin.
    const href = await originDash.evaluate(() => document.querySelector('#edges tbody tr[data-edge="1"] a').href);
    assert.equal(new URL(href).searchParams.get('node'), `http://127.0.0.1:${edge.port}`);
    const linked = await openDashboard(browser, href, 'edge via the origin');
    await waitStreamFlowing(linked, name, 2, 'edge dashboard opened from the origin');
    assert.equal(await linked.evaluate(() => document.getElementById('node').textContent), `127.0.0.1:${edge.port}`);
    await linked.close();

    // A screenshot for people: let the charts fill half of their first 30 s window.
    await waitChartsDrawn(originDash, 15, 'origin dashboard');
    await waitChartsDrawn(edgeDash, 15, 'edge dashboard');
    await screenshot(originDash, 'dashboard-origin.png');
    await screenshot(edgeDash, 'dashboard-edge.png');

    // The edge dies: its page says so and keeps polling; the origin's marks it unreachable.
    await edge.stop();
    await waitInPage(edgeDash, () => document.body.dataset.state === 'down', undefined, SHOW_MS, 'edge dashboard: never down');
    const pollsDown = await edgeDash.evaluate(() => Number(document.body.dataset.polls));
    const alert = await edgeDash.evaluate(() => document.getElementById('alert').textContent);
    assert.match(alert, /is not answering/);
    await waitInPage(
      edgeDash,
      (n) => Number(document.body.dataset.polls) >= n + 2 && document.body.dataset.state === 'down',
      pollsDown,
      SHOW_MS,
      'edge dashboard: stopped retrying',
    );
    await waitInPage(
      originDash,
      () => document.querySelector('#edges tbody tr[data-edge="1"]')?.dataset.reachable === 'false',
      undefined,
      SHOW_MS,
      'origin dashboard: the dead edge still shows reachable',
    );
    const after = await summary(originDash);
    assert.equal(after.edges, '0 / 1');
    assert.equal(after.edgeRows[0].status, 'unreachable');
    console.log(`[dashboard] after the edge died: edge page "${alert}"; origin shows edges ${after.edges}`);
  } catch (e) {
    console.log(`--- rtcdn output ---\n${cdn.output()}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await cdn.stop();
  }
});
