// Our WHIP publisher and WHEP player pages (web/whip.html, web/whep.html: plain
// RTCPeerConnection + fetch) against real rtcdn processes in headless Chromium, with the
// unmodified official Flashphoner Web SDK on the other side:
// a. WHIP page publishes (after a 401 without its bearer token), the SDK plays; the page's Stop
//    (DELETE) stops the SDK player;
// b. the WHEP page (after a 401 without its token) waits on 409 + Retry-After until the SDK
//    publishes, then plays, then DELETEs;
// c. CDN with tokens: WHIP on the origin, the WHEP page POSTs to the origin, is redirected
//    (307, with a ticket for the token) to the edge and plays there;
// d. the WHIP page publishes three simulcast layers, the SDK plays.
// Media is checked by decoded frames (videoWidth > 0, totalVideoFrames increasing).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectVideoPlaying, launchBrowser, startCdn, startServer, streamName, waitInPage } from './helpers.mjs';
import { openSdkClient, waitBalancerKnows, waitStatus } from './sdk_page.mjs';

const STATUS_TIMEOUT_MS = 15000;

/** Opens whip.html or whep.html on `pageBase` with the form filled from `params`. */
async function openPage(browser, pageBase, file, params, label) {
  const page = await browser.newPage(label);
  await page.goto(`${pageBase}/${file}?${new URLSearchParams(params)}`, { timeout: STATUS_TIMEOUT_MS });
  return page;
}

/**
 * Waits until the page's #status is one of `statuses` (or FAILED / STOPPED, which end the wait);
 * returns `{ status, info }` with the #info line (the HTTP status and reason on errors).
 */
async function pageStatus(page, statuses, label, timeoutMs = STATUS_TIMEOUT_MS) {
  const ends = [...statuses, 'FAILED', 'STOPPED'];
  try {
    return await waitInPage(
      page,
      (st) => {
        const status = document.querySelector('#status').textContent.trim();
        return st.includes(status) ? { status, info: document.querySelector('#info').textContent.trim() } : null;
      },
      ends,
      timeoutMs,
      `${label}: #status never became ${statuses.join('/')}`,
    );
  } catch (e) {
    const shown = await page
      .evaluate(() => `${document.querySelector('#status').textContent} / ${document.querySelector('#info').textContent}`)
      .catch(() => '?');
    throw new Error(`${e.message}; the page shows: ${shown}`);
  }
}

/** Clicks the page's Publish/Play button and waits for `wanted` (PUBLISHING or PLAYING). */
async function start(page, button, wanted, label) {
  await page.click(button);
  const got = await pageStatus(page, [wanted], label);
  assert.equal(got.status, wanted, `${label}: ${got.info}`);
  return got;
}

/** Clicks Stop and returns the STOPPED status with its info (the DELETE's outcome). */
async function stop(page, button, label) {
  assert.equal(await page.textContent(button), 'Stop', `${label}: the button offers Stop`);
  await page.click(button);
  const got = await pageStatus(page, ['STOPPED'], `${label} stop`);
  assert.equal(got.status, 'STOPPED', `${label} stop: ${got.info}`);
  return got;
}

/** The node's /health. */
async function health(server) {
  const res = await fetch(`${server.httpUrl}/health`);
  assert.equal(res.status, 200, 'GET /health');
  return res.json();
}

const SESSION_URL = /^http:\/\/127\.0\.0\.1:(\d+)\/(whip|whep)\/session\/[0-9a-f]{32}$/;

