// Real browser traffic for the fuzz seed corpora (see fuzz/README.md, "Seeds"): an origin and
// an edge with stream_distribution="rtp", headless Chromium publishing on the origin with the
// official Web SDK, one viewer playing on the origin and one on the edge (through the
// origin's balancer). Run it while fuzz/capture/sniff.py records the loopback interface:
// the pcap then holds Chrome's STUN checks, DTLS ClientHello and SRTP/SRTCP (headers in
// clear), the plain RTP/RTCP of the origin->edge relay, and the SDK's websocket frames.
// Usage: RTCDN_BROWSER_CACHE=... node fuzz/capture/traffic.mjs [codecs] [seconds]

import {
  expectVideoPlaying,
  launchBrowser,
  loadbalancingXml,
  startServer,
  streamName,
} from '../../tests/browser/helpers.mjs';
import { openSdkClient, waitBalancerKnows, waitStatus } from '../../tests/browser/sdk_page.mjs';

const codecs = process.argv[2] || 'opus,vp8';
const seconds = Number(process.argv[3] || 6);
const secret = 'fuzz-seed-capture-secret';
const started = [];
let browser = null;
try {
  const edge = await startServer({ codecs, extra: { cdn_relay_secret: secret } });
  started.push(edge);
  const origin = await startServer({
    codecs,
    extra: { load_balancing_enabled: 'true', cdn_relay_secret: secret },
    files: { 'loadbalancing.xml': loadbalancingXml([edge.port], { distribution: 'rtp' }) },
  });
  started.push(origin);
  await waitBalancerKnows(origin, [edge.port]);
  browser = await launchBrowser();
  const name = streamName('seed');
  const publisher = await openSdkClient(browser, `${origin.httpUrl}/sdk_client.html`, 'publisher');
  await publisher.evaluate(([url, n]) => window.rtStart('publish', url, n), [origin.wsUrl, name]);
  const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher');
  if (published.status !== 'PUBLISHING') throw new Error(`publish failed: ${published.info}`);

  const local = await openSdkClient(browser, `${origin.httpUrl}/sdk_client.html`, 'origin viewer');
  await local.evaluate(([url, n]) => window.rtStart('play', url, n), [origin.wsUrl, name]);
  const remote = await openSdkClient(browser, `http://localhost:${origin.port}/sdk_client.html`, 'edge viewer');
  const lbUrl = `${origin.httpUrl}/?action=balance`;
  await remote.evaluate(
    ([url, n, lb]) => window.rtStart('play', url, n, { lbUrl: lb, waitAvailable: true }),
    [origin.wsUrl, name, lbUrl],
  );
  for (const [page, label] of [[local, 'origin viewer'], [remote, 'edge viewer']]) {
    const playing = await waitStatus(page, ['PLAYING', 'FAILED'], label);
    if (playing.status !== 'PLAYING') throw new Error(`${label}: ${playing.info}`);
    await expectVideoPlaying(page, '#display video', { timeoutMs: 15000 });
  }
  await new Promise((r) => setTimeout(r, seconds * 1000));
  console.log(`captured ${codecs}: origin ${origin.port}, edge ${edge.port}`);
} finally {
  if (browser) await browser.close().catch(() => {});
  for (const s of started) await s.stop();
}
