// A player behind a thin downlink (UDP limited to 320 kbit/s; see downlink_path.mjs) and a
// player without a limit, both playing the official Web SDK's 1280x720 publish on one node:
// once the publisher sends more than that link carries (Chromium ramps a publish up over
// seconds), the thin one must get WCS's `notEnoughBandwidth` stream event (the SDK's STREAM_EVENT, with
// `info` "<stream bits/s>/<estimate bits/s>" that the SDK parses) within 10 s of play(), and what
// the server sends it must then stay within the limit plus 20 % (its video is paused: the stream
// does not fit); the other must never get the event.
//
// Needs root (network namespaces), iproute2's tc (htb, bfifo, u32) and nsenter.
// RTCDN_DOWNLINK_SECONDS (20).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNamespace } from './netns.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUNNER = path.join(here, 'downlink_path.mjs');
const SECONDS = Number(process.env.RTCDN_DOWNLINK_SECONDS || 20);
const RUN_OVERHEAD_MS = 120000;

test('a player on a 320 kbit/s downlink is told notEnoughBandwidth; an unlimited one is not', { timeout: SECONDS * 1000 + RUN_OVERHEAD_MS }, async () => {
  const r = await runInNamespace(RUNNER, [SECONDS], SECONDS * 1000 + RUN_OVERHEAD_MS);
  const info = r.thin.events.map((e) => e.info);
  console.log(
    `[downlink] publisher at ${r.publisherKbpsAtPlay} kbit/s when the players started (${r.publisherRampMs} ms after PUBLISHING); ` +
      `thin player (UDP ${r.thinLink.rate}): ${r.thin.events.length} notEnoughBandwidth ` +
      `(first ${r.firstThinEventMs} ms after play(); info ${info.join(', ')}; the SDK read ` +
      `${JSON.stringify(r.parsed || r.thin.parsed)}), ${r.thin.video.framesDecoded} frames, ` +
      `${r.thinSentKbps} kbit/s through its link, ${r.thinOfferedKbps} kbit/s sent toward it from ` +
      `${r.settleMs} ms after play (${r.thinDroppedAfterSettle} dropped by the limit); wide player: ${r.wide.events.length} events, ` +
      `${r.wide.video.framesDecoded} frames`,
  );
  assert.ok(r.thin.events.length > 0, 'the thin player got no notEnoughBandwidth');
  assert.ok(r.thin.events.every((e) => e.status === 'notEnoughBandwidth'), JSON.stringify(r.thin.events));
  assert.ok(r.firstThinEventMs <= 10000, `first notEnoughBandwidth ${r.firstThinEventMs} ms after play()`);
  for (const i of info) {
    const m = /^(\d+)\/(\d+)$/.exec(i);
    assert.ok(m && Number(m[1]) > Number(m[2]), `info "${i}": stream bitrate over the estimate`);
  }
  const [remote, network] = info[info.length - 1].split('/');
  assert.deepEqual(r.thin.parsed, { remote, network }, 'the SDK parsed the last info');
  const limitKbps = parseInt(r.thinLink.rate, 10);
  assert.ok(
    r.thinOfferedKbps <= limitKbps * 1.2,
    `the server sent the thin player ${r.thinOfferedKbps} kbit/s, over ${limitKbps} kbit/s + 20 %`,
  );
  assert.deepEqual(r.wide.events, [], 'the unlimited player got stream events');
  assert.ok(r.wide.video.framesDecoded > 0, 'the unlimited player decoded nothing');
});
