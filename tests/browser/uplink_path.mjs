// One run of a publisher on a congested uplink, started by uplink.test.mjs inside a private
// network namespace (`unshare --net`): `node uplink_path.mjs <transport-cc|remb|none> <seconds>`.
//
// The namespace (Chromium's host) gets a second one for the server, joined by a veth pair
// (10.77.0.1 here, 10.77.0.2 there); the publisher's side of the pair is limited with tbf to
// 1 Mbit/s with a queue of up to 400 ms, so what the browser sends beyond the limit waits, then
// drops. Chromium plays a noisy 640x480 file as its camera (its encoder wants ~1.7 Mbit/s) and
// publishes it with the official Web SDK to rtcdn, which sends it transport-wide feedback
// (`transport-cc`), REMB from its own estimate (`remb`: `transport_cc=false`), or neither
// (`none`: both keys off; the browser has only receiver reports). Every second for
// <seconds> the publisher's send rate, bandwidth estimate, round trip and loss (from rtcdn's
// receiver reports) are read; one `RESULT {json}` line is printed.
//
// Refuses to run outside a namespace that has only `lo`. The server's namespace is deleted on
// exit.

import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { launchBrowser, startServer, streamName, tempDir, withTimeout } from './helpers.mjs';
import { ownLoopback, printResult, sh } from './netns.mjs';
import { openSdkClient, videoStats, waitStatus } from './sdk_page.mjs';

const UPLINK = { rate: '1mbit', burst: '16kb', latency: '400ms' };
const HOST_ADDR = '10.77.0.1';
const SERVER_ADDR = '10.77.0.2';
// 640x480: Chromium's VP8 sender allows itself up to ~1.7 Mbit/s there, and encodes noise at
// that size on two cores without scaling down for CPU (at 1280x720 it falls back to 320x180).
const VIDEO = { width: 640, height: 480 };
const RUN_DEADLINE_MS = 150000;

/** Writes `frames` frames of random 4:2:0 noise at VIDEO's size as a y4m file. */
function noiseFile(dir, frames) {
  const file = path.join(dir, 'noise.y4m');
  const { width, height } = VIDEO;
  const fd = fs.openSync(file, 'w');
  fs.writeSync(fd, `YUV4MPEG2 W${width} H${height} F30:1 Ip A1:1 C420jpeg\n`);
  for (let i = 0; i < frames; i++) {
    fs.writeSync(fd, 'FRAME\n');
    fs.writeSync(fd, crypto.randomBytes((width * height * 3) / 2));
  }
  fs.closeSync(fd);
  return file;
}

/** The server's namespace and the shaped veth pair to it; returns `{ ns, remove() }`. */
function network() {
  ownLoopback();
  const ns = `rtcdn-uplink-${process.pid}`;
  const remove = () => {
    try {
      sh('ip', ['netns', 'del', ns]);
    } catch {
      // already gone
    }
  };
  sh('ip', ['netns', 'add', ns]);
  process.on('exit', remove);
  sh('ip', ['link', 'add', 'vpub', 'type', 'veth', 'peer', 'name', 'vsrv', 'netns', ns]);
  sh('ip', ['addr', 'add', `${HOST_ADDR}/24`, 'dev', 'vpub']);
  sh('ip', ['link', 'set', 'vpub', 'up']);
  sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', ns, 'addr', 'add', `${SERVER_ADDR}/24`, 'dev', 'vsrv']);
  sh('ip', ['-n', ns, 'link', 'set', 'vsrv', 'up']);
  const { rate, burst, latency } = UPLINK;
  sh('tc', ['qdisc', 'add', 'dev', 'vpub', 'root', 'tbf', 'rate', rate, 'burst', burst, 'latency', latency]);
  return { ns, remove };
}

async function measure(mode, seconds) {
  const net = network();
  const dir = tempDir('rtcdn-uplink-');
  const camera = noiseFile(dir, 30);
  const server = await startServer({
    codecs: 'opus,vp8',
    extra: {
      ip: SERVER_ADDR,
      transport_cc: String(mode === 'transport-cc'),
      remb: String(mode === 'remb'),
    },
    launcher: ['nsenter', `--net=/run/netns/${net.ns}`],
  });
  let browser = null;
  try {
    browser = await launchBrowser({
      extraArgs: [
        `--use-file-for-fake-video-capture=${camera}`,
        // getUserMedia needs a secure context; the page comes from the server's address.
        `--unsafely-treat-insecure-origin-as-secure=${server.httpUrl}`,
      ],
    });
    const publisher = await openSdkClient(browser, `${server.httpUrl}/sdk_client.html`, 'publisher', 30000);
    const name = streamName('uplink');
    await publisher.evaluate(
      ([url, n, video]) => window.rtStart('publish', url, n, { video }),
      [server.wsUrl, name, VIDEO],
    );
    const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher', { timeoutMs: 30000 });
    if (published.status !== 'PUBLISHING') throw new Error(`publish failed: ${published.info}`);
    // Keep 640x480 (noise makes the encoder want its maximum rate there) instead of scaling
    // down, so the sender wants more than the uplink carries.
    const senders = await publisher.evaluate(() => window.rtMaintainResolution());
    if (senders !== 1) throw new Error(`expected one video sender, changed ${senders}`);
    const samples = [];
    let last = await videoStats(publisher, 'publisher');
    for (let s = 1; s <= seconds; s++) {
      await new Promise((r) => setTimeout(r, 1000));
      const now = await videoStats(publisher, 'publisher');
      if (now && last) {
        samples.push({
          t: s,
          sendKbps: Math.round(((now.bytesSent - last.bytesSent) * 8) / 1000),
          estimateKbps: Math.round((now.availableOutgoingBitrate || 0) / 1000),
          targetKbps: Math.round((now.targetBitrate || 0) / 1000),
          rttMs: Math.round((now.remoteRoundTripTime || 0) * 1000),
          packetsSent: now.packetsSent - last.packetsSent,
          lost: (now.remotePacketsLost || 0) - (last.remotePacketsLost || 0),
          size: `${now.frameWidth}x${now.frameHeight}`,
          limitedBy: now.qualityLimitationReason,
          fps: now.framesPerSecond,
        });
      }
      last = now;
    }
    const health = await withTimeout(fetch(`${server.httpUrl}/health`), 5000, '/health');
    const workers = (await health.json()).workers;
    const feedback = workers.reduce((n, w) => n + w.transport_feedback_sent + w.remb_sent, 0);
    return { mode, seconds, uplink: UPLINK, samples, feedback };
  } catch (e) {
    console.error(`--- rtcdn output ---\n${server.output()}`);
    throw e;
  } finally {
    if (browser) await browser.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    net.remove();
  }
}

const [mode, secondsArg] = process.argv.slice(2);
const seconds = Number(secondsArg);
if (!['transport-cc', 'remb', 'none'].includes(mode) || !(seconds > 0)) {
  console.error('usage: node uplink_path.mjs <transport-cc|remb|none> <seconds>   (inside unshare --net)');
  process.exit(2);
}
await printResult('uplink_path', RUN_DEADLINE_MS, () => measure(mode, seconds));
