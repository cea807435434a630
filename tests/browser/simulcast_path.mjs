// One run of a simulcast publish and two players of it, one behind a thin downlink, started by
// simulcast.test.mjs inside a private network namespace: `node simulcast_path.mjs <mode>`, mode
// `node` (publisher and players on one server) or `cdn` (publisher on an origin, both players on
// an edge through the origin's balancer, `lbUrl`), optionally `lift` as a second argument.
//
// The network is thin_downlink.mjs's: the server(s) in their namespace, the thin player's Chromium
// in its own behind a 320 kbit/s UDP limit, the publisher's and the wide player's Chromium here.
// The official Web SDK publishes 1280x720 at 30 fps from Chromium's fake camera with the
// page's simulcast option (web/js/simulcast.js: rids l, m, h at 320x180, 640x360, 1280x720).
// Then, sampling the server's /health (`viewers[]`: the layer each player is sent) and each
// player's inbound video every SAMPLE_MS:
//   1. down: from the thin player's play(), up to DOWN_WITHIN_MS, until it is sent layer "l"
//      and decodes a frame width of at most THIN_MAX_WIDTH;
//   2. window: WINDOW_MS of the thin player's frames (requestVideoFrameCallback: frames per
//      second, the longest gap) and Chromium's freeze counters;
//   3. up (with `lift`): the limit is removed; up to UP_WITHIN_MS until the thin player is sent
//      layer "h" at 1280 wide.
// Nothing is asserted here: one `RESULT {json}` line carries what was seen (the test judges);
// a run that cannot publish or play fails.

import fs from 'node:fs';
import { launchBrowser, loadbalancingXml, startServer, streamName, tempDir, withTimeout } from './helpers.mjs';
import { printResult } from './netns.mjs';
import { openSdkClient, videoStats, waitBalancerKnows, waitStatus, wsPort } from './sdk_page.mjs';
import { SERVER_ADDR, THIN, thinDownlinkNetwork } from './thin_downlink.mjs';

const DOWN_WITHIN_MS = 10000;
const WINDOW_MS = 10000;
const UP_WITHIN_MS = 20000;
/** "320ish": the lowest layer is 1280/4 wide. */
const THIN_MAX_WIDTH = 360;
const TOP_WIDTH = 1280;
const SAMPLE_MS = 500;
const RUN_DEADLINE_MS = 150000;
const PUBLISH = { video: { width: 1280, height: 720 }, simulcast: true };

/**
 * The server(s) of `mode` in the server's namespace: returns `{ publishUrl, playUrl, lbUrl,
 * healthUrl, pageUrl, edgePort, output(), stop() }`.
 */