test('WHIP page publishes (bearer token), the official SDK plays; DELETE stops the player', { timeout: 60000 }, async () => {
  const server = await startServer({ codecs: 'opus,h264', extra: { whip_token: 's3cret' } });
  let browser = null;
  try {
    browser = await launchBrowser();
    const name = streamName('whip');
    const whip = await openPage(browser, server.httpUrl, 'whip.html', { streamName: name }, 'whip');

    // Without the token: 401, shown with the server's reason; nothing is published.
    await whip.click('#publishBtn');
    const refused = await pageStatus(whip, ['PUBLISHING'], 'whip without token');
    assert.equal(refused.status, 'FAILED', 'a publish without the token fails');
    assert.match(refused.info, /^HTTP 401( Unauthorized)?: \S/, 'the page shows the status and the reason');
    assert.equal(await whip.textContent('#publishBtn'), 'Publish', 'the page is idle again');

    await whip.fill('#token', 's3cret');
    await start(whip, '#publishBtn', 'PUBLISHING', 'whip');
    const session = await whip.evaluate(() => window.whipPage.run.session);
    assert.match(session.resource, SESSION_URL, 'the session URL');
    assert.equal(Number(SESSION_URL.exec(session.resource)[1]), server.port, 'the session is on the node');
    assert.equal(session.redirected, false);
    await expectVideoPlaying(whip, '#localVideo');

    const player = await openSdkClient(browser, `${server.httpUrl}/sdk_client.html`, 'sdk player');
    await player.evaluate(([url, n]) => window.rtStart('play', url, n), [server.wsUrl, name]);
    const playing = await waitStatus(player, ['PLAYING', 'FAILED'], 'sdk player');
    assert.equal(playing.status, 'PLAYING', `play failed: ${playing.info}`);
    const { first, second } = await expectVideoPlaying(player, '#display video');
    console.log(`[whip] SDK player: ${first.width}x${first.height}, frames ${first.frames} -> ${second.frames} in 3 s`);

    const stopped = await stop(whip, '#publishBtn', 'whip');
    assert.equal(stopped.info, `DELETE ${session.resource}: 200`);
    const ended = await waitStatus(player, ['STOPPED', 'UNPUBLISHED', 'FAILED'], 'sdk player after DELETE');
    assert.deepEqual(
      { kind: ended.kind, status: ended.status, info: ended.info },
      { kind: 'stream', status: 'STOPPED', info: 'Stopped by publisher stop' },
      'the SDK player after the WHIP session was deleted',
    );
    const after = await health(server);
    assert.deepEqual(after.published, [], 'nothing is published after the DELETE');
  } catch (e) {
    console.log(`--- rtcdn output (last 4000 chars) ---\n${server.output().slice(-4000)}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await server.stop();
  }
});

test('the WHEP page waits (409) until the official SDK publishes, plays (bearer token) and DELETEs', { timeout: 60000 }, async () => {
  const server = await startServer({ codecs: 'opus,vp8', extra: { whep_token: 'v1ewer' } });
  let browser = null;
  try {
    browser = await launchBrowser();
    const name = streamName('whep');
    const whep = await openPage(browser, server.httpUrl, 'whep.html', { streamName: name }, 'whep');
    await whep.click('#playBtn');
    const refused = await pageStatus(whep, ['PLAYING'], 'whep without token');
    assert.equal(refused.status, 'FAILED', 'a play without the token fails');
    assert.match(refused.info, /^HTTP 401( Unauthorized)?: \S/, 'the page shows the status and the reason');

    // With the token, before the stream exists: 409 with Retry-After, the page waits and offers again.
    await whep.fill('#token', 'v1ewer');
    await whep.click('#playBtn');
    const waiting = await pageStatus(whep, ['WAITING', 'PLAYING'], 'whep before the publish');
    assert.equal(waiting.status, 'WAITING', `the page waits for the stream: ${waiting.info}`);
    assert.match(waiting.info, /^HTTP 409( Conflict)?: \S.*; offering again in \d+ s$/, 'the 409 and its reason are shown');
    // Stop while waiting ends the attempt (no session to DELETE); Play waits again.
    await stop(whep, '#playBtn', 'whep waiting');
    await whep.click('#playBtn');
    const again = await pageStatus(whep, ['WAITING', 'PLAYING'], 'whep before the publish, again');
    assert.equal(again.status, 'WAITING', `the page waits again: ${again.info}`);

    const publisher = await openSdkClient(browser, `${server.httpUrl}/sdk_client.html`, 'sdk publisher');
    await publisher.evaluate(([url, n]) => window.rtStart('publish', url, n), [server.wsUrl, name]);
    const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'sdk publisher');
    assert.equal(published.status, 'PUBLISHING', `publish failed: ${published.info}`);
    const playing = await pageStatus(whep, ['PLAYING'], 'whep after the publish');
    assert.equal(playing.status, 'PLAYING', `whep after the publish: ${playing.info}`);
    const session = await whep.evaluate(() => window.whepPage.run.session);
    assert.match(session.resource, SESSION_URL, 'the session URL');
    const { first, second } = await expectVideoPlaying(whep, '#remoteVideo');
    console.log(`[whep] WHEP player: ${first.width}x${first.height}, frames ${first.frames} -> ${second.frames} in 3 s`);
    assert.equal((await health(server)).players, 1, 'the node counts the WHEP player');

    const stopped = await stop(whep, '#playBtn', 'whep');
    assert.equal(stopped.info, `DELETE ${session.resource}: 200`);
    await waitInPage(whep, () => document.querySelector('#remoteVideo').srcObject === null, undefined, 2000, 'video cleared');
    const deadline = Date.now() + 5000;
    let players = -1;
    while (Date.now() < deadline && (players = (await health(server)).players) !== 0) await new Promise((r) => setTimeout(r, 100));
    assert.equal(players, 0, 'the DELETE ended the WHEP player on the node');
    // The publisher is untouched by a player leaving.
    assert.equal(await publisher.evaluate(() => window.rt.stream.status()), 'PUBLISHING');

    // Playing again, then the publisher stops: the node ends the WHEP session with a DTLS
    // close_notify, and the page says so at once instead of showing a frozen picture.
    await whep.click('#playBtn');
    const replaying = await pageStatus(whep, ['PLAYING'], 'whep again');
    assert.equal(replaying.status, 'PLAYING', `whep again: ${replaying.info}`);
    const stoppedAt = Date.now();
    await publisher.evaluate(() => window.rtStop());
    const ended = await pageStatus(whep, ['STOPPED'], 'whep after the publisher stopped');
    assert.equal(ended.status, 'STOPPED', `the page learns the stream ended: ${ended.info}`);
    assert.match(ended.info, /server ended the session/);
    console.log(`[whep] the page showed STOPPED ${Date.now() - stoppedAt} ms after the publisher stopped`);
  } catch (e) {
    console.log(`--- rtcdn output (last 4000 chars) ---\n${server.output().slice(-4000)}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await server.stop();
  }
});

test('CDN: WHIP on the origin, the WHEP page is redirected (307) to the edge and plays there', { timeout: 90000 }, async () => {
  const tokens = { whip_token: 's3cret', whep_token: 'v1ewer' };
  const cdn = await startCdn({ edges: 1, mode: 'ROUNDROBIN', codecs: 'opus,vp8', extra: tokens });
  let browser = null;
  try {
    const { origin } = cdn;
    const [edge] = cdn.edges;
    await waitBalancerKnows(origin, [edge.port]);
    browser = await launchBrowser();
    const name = streamName('cdn-whep');

    const whip = await openPage(browser, origin.httpUrl, 'whip.html', { streamName: name, token: 's3cret' }, 'whip on origin');
    await start(whip, '#publishBtn', 'PUBLISHING', 'whip on origin');

    // The player's page and its POST go to the origin; the origin checks the token and answers
    // 307 to the edge with a ticket (the browser drops Authorization on a cross-origin redirect),
    // fetch re-POSTs the offer there (a cross-origin request: the edge's CORS), and the page
    // retries while the edge answers 409 (the relay from the origin is not there yet).
    const whep = await openPage(browser, origin.httpUrl, 'whep.html', { streamName: name, token: 'v1ewer' }, 'whep via origin');
    await start(whep, '#playBtn', 'PLAYING', 'whep via origin');
    const session = await whep.evaluate(() => window.whepPage.run.session);
    assert.equal(session.redirected, true, 'the origin redirected the POST');
    assert.ok(session.responseUrl.startsWith(`${edge.httpUrl}/whep/${name}?`), `the answer came from the edge: ${session.responseUrl}`);
    assert.equal(Number(SESSION_URL.exec(session.resource)?.[1]), edge.port, `the session ${session.resource} is on the edge`);
    const { first, second } = await expectVideoPlaying(whep, '#remoteVideo', { timeoutMs: 15000 });
    const log = await whep.evaluate(() =>
      window.whepPage.log.map((e, i, all) => `+${Math.round(e.t - all[0].t)} ms ${e.status} ${e.info}`.trim()),
    );
    console.log(
      `[cdn] WHEP page via the origin, playing on the edge: ${first.width}x${first.height}, ` +
        `frames ${first.frames} -> ${second.frames} in 3 s; its statuses after Play:\n  ${log.join('\n  ')}`,
    );
    // What the origin answered the POST (without following it): 307 to the edge's endpoint.
    const offer = await whep.evaluate(() => window.whepPage.run.pc.localDescription.sdp);
    const redirect = await fetch(`${origin.httpUrl}/whep/${name}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: 'Bearer v1ewer' },
      body: offer,
      redirect: 'manual',
    });
    assert.equal(redirect.status, 307, 'the origin redirects a WHEP POST');
    assert.match(redirect.headers.get('Location'), new RegExp(`^${edge.httpUrl}/whep/${name}\\?ticket=\\S+$`), 'to the edge');
    assert.equal((await health(edge)).players, 1, 'the edge has the WHEP player');
    assert.equal((await health(origin)).players, 0, 'the origin has no player');

    // The DELETE goes to the edge (the session's node).
    const stopped = await stop(whep, '#playBtn', 'whep');
    assert.equal(stopped.info, `DELETE ${session.resource}: 200`);
    await stop(whip, '#publishBtn', 'whip');
  } catch (e) {
    console.log(`--- rtcdn output ---\n${cdn.output()}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await cdn.stop();
  }
});

test('WHIP page with simulcast (rids l, m, h), the official SDK plays', { timeout: 60000 }, async () => {
  const server = await startServer({ codecs: 'opus,vp8' });
  let browser = null;
  try {
    browser = await launchBrowser();
    const name = streamName('whip-sim');
    const whip = await openPage(browser, server.httpUrl, 'whip.html', { streamName: name, simulcast: 'true' }, 'whip simulcast');
    assert.equal(await whip.isChecked('#simulcast'), true);
    const published = await start(whip, '#publishBtn', 'PUBLISHING', 'whip simulcast');
    assert.match(published.info, /simulcast layers l, m, h/, 'the browser kept its three encodings');
    const offer = await whip.evaluate(() => window.whipPage.run.pc.localDescription.sdp);
    for (const line of ['a=rid:l send', 'a=rid:m send', 'a=rid:h send', 'a=simulcast:send l;m;h']) {
      assert.ok(offer.includes(`${line}\r\n`), `${line} missing from the offer`);
    }

    const player = await openSdkClient(browser, `${server.httpUrl}/sdk_client.html`, 'sdk player');
    await player.evaluate(([url, n]) => window.rtStart('play', url, n), [server.wsUrl, name]);
    const playing = await waitStatus(player, ['PLAYING', 'FAILED'], 'sdk player');
    assert.equal(playing.status, 'PLAYING', `play failed: ${playing.info}`);
    const { first, second } = await expectVideoPlaying(player, '#display video', { timeoutMs: 15000 });
    console.log(`[whip simulcast] SDK player: ${first.width}x${first.height}, frames ${first.frames} -> ${second.frames} in 3 s`);

    // The top layer comes once Chromium's estimate allows it.
    let layers = null;
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      layers = (await health(server)).simulcast;
      if (layers.length === 1 && layers[0].layers.length === 3) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.deepEqual(layers, [{ stream: name, layers: ['l', 'm', 'h'] }], 'the node receives the three layers');
    await stop(whip, '#publishBtn', 'whip simulcast');
  } catch (e) {
    console.log(`--- rtcdn output (last 4000 chars) ---\n${server.output().slice(-4000)}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await server.stop();
  }
});
