// WHIP and WHEP clients that were not written here, unmodified from npm, against real rtcdn
// processes in headless Chromium: one client publishes the fake camera and microphone to
// `POST /whip/<name>`, another plays `POST /whep/<name>`, and media must really flow (the node's
// /health sees the publisher's video, the player decodes frames and receives audio); each
// client's DELETE of its session must end the play and the publish. Also through a CDN, where the
// origin answers the player's POST with 307 to an edge.
//
// The clients (versions pinned in package.json, installed into .cache/browser by scripts/test.sh):
// - whip-whep 1.2.0 (Medooze's whip.js / whep.js: WHIPClient.publish, WHEPClient.view; trickle
//   ICE with PATCH);
// - @eyevinn/whip-web-client 1.1.7 (WHIPClient.ingest: OPTIONS first, and trickle ICE with PATCH
//   only when that answer's Access-Control-Allow-Methods lists PATCH, else candidates in the
//   offer after gathering) and @eyevinn/webrtc-player 0.13.0 (WebRTCPlayer, adapter "whep":
//   candidates in the offer, no trickle). Both are CommonJS packages: esbuild (also from npm)
//   bundles them into one ES module for the page.
// Debian 12's simple-whip-client (GStreamer) cannot run here: it links libsoup 2.4 while
// GStreamer 1.22's webrtc/nice plugins pull in libsoup 3 (through libnice's gupnp-igd), and
// libsoup aborts the process when both are loaded. FFmpeg 5.1 has no WHIP muxer.

import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import {
  cacheDir,
  expectVideoPlaying,
  launchBrowser,
  startCdn,
  startServer,
  streamName,
  tempDir,
  waitInPage,
  withTimeout,
} from './helpers.mjs';

const requireFromCache = createRequire(path.join(cacheDir, 'node_modules', 'noop.js'));
const modules = path.join(cacheDir, 'node_modules');

/** The client libraries, as `{ name in web_dir: file }` for startServer's `webFiles`. */
let webFiles = null;

before(async () => {
  let esbuild;
  try {
    esbuild = requireFromCache('esbuild');
  } catch (e) {
    throw new Error(`esbuild is not installed in ${cacheDir}: run scripts/test.sh (${e.message})`);
  }
  const bundle = path.join(tempDir('rtcdn-whip-clients-'), 'ext-eyevinn.js');
  await esbuild.build({
    stdin: {
      contents:
        "export { WHIPClient } from '@eyevinn/whip-web-client';\n" +
        "export { WebRTCPlayer } from '@eyevinn/webrtc-player';\n",
      resolveDir: cacheDir,
      loader: 'js',
    },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    outfile: bundle,
    logLevel: 'error',
  });
  webFiles = {
    'ext-medooze-whip.js': path.join(modules, 'whip-whep', 'whip.js'),
    'ext-medooze-whep.js': path.join(modules, 'whip-whep', 'whep.js'),
    'ext-eyevinn.js': bundle,
  };
});

/** The node's /health document. */
async function health(server) {
  const res = await fetch(`${server.httpUrl}/health`);
  assert.equal(res.status, 200, `/health answered ${res.status}`);
  return res.json();
}

