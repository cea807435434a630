// One run of two players of one stream, one of them behind a thin downlink, started by
// downlink.test.mjs inside a private network namespace: `node downlink_path.mjs <seconds>`.
//
// Three namespaces (thin_downlink.mjs): this one (the publisher's and the wide player's
// Chromium), the server's, and the thin player's, each joined to the server's by a veth pair;
// the server's side of the thin player's pair limits UDP to 320 kbit/s (queue up to 400 ms), so
// the media rtcdn sends that player beyond the limit waits, then drops. The official Web SDK
// publishes 1280x720 from Chromium's fake camera; once it sends more than the thin link carries
// (PUBLISHER_KBPS), both players play it; for <seconds> the
// players' `notEnoughBandwidth` stream events (the SDK's STREAM_EVENT) and decoded frames are
// recorded, and what the server sent toward the thin player (tc's byte and drop counts). One
// `RESULT {json}` line is printed.

import fs from 'node:fs';
import { launchBrowser, startServer, streamName, tempDir } from './helpers.mjs';
import { printResult } from './netns.mjs';
import { openSdkClient, videoStats, waitStatus } from './sdk_page.mjs';
import { SERVER_ADDR, THIN, thinDownlinkNetwork } from './thin_downlink.mjs';

const RUN_DEADLINE_MS = 150000;
/** The server's sends toward the thin player are measured from this long after play. */
const SETTLE_MS = 8000;
/** The players start once the publisher sends at least this much video (kbit/s: clearly more
 * than the thin link carries), or after PUBLISHER_RAMP_MS. Chromium starts a publish at a few
 * hundred kbit/s and ramps up over seconds; before that the stream fits the thin link and
 * there is nothing to detect yet. */
const PUBLISHER_KBPS = 450;
const PUBLISHER_RAMP_MS = 30000;

/** The publisher's video send rate (kbit/s) over the next second. */
async function publisherKbps(publisher) {
  const sent = async () => (await publisher.evaluate(() => window.rtOutboundLayers())).reduce((a, l) => a + (l.bytesSent || 0), 0);
  const before = await sent();
  const t0 = Date.now();
  await new Promise((r) => setTimeout(r, 1000));
  return Math.round((((await sent()) - before) * 8) / (Date.now() - t0));
}

async function measure(seconds) {
  const net = thinDownlinkNetwork('dl');
  const dir = tempDir('rtcdn-downlink-');
  // Chromium for the thin player runs in its namespace (Playwright talks to it over pipes).
  const wrapper = net.chromiumWrapper(dir);
  const server = await startServer({
    codecs: 'opus,vp8',
    extra: { ip: SERVER_ADDR },
    launcher: ['nsenter', `--net=/run/netns/${net.server}`],
  });
  const browsers = [];
  try {
    const secure = [`--unsafely-treat-insecure-origin-as-secure=${server.httpUrl}`];
    const here = await launchBrowser({ extraArgs: secure });
    browsers.push(here);
    const thinBrowser = await launchBrowser({ extraArgs: secure, executablePath: wrapper });
    browsers.push(thinBrowser);
    const page = `${server.httpUrl}/sdk_client.html`;
    const publisher = await openSdkClient(here, page, 'publisher', 30000);
    const wide = await openSdkClient(here, page, 'wide player', 30000);
    const thin = await openSdkClient(thinBrowser, page, 'thin player', 30000);
    const name = streamName('downlink');
    await publisher.evaluate(
      ([url, n]) => window.rtStart('publish', url, n, { video: { width: 1280, height: 720 } }),
      [server.wsUrl, name],
    );
    const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher', { timeoutMs: 30000 });
    if (published.status !== 'PUBLISHING') throw new Error(`publish failed: ${published.info}`);
    const rampStart = Date.now();
    let publisherKbpsAtPlay = await publisherKbps(publisher);
    while (publisherKbpsAtPlay < PUBLISHER_KBPS && Date.now() - rampStart < PUBLISHER_RAMP_MS) {
      publisherKbpsAtPlay = await publisherKbps(publisher);
    }
    const publisherRampMs = Date.now() - rampStart;
    for (const [p, label] of [[wide, 'wide player'], [thin, 'thin player']]) {
      await p.evaluate(([url, n]) => window.rtStart('play', url, n), [server.wsUrl, name]);
      const playing = await waitStatus(p, ['PLAYING', 'FAILED'], label, { timeoutMs: 30000 });
      if (playing.status !== 'PLAYING') throw new Error(`${label}: play failed: ${playing.info}`);
    }
    const before = net.thinStats();
    // What the server sends toward the thin player once it has had time to react (its
    // estimate, the pause of its video): from SETTLE_MS after play to the end, what the limit
    // let through plus what it dropped (at the mean size of what it let through).
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const settled = net.thinStats();
    const settledAt = Date.now();
    await new Promise((r) => setTimeout(r, seconds * 1000 - SETTLE_MS));
    const after = net.thinStats();
    const windowSecs = (Date.now() - settledAt) / 1000;
    const meanSize = (after.bytes - settled.bytes) / Math.max(1, after.packets - settled.packets);
    const offeredBytes = after.bytes - settled.bytes + (after.dropped - settled.dropped) * meanSize;
    const state = async (p, label) => ({
      events: await p.evaluate(() => window.rt.log.filter((e) => e.kind === 'event')),
      parsed: await p.evaluate(() => window.rt.bandwidth || null),
      startedAt: await p.evaluate(() => performance.timeOrigin + window.rt.startedAt),
      video: await videoStats(p, label),
    });
    const thinState = await state(thin, 'thin player');
    const wideState = await state(wide, 'wide player');
    const origin = await thin.evaluate(() => performance.timeOrigin);
    return {
      seconds,
      publisherKbpsAtPlay,
      publisherRampMs,
      thinLink: THIN,
      thinSentKbps: Math.round(((after.bytes - before.bytes) * 8) / seconds / 1000),
      settleMs: SETTLE_MS,
      thinOfferedKbps: Math.round((offeredBytes * 8) / windowSecs / 1000),
      thinDroppedAfterSettle: after.dropped - settled.dropped,
      thin: thinState,
      wide: wideState,
      // From the thin player's play() to its first event.
      firstThinEventMs: thinState.events.length
        ? Math.round(origin + thinState.events[0].t - thinState.startedAt)
        : null,
    };
  } catch (e) {
    console.error(`--- rtcdn output ---\n${server.output()}`);
    throw e;
  } finally {
    for (const b of browsers) await b.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    net.remove();
  }
}

const seconds = Number(process.argv[2]);
if (!(seconds > 0)) {
  console.error('usage: node downlink_path.mjs <seconds>   (inside unshare --net)');
  process.exit(2);
}
await printResult('downlink_path', RUN_DEADLINE_MS, () => measure(seconds));
