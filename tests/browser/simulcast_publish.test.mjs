// Chromium publishes three rid simulcast layers to rtcdn over a raw WCS websocket (no SDK:
// `addTransceiver` with `sendEncodings` l/m/h, as a page or WHIP-like client would): rtcdn's
// answer receives every rid (`a=rid:<id> recv`, `a=simulcast:recv l;m;h`), Chromium accepts it
// with its three encodings intact, connects, and sends each layer; /health lists the layers and
// a viewer of `<name>-low` is accepted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, startServer, streamName, waitInPage } from './helpers.mjs';

/** Publishes (and optionally plays) over a WCS websocket from the page; results go to `window.sim`. */
function pageScript([wsUrl, name]) {
  const sim = { log: [] };
  window.sim = sim;
  const wcs = (ws, message, data) => ws.send(JSON.stringify({ message, data: [data] }));
  const session = (onMessage) =>
    new Promise((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      ws.onerror = () => reject(new Error('websocket error'));
      ws.onmessage = (e) => {
        const m = JSON.parse(e.data);
        sim.log.push(m.message);
        if (m.message === 'getUserData') resolve(ws);
        else if (m.message === 'ping') wcs(ws, 'pong', null);
        else onMessage(m);
      };
      ws.onopen = () => wcs(ws, 'connection', { appKey: 'defaultApp', mediaProviders: ['WebRTC'], clientVersion: '2.0' });
    });
  (async () => {
    const media = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 1280, height: 720 } });
    const pc = new RTCPeerConnection();
    sim.pc = pc;
    pc.addTransceiver(media.getAudioTracks()[0], { direction: 'sendonly', streams: [media] });
    const video = pc.addTransceiver(media.getVideoTracks()[0], {
      direction: 'sendonly',
      streams: [media],
      sendEncodings: [{ rid: 'l', scaleResolutionDownBy: 4 }, { rid: 'm', scaleResolutionDownBy: 2 }, { rid: 'h' }],
    });
    sim.sender = video.sender;
    await pc.setLocalDescription(await pc.createOffer());
    const answered = new Promise((resolve) => {
      session((m) => {
        if (m.message === 'setRemoteSDP') resolve(m.data[1]);
        if (m.message === 'notifyStreamStatusEvent') sim.status = m.data[0].status + ' ' + (m.data[0].info || '');
      }).then((ws) =>
        wcs(ws, 'publishStream', {
          mediaSessionId: crypto.randomUUID(), name, published: true, hasVideo: true, hasAudio: true,
          status: 'PENDING', record: false, mediaProvider: 'WebRTC', sdp: pc.localDescription.sdp,
        }),
      );
    });
    sim.answer = await answered;
    await pc.setRemoteDescription({ type: 'answer', sdp: sim.answer });
    sim.encodings = video.sender.getParameters().encodings.map((e) => e.rid);
  })().catch((e) => {
    sim.error = String(e && e.stack ? e.stack : e);
  });
}

/** The rids Chromium has sent video bytes for, from its outbound-rtp stats. */
async function ridsSending(page) {
  return page.evaluate(async () => {
    const stats = await window.sim.pc.getStats();
    const sent = {};
    stats.forEach((s) => {
      if (s.type === 'outbound-rtp' && s.kind === 'video' && s.rid) sent[s.rid] = s.bytesSent;
    });
    return sent;
  });
}

test('simulcast: Chromium publishes three rid layers and accepts our answer', { timeout: 60000 }, async () => {
  const server = await startServer({ codecs: 'opus,vp8' });
  let browser = null;
  try {
    browser = await launchBrowser();
    const page = await browser.newPage('simulcast publisher');
    await page.goto(`${server.httpUrl}/`);
    const name = streamName('sim');
    await page.evaluate(pageScript, [server.wsUrl, name]);

    const encodings = await waitInPage(
      page,
      () => window.sim.error || window.sim.encodings,
      undefined,
      10000,
      'no answer applied',
    );
    const { answer, error } = await page.evaluate(() => ({ answer: window.sim.answer, error: window.sim.error }));
    assert.equal(error, undefined, `the page failed: ${error}\n${answer}`);
    assert.deepEqual(encodings, ['l', 'm', 'h'], 'Chromium keeps its three encodings');
    for (const line of ['a=rid:l recv', 'a=rid:m recv', 'a=rid:h recv', 'a=simulcast:recv l;m;h']) {
      assert.ok(answer.includes(`${line}\r\n`), `${line} missing from the answer:\n${answer}`);
    }
    await waitInPage(page, () => /PUBLISHING/.test(window.sim.status || ''), undefined, 5000, 'not PUBLISHING');
    await waitInPage(page, () => window.sim.pc.connectionState === 'connected', undefined, 10000, 'never connected');

    // Chromium sends every layer (the top one once its estimate allows it).
    let sent = {};
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      sent = await ridsSending(page);
      if (['l', 'm', 'h'].every((rid) => sent[rid] > 0)) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    console.log(`[simulcast] bytes sent per layer: ${JSON.stringify(sent)}`);
    assert.ok(['l', 'm', 'h'].every((rid) => sent[rid] > 0), `not every layer is sent: ${JSON.stringify(sent)}`);

    const health = await (await fetch(`${server.httpUrl}/health`)).json();
    assert.deepEqual(health.simulcast, [{ stream: name, layers: ['l', 'm', 'h'] }]);
    const received = health.workers.reduce((n, w) => n + w.datagrams_in, 0);
    console.log(`[simulcast] datagrams received by the node: ${received}`);
  } finally {
    if (browser) await browser.close();
    await server.stop();
  }
});
