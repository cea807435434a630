// TLS in a real browser: the node serves its demo pages over https:// and WCS signalling over
// wss:// on its TLS port (`wss.port`) with the self-signed certificate it generates when none is
// configured. Chromium is told to trust exactly that certificate (its SPKI hash, as an operator
// would install a real one); the page is then a secure context, so the camera is allowed, and
// the official Web SDK publishes and plays over wss://. A browser not told to trust it refuses
// the page: the connection really is TLS with that certificate.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { expectVideoPlaying, launchBrowser, startServer, streamName } from './helpers.mjs';
import { openSdkClient, waitStatus } from './sdk_page.mjs';

/** base64 SHA-256 of a PEM certificate's SubjectPublicKeyInfo (Chromium's SPKI list format). */
function spkiHash(pemFile) {
  const cert = new crypto.X509Certificate(fs.readFileSync(pemFile));
  const spki = cert.publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(spki).digest('base64');
}

test('https demo page and wss signalling: the official SDK publishes and plays over TLS', { timeout: 60000 }, async () => {
  const server = await startServer({ codecs: 'opus,vp8' });
  const browsers = [];
  try {
    assert.ok(fs.existsSync(server.certFile), `the node generated ${server.certFile}`);
    const untrusting = await launchBrowser();
    browsers.push(untrusting);
    const refused = await untrusting.newPage('untrusting');
    const error = await refused.goto(`${server.httpsUrl}/sdk_client.html`).then(
      () => null,
      (e) => e.message,
    );
    assert.match(String(error), /ERR_CERT/, 'a browser that does not trust the certificate refuses the page');

    const trusting = await launchBrowser({
      extraArgs: [`--ignore-certificate-errors-spki-list=${spkiHash(server.certFile)}`],
    });
    browsers.push(trusting);
    const page = `${server.httpsUrl}/sdk_client.html`;
    const publisher = await openSdkClient(trusting, page, 'publisher');
    const player = await openSdkClient(trusting, page, 'player');
    const secure = await publisher.evaluate(() => [location.protocol, window.isSecureContext]);
    assert.deepEqual(secure, ['https:', true], 'the demo page is a secure context');

    const name = streamName('tls');
    await publisher.evaluate(([url, n]) => window.rtStart('publish', url, n), [server.wssUrl, name]);
    const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher');
    assert.equal(published.status, 'PUBLISHING', `publish over wss failed: ${published.info}`);
    await player.evaluate(([url, n]) => window.rtStart('play', url, n), [server.wssUrl, name]);
    const playing = await waitStatus(player, ['PLAYING', 'FAILED'], 'player');
    assert.equal(playing.status, 'PLAYING', `play over wss failed: ${playing.info}`);
    const { first, second } = await expectVideoPlaying(player, '#display video');
    console.log(
      `[tls] ${server.httpsUrl} page, ${server.wssUrl} signalling: ${first.width}x${first.height}, ` +
        `frames ${first.frames} -> ${second.frames}; untrusting browser: ${String(error).split('\n')[0]}`,
    );
  } catch (e) {
    console.log(`--- rtcdn output (last 4000 chars) ---\n${server.output().slice(-4000)}`);
    throw e;
  } finally {
    for (const b of browsers) await b.close();
    await server.stop();
  }
});