/** Polls /health until `pred(published entry of name or undefined)` holds; returns that entry. */
async function waitPublished(server, name, pred, message, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = (await health(server)).published.find((p) => p.stream === name);
    if (pred(last)) return last;
    if (Date.now() > deadline) {
      throw new Error(`${message} (after ${timeoutMs} ms; last /health entry: ${JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Opens the client page and waits until its modules are loaded. */
async function openClientPage(browser, server, label) {
  const page = await browser.newPage(label);
  await page.goto(`${server.httpUrl}/whip_clients.html`);
  await waitInPage(page, () => window.wc && window.wc.ready, null, 10000, `${label}: the client page did not load`);
  return page;
}

/**
 * Every case requires bearer tokens: each client is given its token through its own API.
 * Through a CDN the browser drops Authorization when it follows the origin's 307 to an edge
 * (another origin, as the Fetch standard says); the edge takes the redirect's ticket instead.
 */
const TOKENS = { whip_token: 'publish-secret', whep_token: 'play-secret' };

const CASES = [
  { publisher: 'medooze', player: 'eyevinn', cdn: false },
  { publisher: 'eyevinn', player: 'medooze', cdn: false },
  // Through a CDN: the page and the publish are on the origin; the player's POST to the origin
  // is answered 307 with an edge's /whep URL, which the browser's fetch follows (method and body
  // kept, now cross-origin: CORS preflight, Origin "null") and plays there.
  { publisher: 'medooze', player: 'medooze', cdn: true },
  { publisher: 'eyevinn', player: 'eyevinn', cdn: true },
];

for (const { publisher, player, cdn } of CASES) {
  const title = cdn
    ? `external clients through a CDN: ${publisher} WHIP publishes to the origin, ${player} WHEP is sent (307) to an edge`
    : `external clients: ${publisher} WHIP publishes, ${player} WHEP plays`;
  test(title, { timeout: 60000 }, async () => {
    const servers = cdn
      ? await startCdn({ edges: 2, webFiles, extra: TOKENS })
      : await startServer({ codecs: 'opus,h264', webFiles, extra: TOKENS });
    const tokens = TOKENS;
    const server = cdn ? servers.origin : servers;
    let browser = null;
    let pubPage = null;
    let playPage = null;
    try {
      browser = await launchBrowser();
      pubPage = await openClientPage(browser, server, `${publisher} WHIP`);
      playPage = await openClientPage(browser, server, `${player} WHEP`);
      const name = streamName('ext');

      const published = await withTimeout(
        pubPage.evaluate(([kind, url, token]) => window.wc.publish(kind, url, token), [
          publisher,
          `${server.httpUrl}/whip/${name}`,
          tokens.whip_token,
        ]),
        15000,
        `${publisher} WHIP publish did not finish`,
      );
      assert.match(
        published.resource,
        /\/whip\/session\/[0-9a-f]{32}$/,
        `${publisher}: the WHIP session URL comes from the Location header`,
      );

      // The node receives the publisher's video.
      const entry = await waitPublished(
        server,
        name,
        (p) => p && p.connected && p.has_video && p.video_bps > 0,
        `${publisher}: /health never showed ${name} connected with video`,
      );

      // Where the player's POST went: [{ status, url }] of the responses to POSTs to /whep/.
      const whepPosts = [];
      playPage.on('response', (r) => {
        if (r.request().method() === 'POST' && r.url().includes('/whep/')) {
          whepPosts.push({ status: r.status(), url: r.url() });
        }
      });
      await withTimeout(
        playPage.evaluate(([kind, url, token]) => window.wc.play(kind, url, token), [
          player,
          `${server.httpUrl}/whep/${name}`,
          tokens.whep_token,
        ]),
        15000,
        `${player} WHEP play did not finish`,
      );
      const { first, second } = await expectVideoPlaying(playPage, '#remote', { timeoutMs: 15000 });
      const created = whepPosts.find((r) => r.status === 201);
      assert.ok(created, `${player}: no 201 to its WHEP POST (${JSON.stringify(whepPosts)})`);
      // The node that serves the player.
      let playNode = server;
      if (cdn) {
        assert.equal(whepPosts[0].status, 307, `${player}: the origin redirects WHEP (${JSON.stringify(whepPosts)})`);
        playNode = servers.edges.find((e) => new URL(created.url).port === String(e.port));
        assert.ok(playNode, `${player}: the WHEP session was created on an edge (${created.url})`);
      }
      const video = await playPage.evaluate(() => window.wc.playerVideo());
      assert.ok(video && video.framesDecoded > 0, `${player}: inbound video decoded frames (${JSON.stringify(video)})`);
      assert.equal(video.mimeType, 'video/H264', `${player}: inbound video codec`);
      // Audio arrives too: the player's received audio packets keep increasing.
      const audioBefore = await playPage.evaluate(() => window.wc.playerAudio());
      let audioAfter = audioBefore;
      for (let i = 0; i < 25 && audioAfter <= audioBefore; i++) {
        await new Promise((r) => setTimeout(r, 200));
        audioAfter = await playPage.evaluate(() => window.wc.playerAudio());
      }
      assert.ok(audioAfter > audioBefore, `${player}: audio packets stayed at ${audioBefore} for 5 s`);
      console.log(
        `[${publisher} -> ${player}${cdn ? ' via an edge' : ''}] publisher video ${entry.video_bps} bit/s at the node; ` +
          `played ${first.width}x${first.height}, frames ${first.frames} -> ${second.frames}; ` +
          `${video.mimeType}, ${video.framesDecoded} decoded; audio packets ${audioBefore} -> ${audioAfter}`,
      );

      // Each client's stop sends DELETE to its session: the player's ends the play, the
      // publisher's the publish. Eyevinn's clients send DELETE first and close their
      // PeerConnection after it; Medooze's close the PeerConnection first, so the node may
      // already have ended the session when the DELETE comes: 200 all the same (a session that
      // ended less than a minute ago), and the session must be gone.
      const deleted = async (page, label, stop) => {
        const response = page.waitForResponse(
          (r) => r.request().method() === 'DELETE' && /\/wh[ie]p\/session\//.test(r.url()),
          { timeout: 10000 },
        );
        await withTimeout(page.evaluate(stop), 10000, `${label}: stopping did not finish`);
        const r = await response.catch((e) => {
          throw new Error(`${label}: the client sent no DELETE to its session: ${e.message.split('\n')[0]}`);
        });
        assert.equal(r.status(), 200, `${label}: DELETE ${r.url()} answered ${r.status()}`);
        console.log(`[${label}] DELETE of its session: ${r.status()}`);
      };
      await deleted(playPage, `${player} WHEP`, () => window.wc.player.stop());
      const deadline = Date.now() + 10000;
      while ((await health(playNode)).players > 0) {
        assert.ok(Date.now() < deadline, `${player}: the node still counts a player 10 s after its DELETE`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await deleted(pubPage, `${publisher} WHIP`, () => window.wc.stopPublish());
      await waitPublished(server, name, (p) => p === undefined, `${publisher}: the stream stayed published after DELETE`);

      for (const [page, label] of [
        [pubPage, `${publisher} WHIP`],
        [playPage, `${player} WHEP`],
      ]) {
        const errors = await page.evaluate(() => window.wc.errors);
        if (errors.length) console.log(`[${label}] errors the client library reported: ${errors.join('; ')}`);
      }
    } catch (e) {
      console.log(cdn ? servers.output() : server.output().slice(-4000));
      throw e;
    } finally {
      if (browser) await browser.close();
      await servers.stop();
    }
  });
}
