// REST hooks with the official Web SDK in Chromium: the node asks a backend (a real HTTP server
// started here) about every connect, publish and play. An allowed session publishes and plays
// with video decoded; a refused connect reaches the SDK as WCS sends it (a `fail` with status
// FAILED and the backend's reason, then the socket closes); a refused publish or play gets the
// stream FAILED with the reason; the backend sees the calls with the session's `custom` object.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { expectVideoPlaying, launchBrowser, startServer, streamName, waitInPage } from './helpers.mjs';
import { openSdkClient, waitStatus } from './sdk_page.mjs';

/** The backend: `connect` needs custom.token "letmein"; names starting "forbidden" are refused. */
async function startBackend() {
  const calls = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const method = req.url.split('/').pop();
      let json = {};
      try {
        json = JSON.parse(body);
      } catch {
        // recorded as {}
      }
      calls.push({ method, body: json });
      let status = 200;
      let answer = json;
      if (method === 'connect' && !(json.custom && json.custom.token === 'letmein')) {
        status = 403;
        answer = { status: 403, reason: 'Invalid token' };
      } else if ((method === 'publishStream' || method === 'playStream') && String(json.name).startsWith('forbidden')) {
        status = 403;
        answer = { error: 'no' };
      }
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer));
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/apps/sdkApp`, calls, close: () => new Promise((r) => server.close(r)) };
}

test('REST hooks: the SDK is allowed or refused as WCS does it', { timeout: 90000 }, async () => {
  const backend = await startBackend();
  const server = await startServer({ codecs: 'opus,vp8', extra: { rest_hook_url: backend.url } });
  const browser = await launchBrowser();
  try {
    const page = `${server.httpUrl}/sdk_client.html`;
    const good = { custom: { token: 'letmein' } };

    // Refused connect: WARN with FAILED and the backend's reason, and the session ends.
    const intruder = await openSdkClient(browser, page, 'intruder');
    await intruder.evaluate(([url, n]) => window.rtStart('publish', url, n, { custom: { token: 'guess' } }), [
      server.wsUrl,
      streamName('nope'),
    ]);
    const warned = await waitInPage(
      intruder,
      () => window.rt.log.find((e) => e.kind === 'warn'),
      undefined,
      10000,
      'intruder: no WARN from the refused connect',
    );
    assert.deepEqual([warned.status, warned.info], ['FAILED', 'Invalid token']);
    const ended = await waitStatus(intruder, ['DISCONNECTED', 'FAILED'], 'intruder', { kind: 'session' });
    const log = await intruder.evaluate(() => window.rt.log.map((e) => `${e.kind}:${e.status}`));
    assert.ok(!log.includes('session:ESTABLISHED'), `never established: ${log}`);
    assert.ok(['DISCONNECTED', 'FAILED'].includes(ended.status));

    // Allowed session: publish and play, video decoded.
    const name = streamName('hooked');
    const publisher = await openSdkClient(browser, page, 'publisher');
    await publisher.evaluate(([url, n, o]) => window.rtStart('publish', url, n, o), [server.wsUrl, name, good]);
    const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher');
    assert.equal(published.status, 'PUBLISHING', `publish failed: ${published.info}`);
    const player = await openSdkClient(browser, page, 'player');
    await player.evaluate(([url, n, o]) => window.rtStart('play', url, n, o), [server.wsUrl, name, good]);
    const playing = await waitStatus(player, ['PLAYING', 'FAILED'], 'player');
    assert.equal(playing.status, 'PLAYING', `play failed: ${playing.info}`);
    const { second } = await expectVideoPlaying(player, '#display video');

    // Refused publish and play: the stream FAILED with the reason phrase.
    const refusedPub = await openSdkClient(browser, page, 'refused publisher');
    await refusedPub.evaluate(([url, n, o]) => window.rtStart('publish', url, n, o), [
      server.wsUrl,
      streamName('forbidden'),
      good,
    ]);
    const pubFailed = await waitStatus(refusedPub, ['PUBLISHING', 'FAILED'], 'refused publisher');
    assert.deepEqual([pubFailed.status, pubFailed.info], ['FAILED', 'Forbidden']);

    const backendCalls = backend.calls.map((c) => c.method);
    for (const m of ['connect', 'publishStream', 'playStream', 'StreamStatusEvent', 'ConnectionStatusEvent']) {
      assert.ok(backendCalls.includes(m), `the backend got ${m}: ${backendCalls}`);
    }
    const connect = backend.calls.find((c) => c.method === 'connect' && c.body.custom && c.body.custom.token === 'letmein');
    assert.equal(connect.body.appKey, 'defaultApp', 'the SDK default appKey');
    assert.ok(/^\/127\.0\.0\.1:\d+\/127\.0\.0\.1:\d+$/.test(connect.body.sessionId), connect.body.sessionId);
    console.log(
      `[hooks] refused connect: WARN ${warned.status} "${warned.info}", session ${ended.status}; ` +
        `allowed: ${second.frames} frames decoded; refused publish: ${pubFailed.status} "${pubFailed.info}"; ` +
        `backend calls: ${backend.calls.length} (${[...new Set(backendCalls)].join(', ')})`,
    );
  } catch (e) {
    console.log(`--- rtcdn output (last 4000 chars) ---\n${server.output().slice(-4000)}`);
    throw e;
  } finally {
    await browser.close();
    await server.stop();
    await backend.close();
  }
});
