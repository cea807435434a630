// One run of two players of one stream, one of them behind a thin downlink, started by
// downlink.test.mjs inside a private network namespace: `node downlink_path.mjs <seconds>`.
//
// Three namespaces: this one (the publisher's and the wide player's Chromium), the server's,
// and the thin player's, each joined to the server's by a veth pair; the server's side of the
// thin player's pair limits UDP to 320 kbit/s (queue up to 400 ms), so the media rtcdn
// sends that player beyond the limit waits, then drops. The official Web SDK publishes 1280x720 from
// Chromium's fake camera; both players play it; for <seconds> the players' `notEnoughBandwidth`
// stream events (the SDK's STREAM_EVENT) and decoded frames are recorded, and what the server
// sent toward the thin player (tc's byte count). One `RESULT {json}` line is printed.

import fs from 'node:fs';
import path from 'node:path';
import { chromiumPath, launchBrowser, startServer, streamName, tempDir } from './helpers.mjs';
import { ownLoopback, printResult, sh } from './netns.mjs';
import { openSdkClient, videoStats, waitStatus } from './sdk_page.mjs';

const THIN = { rate: '320kbit', burst: '16kb', queue: '400 ms' };
/** 400 ms at 320 kbit/s. */
const QUEUE_BYTES = 16000;
const SERVER_ADDR = '10.77.0.2';
const RUN_DEADLINE_MS = 150000;

