// One measurement of the CDN over a lossy network, run by loss.test.mjs inside a private network
// namespace (`unshare --net`): `node lossy_path.mjs <loss %> <seconds>`.
//
// In the namespace only `lo` exists; an nftables rule on the input hook drops <loss %> of every
// UDP datagram at random, so each media link loses that share in each direction: publisher <->
// origin, origin <-> edge (the relay) and edge <-> viewer. Signalling (TCP) is not impaired.
// Then: one origin and one edge (real processes), Chromium with the official Web SDK publishing
// on the origin and a viewer sent to the edge by the origin's balancer (lbUrl). Once the viewer
// decodes, the counters of both browsers (getStats) and of both servers (/health) are read, then
// again <seconds> later; the differences are printed as one `RESULT {json}` line.
//
// Refuses to run outside a namespace that has only `lo` (it would drop the host's UDP).

import { expectVideoPlaying, launchBrowser, startCdn, streamName, withTimeout } from './helpers.mjs';
import { ownLoopback, printResult, sh } from './netns.mjs';
import { openSdkClient, videoStats, waitBalancerKnows, waitStatus, wsPort } from './sdk_page.mjs';

/** VP8, as in the report that opened the loss-recovery work. */
const CODECS = 'opus,vp8';
/** The publisher's camera (Chromium's fake device produces what is asked for). */
const VIDEO = { width: 640, height: 480 };
/** Statuses and the first frame may take longer when handshakes lose packets. */
const LOSSY_STATUS_TIMEOUT_MS = 30000;
/** Time after the first decoded frame before the window starts (the sender's rate ramps up). */
const WARMUP_MS = 3000;
/** The whole run must end by then, whatever hangs. */
const RUN_DEADLINE_MS = 150000;

/** Brings `lo` up and drops `loss` % of the UDP datagrams it delivers (input hook). */
function impairLoopback(loss) {
  ownLoopback();
  if (loss > 0) {
    sh('nft', ['add', 'table', 'inet', 'lossy']);
    sh('nft', ['add', 'chain', 'inet', 'lossy', 'inp', '{ type filter hook input priority 0; }']);
    sh('nft', ['add', 'rule', 'inet', 'lossy', 'inp', 'meta', 'l4proto', 'udp', 'numgen', 'random', 'mod', '100', 'lt', String(loss), 'drop']);
  }
}

/** The sum over the workers of each counter in the server's /health. */
async function healthCounters(server) {
  const res = await withTimeout(fetch(`${server.httpUrl}/health`), 5000, `/health of port ${server.port}`);
  const body = await res.json();
  const sum = {};
  for (const w of body.workers) {
    for (const [k, v] of Object.entries(w)) {
      if (k !== 'id' && typeof v === 'number') sum[k] = (sum[k] || 0) + v;
    }
  }
  return sum;
}

/** `after - before` for every numeric field of `after` (gauges such as frameWidth kept as is). */
function delta(before, after) {
  const gauges = new Set([
    'frameWidth',
    'frameHeight',
    'framesPerSecond',
    'type',
    'targetBitrate',
    'availableOutgoingBitrate',
  ]);
  const out = {};
  for (const [k, v] of Object.entries(after || {})) {
    out[k] = gauges.has(k) || typeof v !== 'number' ? v : v - ((before && before[k]) || 0);
  }
  return out;
}

async function measure(loss, seconds) {
  impairLoopback(loss);
  const cdn = await startCdn({ edges: 1, codecs: CODECS });
  let browser = null;
  const pages = {};
  try {
    const { origin } = cdn;
    const edge = cdn.edges[0];
    await waitBalancerKnows(origin, [edge.port]);
    browser = await launchBrowser();
    const pageUrl = `${origin.httpUrl}/sdk_client.html`;
    const publisher = await openSdkClient(browser, pageUrl, 'publisher');
    const player = await openSdkClient(browser, pageUrl, 'player');
    Object.assign(pages, { publisher, player });
    const name = streamName('lossy');
    const lbUrl = `${origin.httpUrl}/?action=balance`;

    await publisher.evaluate(([url, n, video]) => window.rtStart('publish', url, n, { video }), [origin.wsUrl, name, VIDEO]);
    const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher', {
      timeoutMs: LOSSY_STATUS_TIMEOUT_MS,
    });
    if (published.status !== 'PUBLISHING') throw new Error(`publish failed: ${published.info}`);
    await player.evaluate(
      ([url, n, lb]) => window.rtStart('play', url, n, { lbUrl: lb, waitAvailable: true }),
      [origin.wsUrl, name, lbUrl],
    );
    const playing = await waitStatus(player, ['PLAYING', 'FAILED'], 'player', { timeoutMs: LOSSY_STATUS_TIMEOUT_MS });
    if (playing.status !== 'PLAYING') throw new Error(`play failed: ${playing.info}`);
    const playerUrl = await player.evaluate(() => window.rtServerUrl());
    if (wsPort(playerUrl) !== edge.port) throw new Error(`the viewer connected to ${playerUrl}, not to the edge`);
    await expectVideoPlaying(player, '#display video', { timeoutMs: LOSSY_STATUS_TIMEOUT_MS, windowMs: WARMUP_MS });

    const read = async () => ({
      player: await videoStats(player, 'player'),
      publisher: await videoStats(publisher, 'publisher'),
      origin: await healthCounters(origin),
      edge: await healthCounters(edge),
    });
    const before = await read();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const after = await read();
    const result = { loss, seconds, codecs: CODECS };
    for (const k of Object.keys(after)) result[k] = delta(before[k], after[k]);
    return result;
  } catch (e) {
    for (const [label, page] of Object.entries(pages)) {
      const state = await page
        .evaluate(async () => ({ log: window.rt.log, stats: window.rt.stream && (await window.rtVideoStats()) }))
        .catch((err) => err.message);
      console.error(`--- ${label} ---\n${JSON.stringify(state)}`);
    }
    for (const server of [cdn.origin, ...cdn.edges]) {
      console.error(`/health of ${server.port}: ${JSON.stringify(await healthCounters(server).catch((err) => err.message))}`);
    }
    console.error(`--- rtcdn output ---\n${cdn.output()}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await cdn.stop();
  }
}

const [loss, seconds] = process.argv.slice(2).map(Number);
if (!(loss >= 0 && loss < 100) || !(seconds > 0)) {
  console.error('usage: node lossy_path.mjs <loss %> <seconds>   (inside unshare --net)');
  process.exit(2);
}
await printResult('lossy_path', RUN_DEADLINE_MS, () => measure(loss, seconds));
