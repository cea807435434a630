// The unmodified official Flashphoner Web SDK (@flashphoner/websdk 2.0.276) against rtcdn in
// headless Chromium: page A publishes, page B plays, media must really be decoded, and B must
// be told when A stops. Runs once per forced video codec.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVideoPlaying, launchBrowser, startServer, streamName, withTimeout } from './helpers.mjs';
import { droppedSessions, openSdkClient, waitStatus } from './sdk_page.mjs';

/** Fails if the page's session was dropped (DISCONNECTED or FAILED logged). */
async function assertSessionAlive(page, label) {
  assert.deepEqual(await droppedSessions(page), [], `${label}: the session must stay up`);
}

const CASES = [
  { codecs: 'opus,h264', mimeType: 'video/H264' },
  { codecs: 'opus,vp8', mimeType: 'video/VP8' },
];

for (const { codecs, mimeType } of CASES) {
  test(`official SDK: publish, play and stop with codecs=${codecs}`, { timeout: 45000 }, async () => {
    const server = await startServer({ codecs });
    let browser = null;
    try {
      browser = await launchBrowser();
      const publisher = await openSdkClient(browser, `${server.httpUrl}/sdk_client.html`, 'publisher');
      const player = await openSdkClient(browser, `${server.httpUrl}/sdk_client.html`, 'player');
      const name = streamName('sdk');

      await publisher.evaluate(([url, n]) => window.rtStart('publish', url, n), [server.wsUrl, name]);
      const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher');
      assert.equal(published.status, 'PUBLISHING', `publish failed: ${published.info}`);

      await player.evaluate(([url, n]) => window.rtStart('play', url, n), [server.wsUrl, name]);
      const playing = await waitStatus(player, ['PLAYING', 'FAILED'], 'player');
      assert.equal(playing.status, 'PLAYING', `play failed: ${playing.info}`);

      const { first, second } = await expectVideoPlaying(player, '#display video');
      assert.ok(first.width > 0, 'played video has a width');

      const codec = await withTimeout(
        player.evaluate(() => window.rtInboundVideoCodec()),
        5000,
        'stream.getStats() did not answer',
      );
      assert.equal(codec, mimeType, `inbound video codec with codecs=${codecs}`);

      const timings = await player.evaluate(() => window.rt.firstFrameAt - window.rt.startedAt);
      const pubStart = await publisher.evaluate(() => window.rt.startedAt);
      const playStart = await player.evaluate(() => window.rt.startedAt);
      console.log(
        `[${codecs}] time to PUBLISHING ${Math.round(published.t - pubStart)} ms, ` +
          `time to PLAYING ${Math.round(playing.t - playStart)} ms, ` +
          `time to first frame ${Math.round(timings)} ms, ` +
          `${first.width}x${first.height}, frames ${first.frames} -> ${second.frames} in 3 s`,
      );

      // The server's video rates reach the SDK's connection quality on both sides.
      for (const [page, label] of [[publisher, 'publisher'], [player, 'player']]) {
        const updates = await withTimeout(
          page.waitForFunction(() => window.rt.quality.length >= 2, null, { timeout: 10000 }).then(() =>
            page.evaluate(() => window.rt.quality),
          ),
          12000,
          `${label}: no CONNECTION_QUALITY.UPDATE`,
        );
        const last = updates[updates.length - 1];
        console.log(`[${codecs}] ${label}: ${updates.length} quality updates, last ${JSON.stringify(last)}`);
        assert.ok(last.serverRate > 0, `${label}: the server's video rate reached the SDK`);
        assert.ok(['PERFECT', 'GOOD', 'BAD'].includes(last.quality), `${label}: quality ${last.quality}`);
      }

      await publisher.evaluate(() => window.rtStop());
      const unpublished = await waitStatus(publisher, ['UNPUBLISHED', 'FAILED'], 'publisher after stop');
      assert.equal(unpublished.status, 'UNPUBLISHED', `publisher stop: ${unpublished.info}`);
      const ended = await waitStatus(player, ['STOPPED', 'UNPUBLISHED', 'FAILED'], 'player after publisher stop');
      // The server stops the player's stream; a dropped session (DISCONNECTED, or the FAILED
      // the SDK then pushes to its streams) is not a stop.
      assert.deepEqual(
        { kind: ended.kind, status: ended.status, info: ended.info },
        { kind: 'stream', status: 'STOPPED', info: 'Stopped by publisher stop' },
        'player after the publisher stopped',
      );
      await assertSessionAlive(player, 'player');
      await assertSessionAlive(publisher, 'publisher');
    } catch (e) {
      console.log(`--- rtcdn output (last 4000 chars) ---\n${server.output().slice(-4000)}`);
      throw e;
    } finally {
      if (browser) await browser.close();
      await server.stop();
    }
  });
}

test('webrtc_cc_max_bitrate caps what the SDK publisher sends', { timeout: 45000 }, async () => {
  const server = await startServer({ codecs: 'opus,vp8', extra: { webrtc_cc_max_bitrate: '300000' } });
  let browser = null;
  try {
    browser = await launchBrowser();
    const publisher = await openSdkClient(browser, `${server.httpUrl}/sdk_client.html`, 'publisher');
    await publisher.evaluate(
      ([url, n]) => window.rtStart('publish', url, n, { video: { width: 1280, height: 720 } }),
      [server.wsUrl, streamName('capped')],
    );
    const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher');
    assert.equal(published.status, 'PUBLISHING', `publish failed: ${published.info}`);
    // Chrome's own limit for 1280x720 is about 2.5 Mbit/s; the answer's b=AS caps it.
    await new Promise((r) => setTimeout(r, 6000));
    const stats = await withTimeout(publisher.evaluate(() => window.rtVideoStats()), 5000, 'getStats');
    console.log(`[capped] target ${stats.targetBitrate} bit/s at ${stats.frameWidth}x${stats.frameHeight}`);
    assert.ok(stats.targetBitrate > 0 && stats.targetBitrate <= 300000, `target bitrate ${stats.targetBitrate}`);
  } catch (e) {
    console.log(`--- rtcdn output (last 4000 chars) ---\n${server.output().slice(-4000)}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await server.stop();
  }
});
