// Driving tests/browser/pages/sdk_client.html (the official Web SDK) from a test: open it, wait
// for the statuses it logs, ask an origin's balancer, read the stream's WebRTC statistics.
//
// Owns only what the SDK test pages share; it must not know server internals.

import { waitInPage, withTimeout } from './helpers.mjs';

/** How long a status (PUBLISHING, PLAYING, STOPPED, ...) may take by default. */
export const STATUS_TIMEOUT_MS = 15000;

/** The origin marks edges reachable after its first stat poll (once a second). */
const BALANCER_READY_MS = 15000;

/** Opens `pageUrl` (an sdk_client.html) in a new page and waits until the SDK has loaded. */
export async function openSdkClient(browser, pageUrl, label, timeoutMs = STATUS_TIMEOUT_MS) {
  const page = await browser.newPage(label);
  await page.goto(pageUrl, { timeout: timeoutMs });
  await waitInPage(
    page,
    () => typeof window.Flashphoner === 'object' && typeof window.rtStart === 'function',
    undefined,
    5000,
    `${label}: the SDK (flashphoner.js) or sdk_client.js did not load from web_dir`,
  );
  return page;
}

/**
 * Waits until the page logged a `kind` ('stream' or 'session') status among `statuses`, or its
 * session died (FAILED / DISCONNECTED end the wait at once); returns that log entry. The error
 * carries the page's whole status log.
 */
export async function waitStatus(page, statuses, label, { kind = 'stream', timeoutMs = STATUS_TIMEOUT_MS } = {}) {
  try {
    return await waitInPage(
      page,
      ([st, k]) =>
        window.rt.log.find((e) => e.kind === k && st.indexOf(e.status) >= 0) ||
        window.rt.log.find((e) => e.kind === 'session' && (e.status === 'FAILED' || e.status === 'DISCONNECTED')),
      [statuses, kind],
      timeoutMs,
      `${label}: no ${kind} status among ${statuses.join('/')}`,
    );
  } catch (e) {
    const log = await page.evaluate(() => window.rt && window.rt.log).catch(() => null);
    throw new Error(`${e.message}\n${label} status log: ${JSON.stringify(log)}`);
  }
}

/** The session statuses (FAILED, DISCONNECTED) that mean the page's session was dropped. */
export async function droppedSessions(page) {
  return page.evaluate(() =>
    window.rt.log.filter((e) => e.kind === 'session' && (e.status === 'FAILED' || e.status === 'DISCONNECTED')),
  );
}

/** Polls the origin's balancer until it has named every edge port in `ports` (ROUNDROBIN). */
export async function waitBalancerKnows(origin, ports) {
  const seen = new Set();
  let last = '';
  const deadline = Date.now() + BALANCER_READY_MS;
  while (Date.now() < deadline) {
    try {
      const res = await withTimeout(fetch(`${origin.httpUrl}/?action=balance`), 3000, 'balancer request');
      last = `${res.status} ${await res.text()}`;
      if (res.status === 200) seen.add(Number(JSON.parse(last.slice(4)).ws));
    } catch (e) {
      last = e.message;
    }
    if (ports.every((p) => seen.has(p))) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `the origin's balancer did not name every edge ${JSON.stringify(ports)} within ${BALANCER_READY_MS} ms ` +
      `(named ${JSON.stringify([...seen])}, last answer: ${last})`,
  );
}

/** The port of a `ws://host:port` URL, or NaN. */
export function wsPort(url) {
  const m = /^ws:\/\/[^/]+:(\d+)\/?$/.exec(url || '');
  return m ? Number(m[1]) : NaN;
}

/** The page's video statistics (`window.rtVideoStats()`), bounded in time. */
export async function videoStats(page, label) {
  return withTimeout(page.evaluate(() => window.rtVideoStats()), 5000, `${label}: stream.getStats() did not answer`);
}
