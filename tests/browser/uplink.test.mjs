// A publisher on a congested uplink (1 Mbit/s, tbf queue up to 400 ms; see uplink_path.mjs):
// Chromium with the official Web SDK sends noisy 640x480 video that it would send at ~1.7 Mbit/s,
// once with rtcdn's transport-wide feedback (`transport_cc=true`), once with REMB instead
// (`transport_cc=false`: rtcdn estimates the uplink itself from the abs-send-time stamps) and
// once with neither. With either feedback the sender must settle under the limit within 10 s:
// from then on its mean send rate stays under the link, it loses under 2 % and its round trip
// (an upper bound of the one-way delay) stays under 300 ms in 90 % of the seconds. The run
// without feedback is reported for comparison (it overshoots: queueing delay, loss).
//
// Needs root (network namespaces), iproute2's tc and nsenter. RTCDN_UPLINK_SECONDS (30).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runInNamespace } from './netns.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const RUNNER = path.join(here, 'uplink_path.mjs');
const SECONDS = Number(process.env.RTCDN_UPLINK_SECONDS || 30);
const RUN_OVERHEAD_MS = 120000;
/** The sender has this long to settle before the window that is judged. */
const SETTLE_S = 10;
const LINK_KBPS = 1000;

/** Figures of one run over the seconds after SETTLE_S. */
function summary(r) {
  const after = r.samples.filter((s) => s.t > SETTLE_S);
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);
  const rtts = after.map((s) => s.rttMs).sort((a, b) => a - b);
  const sent = after.reduce((n, s) => n + s.packetsSent, 0);
  const lost = Math.max(0, after.reduce((n, s) => n + s.lost, 0));
  return {
    meanSendKbps: Math.round(mean(after.map((s) => s.sendKbps))),
    maxSendKbps: Math.max(...after.map((s) => s.sendKbps)),
    meanEstimateKbps: Math.round(mean(after.map((s) => s.estimateKbps))),
    rttP90Ms: rtts[Math.floor(0.9 * (rtts.length - 1))],
    rttMaxMs: rtts[rtts.length - 1],
    lossPct: sent ? (100 * lost) / sent : 0,
    feedback: r.feedback,
  };
}

test(`publisher on a 1 Mbit/s uplink: with transport-wide feedback or REMB it settles under the limit`, { timeout: 3 * (SECONDS * 1000 + RUN_OVERHEAD_MS) }, async () => {
  const withCc = await runInNamespace(RUNNER, ['transport-cc', SECONDS], SECONDS * 1000 + RUN_OVERHEAD_MS);
  const withRemb = await runInNamespace(RUNNER, ['remb', SECONDS], SECONDS * 1000 + RUN_OVERHEAD_MS);
  const without = await runInNamespace(RUNNER, ['none', SECONDS], SECONDS * 1000 + RUN_OVERHEAD_MS);
  const on = summary(withCc);
  const remb = summary(withRemb);
  const off = summary(without);
  const fmt = (name, s) =>
    `| ${name} | ${s.meanSendKbps} / ${s.maxSendKbps} | ${s.meanEstimateKbps} | ${s.rttP90Ms} / ${s.rttMaxMs} | ` +
    `${s.lossPct.toFixed(2)} | ${s.feedback} |`;
  console.log(
    `[uplink] tbf ${JSON.stringify(withCc.uplink)}, seconds ${SETTLE_S + 1}..${SECONDS} of each run\n` +
      '| run | send kbit/s mean / max | estimate kbit/s | RTT ms p90 / max | loss % | feedback msgs |\n' +
      '|---|---|---|---|---|---|\n' +
      `${fmt('transport-cc', on)}\n${fmt('REMB', remb)}\n${fmt('neither', off)}\n` +
      `[uplink] per second with feedback (send/estimate kbit/s, RTT ms): ` +
      withCc.samples.map((s) => `${s.sendKbps}/${s.estimateKbps}/${s.rttMs}`).join(' ') +
      `\n[uplink] per second with REMB: ` +
      withRemb.samples.map((s) => `${s.sendKbps}/${s.estimateKbps}/${s.rttMs}`).join(' ') +
      `\n[uplink] per second without: ` +
      without.samples.map((s) => `${s.sendKbps}/${s.estimateKbps}/${s.rttMs}`).join(' '),
  );
  assert.equal(off.feedback, 0, 'both off: no feedback');
  for (const [name, s] of [['transport-wide feedback', on], ['REMB', remb]]) {
    assert.ok(s.feedback > 0, `rtcdn sent ${name}`);
    assert.ok(s.meanSendKbps <= LINK_KBPS, `with ${name} the sender averaged ${s.meanSendKbps} kbit/s over a ${LINK_KBPS} kbit/s link`);
    assert.ok(s.lossPct < 2, `with ${name} the sender lost ${s.lossPct.toFixed(2)} %`);
    assert.ok(s.rttP90Ms < 300, `with ${name} the round trip reached ${s.rttP90Ms} ms (p90)`);
  }
});
