// A static CDN with the unmodified official Flashphoner Web SDK in headless Chromium: two edges
// and an origin whose loadbalancing.xml names them (ROUNDROBIN, stream_distribution="webrtc").
// Page A publishes on the ORIGIN; page B creates its session with lbUrl pointing at the origin's
// balancer, so the SDK asks the balancer and connects to an EDGE, where it plays the stream the
// origin relayed there. A second viewer's session lands on the other edge. Prints the time from
// A's publish() to B's first decoded frame on the edge.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVideoPlaying, launchBrowser, startCdn, streamName } from './helpers.mjs';
import { droppedSessions, openSdkClient, waitBalancerKnows, waitStatus, wsPort } from './sdk_page.mjs';

/** `performance.now()` of `field` in `page`, converted to the shared epoch clock (ms). */
async function epochOf(page, field) {
  return page.evaluate((f) => performance.timeOrigin + window.rt[f], field);
}

test('CDN: SDK publishes on the origin, a viewer with lbUrl lands on an edge and plays', { timeout: 90000 }, async () => {
  const cdn = await startCdn({ edges: 2, mode: 'ROUNDROBIN' });
  let browser = null;
  try {
    const { origin } = cdn;
    const edgePorts = cdn.edges.map((e) => e.port);
    await waitBalancerKnows(origin, edgePorts);

    browser = await launchBrowser();
    const publisher = await openSdkClient(browser, `${origin.httpUrl}/sdk_client.html`, 'publisher');
    // The viewer's page comes from another web origin (localhost vs 127.0.0.1), so the SDK's
    // balancer request is cross-origin and needs the balancer's CORS header, as on a real site.
    const viewerPage = `http://localhost:${origin.port}/sdk_client.html`;
    const player = await openSdkClient(browser, viewerPage, 'player on edge');
    const second = await openSdkClient(browser, viewerPage, 'second viewer');
    const lbUrl = `${origin.httpUrl}/?action=balance`;
    const name = streamName('cdn');

    // The viewer starts right after the publish: it asks the balancer, connects to its edge and
    // polls availableStream until the origin has relayed the stream there, then plays.
    await publisher.evaluate(([url, n]) => window.rtStart('publish', url, n), [origin.wsUrl, name]);
    await player.evaluate(
      ([url, n, lb]) => window.rtStart('play', url, n, { lbUrl: lb, waitAvailable: true }),
      [origin.wsUrl, name, lbUrl],
    );

    const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher');
    assert.equal(published.status, 'PUBLISHING', `publish on the origin failed: ${published.info}`);

    const established = await waitStatus(player, ['ESTABLISHED'], 'player session', { kind: 'session' });
    assert.equal(established.status, 'ESTABLISHED', 'player session');
    const playerUrl = await player.evaluate(() => window.rtServerUrl());
    const playerEdge = edgePorts.indexOf(wsPort(playerUrl));
    assert.ok(
      playerEdge >= 0,
      `the balancer sent the player to ${playerUrl}, not to an edge (edges ${edgePorts}, origin ${origin.port})`,
    );

    const playing = await waitStatus(player, ['PLAYING', 'FAILED'], 'player on edge');
    assert.equal(playing.status, 'PLAYING', `play on the edge failed: ${playing.info}`);
    const { first, second: later } = await expectVideoPlaying(player, '#display video', { timeoutMs: 15000 });
    assert.ok(first.width > 0, 'played video has a width');

    // ROUNDROBIN: the next viewer's session goes to the other edge.
    await second.evaluate(([url, lb]) => window.rtStart('connect', url, '', { lbUrl: lb }), [origin.wsUrl, lbUrl]);
    await waitStatus(second, ['ESTABLISHED'], 'second viewer session', { kind: 'session' });
    const secondUrl = await second.evaluate(() => window.rtServerUrl());
    const secondEdge = edgePorts.indexOf(wsPort(secondUrl));
    assert.ok(secondEdge >= 0 && secondEdge !== playerEdge, `second viewer went to ${secondUrl}; player is on ${playerUrl}`);

    const publishAt = await epochOf(publisher, 'startedAt');
    const firstFrameAt = await epochOf(player, 'firstFrameAt');
    const pub = await publisher.evaluate(() => ({ startedAt: window.rt.startedAt }));
    const view = await player.evaluate(() => ({
      calledAt: window.rt.calledAt,
      startedAt: window.rt.startedAt,
      firstFrameAt: window.rt.firstFrameAt,
      available: window.rt.log.find((e) => e.kind === 'probe'),
    }));
    const ms = (x) => `${Math.round(x)} ms`;
    console.log(
      `[cdn] viewer landed on edge ${playerEdge + 1} (${playerUrl}), second viewer on edge ${secondEdge + 1}\n` +
        `[cdn] publish() on origin -> first frame on the edge player: ${ms(firstFrameAt - publishAt)}\n` +
        `[cdn]   publisher: publish() -> PUBLISHING ${ms(published.t - pub.startedAt)}\n` +
        `[cdn]   viewer: balancer + connect ${ms(established.t - view.calledAt)}, ` +
        `stream available on the edge ${ms(view.available.t - view.calledAt)} after start, ` +
        `play() -> PLAYING ${ms(playing.t - view.startedAt)}, play() -> first frame ${ms(view.firstFrameAt - view.startedAt)}\n` +
        `[cdn]   ${first.width}x${first.height}, frames ${first.frames} -> ${later.frames} in 3 s`,
    );

    await publisher.evaluate(() => window.rtStop());
    const unpublished = await waitStatus(publisher, ['UNPUBLISHED', 'FAILED'], 'publisher after stop');
    assert.equal(unpublished.status, 'UNPUBLISHED', `publisher stop: ${unpublished.info}`);
    const ended = await waitStatus(player, ['STOPPED', 'UNPUBLISHED', 'FAILED'], 'edge player after publisher stop');
    // The edge stops its player's stream when the origin's relay ends; a dropped session
    // (DISCONNECTED, or the FAILED the SDK then pushes to its streams) is not a stop.
    assert.deepEqual(
      { kind: ended.kind, status: ended.status, info: ended.info },
      { kind: 'stream', status: 'STOPPED', info: 'Stopped by publisher stop' },
      'edge player after the publisher stopped',
    );
    const dropped = await droppedSessions(player);
    assert.deepEqual(dropped, [], 'the edge player\'s session must stay up');
    console.log(`[cdn] edge player after the origin's unpublish: ${ended.status} "${ended.info}"`);
  } catch (e) {
    console.log(`--- rtcdn output ---\n${cdn.output()}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await cdn.stop();
  }
});
