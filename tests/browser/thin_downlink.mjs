// The network of the thin-downlink tests (downlink_path.mjs, simulcast_path.mjs), set up from a
// private network namespace (`unshare --net`, see netns.mjs):
//
//   this namespace (publisher, wide players)   10.77.0.1 --vwide/vsrv-- 10.77.0.2   server's
//   thin player's namespace                    10.78.0.1 --vthin/vthinsrv-- 10.78.0.2 server's
//
// The server's side of the thin player's pair (vthinsrv) limits UDP (the media) to 320 kbit/s
// with a 400 ms byte queue, so what the server sends that player beyond the limit waits, then
// drops; TCP (the page, the SDK's bundle, the websocket) is not limited. `lift()` removes the
// limit during a run.
//
// Needs root, iproute2's tc (htb, bfifo, u32) and nsenter.

import fs from 'node:fs';
import path from 'node:path';
import { chromiumPath } from './helpers.mjs';
import { ownLoopback, sh } from './netns.mjs';

/** The thin player's link (UDP only). */
export const THIN = { rate: '320kbit', burst: '16kb', queue: '400 ms' };
/** 400 ms at 320 kbit/s. */
const QUEUE_BYTES = 16000;
/** The server's address as this namespace and the thin player's reach it. */
export const SERVER_ADDR = '10.77.0.2';

/**
 * Creates the server's and the thin player's namespaces and links (named after `tag` and this
 * process). Returns `{ server, thin, remove(), thinStats(), lift(), chromiumWrapper(dir) }`:
 * `server`/`thin` are the namespace names; `remove()` deletes both (also run at process exit);
 * `thinStats()` is `{ bytes, packets, dropped }` the limit let through and dropped so far;
 * `lift()` removes the limit; `chromiumWrapper(dir)` writes a script into `dir` that execs
 * Chromium in the thin player's namespace (for launchBrowser's `executablePath`).
 */
export function thinDownlinkNetwork(tag) {
  ownLoopback();
  const server = `rtcdn-${tag}-srv-${process.pid}`;
  const thin = `rtcdn-${tag}-thin-${process.pid}`;
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
  let lifted = null;

  /** UDP bytes and packets the limit let through toward the thin player, and its drops. */
  const thinStats = () => {
    if (lifted) return lifted;
    const out = tc('-s', 'qdisc', 'show', 'dev', 'vthinsrv');
    const m = /qdisc bfifo 10:[^]*?Sent (\d+) bytes (\d+) pkt \(dropped (\d+)/.exec(out);
    return m ? { bytes: Number(m[1]), packets: Number(m[2]), dropped: Number(m[3]) } : { bytes: 0, packets: 0, dropped: 0 };
  };
  /** Removes the limit (the counters stay at their last values). */
  const lift = () => {
    lifted = thinStats();
    tc('qdisc', 'del', 'dev', 'vthinsrv', 'root');
  };
  const chromiumWrapper = (dir) => {
    const wrapper = path.join(dir, 'chromium-thin');
    fs.writeFileSync(wrapper, `#!/bin/sh\nexec nsenter --net=/run/netns/${thin} ${chromiumPath} "$@"\n`);
    fs.chmodSync(wrapper, 0o755);
    return wrapper;
  };
  return { server, thin, remove, thinStats, lift, chromiumWrapper };
}