async function startServers(mode, net) {
  const common = { codecs: 'opus,vp8', launcher: ['nsenter', `--net=/run/netns/${net.server}`] };
  if (mode === 'node') {
    const server = await startServer({ ...common, extra: { ip: SERVER_ADDR } });
    return {
      publishUrl: server.wsUrl,
      playUrl: server.wsUrl,
      lbUrl: null,
      healthUrl: `${server.httpUrl}/health`,
      pageUrl: `${server.httpUrl}/sdk_client.html`,
      output: () => server.output().slice(-6000),
      stop: () => server.stop(),
    };
  }
  const started = [];
  const stop = () => Promise.all(started.map((s) => s.stop()));
  try {
    const edge = await startServer({ ...common, extra: { ip: SERVER_ADDR } });
    started.push(edge);
    const origin = await startServer({
      ...common,
      extra: { ip: SERVER_ADDR, load_balancing_enabled: 'true' },
      files: { 'loadbalancing.xml': loadbalancingXml([edge.port], { ip: SERVER_ADDR }) },
    });
    started.push(origin);
    await waitBalancerKnows(origin, [edge.port]);
    return {
      publishUrl: origin.wsUrl,
      playUrl: origin.wsUrl,
      lbUrl: `${origin.httpUrl}/?action=balance`,
      healthUrl: `${edge.httpUrl}/health`,
      pageUrl: `${origin.httpUrl}/sdk_client.html`,
      edgePort: edge.port,
      output: () =>
        `--- origin ---\n${origin.output().slice(-4000)}\n--- edge ---\n${edge.output().slice(-4000)}`,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The server's /health: `{ viewers, raw }`, viewers null when it has no such field. */
async function health(url) {
  try {
    const res = await withTimeout(fetch(url), 2000, '/health');
    const body = await res.json();
    return { viewers: Array.isArray(body.viewers) ? body.viewers : null, status: res.status };
  } catch (e) {
    return { viewers: null, error: e.message };
  }
}

/** The publisher's rids, in the order its offer lists them (the page's sendEncodings). */
const RIDS = ['l', 'm', 'h'];

/** The fields of a /health viewer entry the test reads (null when absent). An edge receives the
 * layers over the relay leg as an SSRC group, which has no rids: there `layer` is the index
 * ("0", "1", "2") of the publisher's layer, named here by the publisher's rid. */
function viewerFields(v) {
  if (!v) return null;
  const { layer_index, sending_bps, estimate_bps, video_paused } = v;
  let { layer } = v;
  if (layer !== null && layer === String(layer_index) && RIDS[layer_index]) layer = RIDS[layer_index];
  return { layer, layer_index, sending_bps, estimate_bps, video_paused };
}

async function measure(mode, lift) {
  const net = thinDownlinkNetwork(mode === 'cdn' ? 'sccdn' : 'sc');
  const dir = tempDir('rtcdn-simulcast-');
  const browsers = [];
  let servers = null;
  try {
    servers = await startServers(mode, net);
    const secure = [`--unsafely-treat-insecure-origin-as-secure=${servers.pageUrl.replace(/\/[^/]*$/, '')}`];
    // The fake camera at 30 fps (it gives 20 by default): a thin player that keeps up decodes
    // well over 20 fps, so the floor of 20 can tell.
    const here = await launchBrowser({ extraArgs: [...secure, '--use-fake-device-for-media-stream=fps=30'] });
    browsers.push(here);
    const thinBrowser = await launchBrowser({ extraArgs: secure, executablePath: net.chromiumWrapper(dir) });
    browsers.push(thinBrowser);
    const publisher = await openSdkClient(here, servers.pageUrl, 'publisher', 30000);
    const wide = await openSdkClient(here, servers.pageUrl, 'wide player', 30000);
    const thin = await openSdkClient(thinBrowser, servers.pageUrl, 'thin player', 30000);
    const name = streamName('simulcast');

    await publisher.evaluate(([url, n, o]) => window.rtStart('publish', url, n, o), [servers.publishUrl, name, PUBLISH]);
    const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher', { timeoutMs: 30000 });
    if (published.status !== 'PUBLISHING') throw new Error(`publish failed: ${published.info}`);
    const negotiated = await publisher.evaluate(() => window.rtNegotiated());

    const playOptions = servers.lbUrl ? { lbUrl: servers.lbUrl, waitAvailable: true } : {};
    const players = {};
    for (const [p, label] of [[wide, 'wide'], [thin, 'thin']]) {
      const calledAt = Date.now();
      await p.evaluate(([url, n, o]) => window.rtStart('play', url, n, o), [servers.playUrl, name, playOptions]);
      const playing = await waitStatus(p, ['PLAYING', 'FAILED'], `${label} player`, { timeoutMs: 30000 });
      if (playing.status !== 'PLAYING') throw new Error(`${label} player: play failed: ${playing.info}`);
      // play() itself: the SDK's call time on the page, on this process's clock.
      const playAt = await p.evaluate(() => performance.timeOrigin + window.rt.startedAt);
      players[label] = {
        page: p,
        playAt,
        sessionMs: Math.round(playAt - calledAt),
        playingMs: Math.round(playing.t - (await p.evaluate(() => window.rt.startedAt))),
        id: await p.evaluate(() => window.rtStreamId()),
        serverPort: wsPort(await p.evaluate(() => window.rtServerUrl())),
      };
    }

    // Samples of both players every SAMPLE_MS, `t` in ms since the thin player's play().
    const t0 = players.thin.playAt;
    const timeline = [];
    let lastRawViewers = null;
    const sample = async (phase) => {
      const h = await health(servers.healthUrl);
      lastRawViewers = h.viewers;
      const find = (id) => (h.viewers || []).find((v) => v.mediaSessionId === id) || null;
      const [thinVideo, wideVideo, pubLayers] = await Promise.all([
        videoStats(thin, 'thin player').catch(() => null),
        videoStats(wide, 'wide player').catch(() => null),
        publisher.evaluate(() => window.rtOutboundLayers()).catch(() => []),
      ]);
      const s = {
        phase,
        t: Date.now() - t0,
        health: h.viewers ? 'viewers' : h.error || `no viewers field (HTTP ${h.status})`,
        thin: viewerFields(find(players.thin.id)),
        wide: viewerFields(find(players.wide.id)),
        thinWidth: thinVideo ? thinVideo.frameWidth || 0 : null,
        wideWidth: wideVideo ? wideVideo.frameWidth || 0 : null,
        thinFrames: thinVideo ? thinVideo.framesDecoded || 0 : null,
        // The thin player's receive counters (what a stall is made of).
        thinRx: thinVideo
          ? ['framesReceived', 'framesDropped', 'keyFramesDecoded', 'packetsReceived', 'packetsLost', 'nackCount', 'pliCount', 'freezeCount'].map((f) => thinVideo[f] || 0).join('/')
          : null,
        // What the publisher's Chromium encodes now, per rid: width, frames/s and why it
        // limits the quality ("cpu" when it scales down for lack of CPU).
        pub: Object.fromEntries(
          pubLayers.map((l) => [l.rid, { w: l.frameWidth, fps: Math.round(l.framesPerSecond), qlr: l.qualityLimitationReason }]),
        ),
      };
      timeline.push(s);
      return s;
    };
    const pause = () => new Promise((r) => setTimeout(r, SAMPLE_MS));
    const thinAt = (s, layer) => Boolean(s.thin && s.thin.layer === layer);

    // 1. Down: the thin player on layer l and decoding the small size.
    let downLayerMs = null;
    let downWidthMs = null;
    while (Date.now() - t0 <= DOWN_WITHIN_MS) {
      const s = await sample('down');
      if (downLayerMs === null && thinAt(s, 'l')) downLayerMs = s.t;
      if (downWidthMs === null && s.thinWidth > 0 && s.thinWidth <= THIN_MAX_WIDTH) downWidthMs = s.t;
      if (downLayerMs !== null && downWidthMs !== null) break;
      await pause();
    }

    // 2. Window: the thin player's frames.
    const thinBefore = await videoStats(thin, 'thin player');
    const publisherLayers = await publisher.evaluate(() => window.rtOutboundLayers());
    const linkBefore = net.thinStats();
    const watchHow = await thin.evaluate(() => window.rtFrameWatch());
    const windowStart = Date.now();
    while (Date.now() - windowStart < WINDOW_MS) {
      await pause();
      await sample('window');
    }
    const frames = await thin.evaluate(() => window.rtFrameReport());
    const thinAfter = await videoStats(thin, 'thin player');
    const linkAfter = net.thinStats();
    const windowSeconds = (Date.now() - windowStart) / 1000;
    const delta = (f) => (thinAfter[f] || 0) - (thinBefore[f] || 0);
    const windowStats = {
      startMs: windowStart - t0,
      seconds: windowSeconds,
      watch: watchHow,
      fps: frames.fps,
      frames: frames.frames,
      maxGapMs: frames.maxGapMs,
      widths: frames.widths,
      framesDecoded: delta('framesDecoded'),
      decodedFps: delta('framesDecoded') / windowSeconds,
      freezeCount: delta('freezeCount'),
      totalFreezesDuration: delta('totalFreezesDuration'),
      packetsLost: delta('packetsLost'),
      linkKbps: Math.round(((linkAfter.bytes - linkBefore.bytes) * 8) / windowSeconds / 1000),
      linkDropped: linkAfter.dropped - linkBefore.dropped,
    };

    // 3. Up: the limit removed, the thin player back on layer h at full size.
    let up = null;
    if (lift) {
      net.lift();
      const liftedAt = Date.now();
      up = { liftedMs: liftedAt - t0, layerMs: null, widthMs: null };
      while (Date.now() - liftedAt <= UP_WITHIN_MS) {
        const s = await sample('up');
        if (up.layerMs === null && thinAt(s, 'h')) up.layerMs = Date.now() - liftedAt;
        if (up.widthMs === null && s.thinWidth >= TOP_WIDTH) up.widthMs = Date.now() - liftedAt;
        if (up.layerMs !== null && up.widthMs !== null) break;
        await pause();
      }
    }

    const strip = ({ page, ...rest }) => rest;
    return {
      mode,
      limits: { DOWN_WITHIN_MS, WINDOW_MS, UP_WITHIN_MS, THIN_MAX_WIDTH, TOP_WIDTH, SAMPLE_MS },
      thinLink: THIN,
      edgePort: servers.edgePort || null,
      negotiated: {
        offerVideo: negotiated.offerVideo,
        answerVideo: negotiated.answerVideo,
        sentLayers: await publisher.evaluate(() => window.rtcdnSimulcast.sentLayers(window.rtPeerConnections[0])),
        offerLines: negotiated.offer.split(/\r?\n/).filter((l) => /^(m=video|a=rid:|a=simulcast:|a=extmap:\d+ .*stream-id)/.test(l)),
        answerLines: negotiated.answer.split(/\r?\n/).filter((l) => /^(m=video|a=rid:|a=simulcast:|a=extmap:\d+ .*stream-id)/.test(l)),
      },
      publisherLayers,
      players: { thin: strip(players.thin), wide: strip(players.wide) },
      down: { layerMs: downLayerMs, widthMs: downWidthMs },
      window: windowStats,
      up,
      timeline,
      lastViewers: lastRawViewers,
    };
  } catch (e) {
    if (servers) console.error(`--- rtcdn output ---\n${servers.output()}`);
    throw e;
  } finally {
    for (const b of browsers) await b.close();
    if (servers) await servers.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    net.remove();
  }
}

const [mode, liftArg] = process.argv.slice(2);
if (mode !== 'node' && mode !== 'cdn') {
  console.error('usage: node simulcast_path.mjs node|cdn [lift]   (inside unshare --net)');
  process.exit(2);
}
await printResult(`simulcast_path ${mode}`, RUN_DEADLINE_MS, () => measure(mode, liftArg === 'lift'));