/** The server's and the thin player's namespaces and links; returns names and `remove()`. */
function network() {
  ownLoopback();
  const server = `rtcdn-dl-srv-${process.pid}`;
  const thin = `rtcdn-dl-thin-${process.pid}`;
  const remove = () => {
    for (const ns of [server, thin]) {
      try {
        sh('ip', ['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
  };
  process.on('exit', remove);
  sh('ip', ['netns', 'add', server]);
  sh('ip', ['netns', 'add', thin]);
  // Here <-> server: 10.77.0.1 / 10.77.0.2, not limited.
  sh('ip', ['link', 'add', 'vwide', 'type', 'veth', 'peer', 'name', 'vsrv', 'netns', server]);
  sh('ip', ['addr', 'add', '10.77.0.1/24', 'dev', 'vwide']);
  sh('ip', ['link', 'set', 'vwide', 'up']);
  sh('ip', ['-n', server, 'addr', 'add', `${SERVER_ADDR}/24`, 'dev', 'vsrv']);
  sh('ip', ['-n', server, 'link', 'set', 'vsrv', 'up']);
  sh('ip', ['-n', server, 'link', 'set', 'lo', 'up']);
  // Thin player <-> server: 10.78.0.1 / 10.78.0.2; the server reaches it through vthinsrv.
  sh('ip', ['-n', server, 'link', 'add', 'vthinsrv', 'type', 'veth', 'peer', 'name', 'vthin', 'netns', thin]);
  sh('ip', ['-n', server, 'addr', 'add', '10.78.0.2/24', 'dev', 'vthinsrv']);
  sh('ip', ['-n', server, 'link', 'set', 'vthinsrv', 'up']);
  sh('ip', ['-n', thin, 'addr', 'add', '10.78.0.1/24', 'dev', 'vthin']);
  sh('ip', ['-n', thin, 'link', 'set', 'vthin', 'up']);
  sh('ip', ['-n', thin, 'link', 'set', 'lo', 'up']);
  sh('ip', ['-n', thin, 'route', 'add', 'default', 'via', '10.78.0.2']);
  // Only UDP (the media) is limited: the page and the SDK's bundle load at full speed.
  const { rate, burst } = THIN;
  const tc = (...args) => sh('ip', ['netns', 'exec', server, 'tc', ...args]);
  // (This kernel has htb, bfifo and u32 but not prio: UDP goes to a 320 kbit/s class with a
  // byte queue of 400 ms, everything else to a fast default class.)
  tc('qdisc', 'add', 'dev', 'vthinsrv', 'root', 'handle', '1:', 'htb', 'default', '20', 'r2q', '1');
  tc('class', 'add', 'dev', 'vthinsrv', 'parent', '1:', 'classid', '1:10', 'htb', 'rate', rate, 'ceil', rate, 'burst', burst);
  tc('class', 'add', 'dev', 'vthinsrv', 'parent', '1:', 'classid', '1:20', 'htb', 'rate', '1gbit');
  tc('qdisc', 'add', 'dev', 'vthinsrv', 'parent', '1:10', 'handle', '10:', 'bfifo', 'limit', String(QUEUE_BYTES));
  tc('filter', 'add', 'dev', 'vthinsrv', 'parent', '1:', 'protocol', 'ip', 'u32', 'match', 'ip', 'protocol', '17', '0xff', 'flowid', '1:10');
  return { server, thin, remove };
}

/** UDP bytes the server's side of the thin link let through (its queue's count). */
function thinBytesSent(ns) {
  const out = sh('ip', ['netns', 'exec', ns, 'tc', '-s', 'qdisc', 'show', 'dev', 'vthinsrv']);
  const m = /qdisc bfifo 10:[^]*?Sent (\d+) bytes/.exec(out);
  return m ? Number(m[1]) : 0;
}

async function measure(seconds) {
  const net = network();
  const dir = tempDir('rtcdn-downlink-');
  // Chromium for the thin player runs in its namespace (Playwright talks to it over pipes).
  const wrapper = path.join(dir, 'chromium-thin');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec nsenter --net=/run/netns/${net.thin} ${chromiumPath} "$@"\n`);
  fs.chmodSync(wrapper, 0o755);
  const server = await startServer({
    codecs: 'opus,vp8',
    extra: { ip: SERVER_ADDR },
    launcher: ['nsenter', `--net=/run/netns/${net.server}`],
  });
  const browsers = [];
  try {
    const secure = [`--unsafely-treat-insecure-origin-as-secure=${server.httpUrl}`];
    const here = await launchBrowser({ extraArgs: secure });
    browsers.push(here);
    const thinBrowser = await launchBrowser({ extraArgs: secure, executablePath: wrapper });
    browsers.push(thinBrowser);
    const page = `${server.httpUrl}/sdk_client.html`;
    const publisher = await openSdkClient(here, page, 'publisher', 30000);
    const wide = await openSdkClient(here, page, 'wide player', 30000);
    const thin = await openSdkClient(thinBrowser, page, 'thin player', 30000);
    const name = streamName('downlink');
    await publisher.evaluate(
      ([url, n]) => window.rtStart('publish', url, n, { video: { width: 1280, height: 720 } }),
      [server.wsUrl, name],
    );
    const published = await waitStatus(publisher, ['PUBLISHING', 'FAILED'], 'publisher', { timeoutMs: 30000 });
    if (published.status !== 'PUBLISHING') throw new Error(`publish failed: ${published.info}`);
    for (const [p, label] of [[wide, 'wide player'], [thin, 'thin player']]) {
      await p.evaluate(([url, n]) => window.rtStart('play', url, n), [server.wsUrl, name]);
      const playing = await waitStatus(p, ['PLAYING', 'FAILED'], label, { timeoutMs: 30000 });
      if (playing.status !== 'PLAYING') throw new Error(`${label}: play failed: ${playing.info}`);
    }
    const bytesBefore = thinBytesSent(net.server);
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const bytesAfter = thinBytesSent(net.server);
    const state = async (p, label) => ({
      events: await p.evaluate(() => window.rt.log.filter((e) => e.kind === 'event')),
      parsed: await p.evaluate(() => window.rt.bandwidth || null),
      startedAt: await p.evaluate(() => performance.timeOrigin + window.rt.startedAt),
      video: await videoStats(p, label),
    });
    const thinState = await state(thin, 'thin player');
    const wideState = await state(wide, 'wide player');
    const origin = await thin.evaluate(() => performance.timeOrigin);
    return {
      seconds,
      thinLink: THIN,
      thinSentKbps: Math.round(((bytesAfter - bytesBefore) * 8) / seconds / 1000),
      thin: thinState,
      wide: wideState,
      // From the thin player's play() to its first event.
      firstThinEventMs: thinState.events.length
        ? Math.round(origin + thinState.events[0].t - thinState.startedAt)
        : null,
    };
  } catch (e) {
    console.error(`--- rtcdn output ---\n${server.output()}`);
    throw e;
  } finally {
    for (const b of browsers) await b.close();
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
    net.remove();
  }
}

const seconds = Number(process.argv[2]);
if (!(seconds > 0)) {
  console.error('usage: node downlink_path.mjs <seconds>   (inside unshare --net)');
  process.exit(2);
}
await printResult('downlink_path', RUN_DEADLINE_MS, () => measure(seconds));
