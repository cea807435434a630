// Shared helpers for the browser tests: start the real `rtcdn` binary with a temporary config
// and web_dir, launch headless Chromium (playwright-core, fake camera/microphone), and bounded
// waits with clear failure messages.
//
// Owns only test plumbing; it must not know server internals. Every wait has a timeout, and
// every started process/browser is stopped by the returned `stop()`/`close()` (call them in
// `finally`); a process-exit hook kills any server that is still running.

import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** The repository root (two levels above tests/browser). */
export const repoRoot = path.resolve(here, '..', '..');

/** Where scripts/test.sh installs the npm packages of tests/browser/package.json. */
export const cacheDir = path.resolve(process.env.RTCDN_BROWSER_CACHE || path.join(repoRoot, '.cache', 'browser'));

const requireFromCache = createRequire(path.join(cacheDir, 'node_modules', 'noop.js'));

/** The server binary: $RTCDN_BIN or target/debug/rtcdn (honouring $CARGO_TARGET_DIR). */
export const serverBin =
  (process.env.RTCDN_BIN && path.resolve(process.env.RTCDN_BIN)) ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(repoRoot, 'target'), 'debug', 'rtcdn');

/** The Chromium binary (Debian package). */
export const chromiumPath = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--autoplay-policy=no-user-gesture-required',
  '--allow-loopback-in-peer-connection',
];

const SERVER_START_TIMEOUT_MS = 15000;

const liveServers = new Set();
process.on('exit', () => {
  for (const child of liveServers) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** Rejects with `message` if `promise` does not settle within `ms`. */
export async function withTimeout(promise, ms, message) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} (timed out after ${ms} ms)`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const liveTempDirs = new Set();
process.on('exit', () => {
  for (const dir of liveTempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

/**
 * A fresh temporary directory with the given prefix; removed at process exit if still there
 * (e.g. when a SIGTERM ends a run before its `finally`).
 */
export function tempDir(prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  liveTempDirs.add(dir);
  return dir;
}

/** Path of a file inside the installed @flashphoner/websdk package. */
export function sdkFile(name) {
  return path.join(cacheDir, 'node_modules', '@flashphoner', 'websdk', name);
}

/**
 * Starts `rtcdn --config-dir <tmp>` with ws.port=0, media_port_from=0, worker_threads=2 and
 * `codecs`, serving tests/browser/pages/*, the SDK's flashphoner.js and web/js/simulcast.js from
 * a temporary web_dir.
 * `extra` adds or overrides properties; `files` (`{ name: contents }`, e.g. `loadbalancing.xml`)
 * are written into the config directory; `webFiles` (`{ name: sourcePath }`) are copied into the
 * web_dir as well (e.g. a client library from node_modules); `launcher` (e.g.
 * `['nsenter', '--net=/run/netns/x']`) runs it through a program that execs it in place.
 * Resolves once the listening line is printed. Returns
 * `{ httpUrl, wsUrl, port, httpsUrl, wssUrl, tlsPort, certFile, output(), stop() }` (the TLS
 * listener's URLs and the generated certificate); `stop()` kills the process and removes the dirs.
 */
export async function startServer({ codecs = 'opus,h264', extra = {}, files = {}, webFiles = {}, launcher = [] } = {}) {
  if (!fs.existsSync(serverBin)) {
    throw new Error(`server binary ${serverBin} is missing: run cargo build (or set RTCDN_BIN)`);
  }
  const sdk = sdkFile('flashphoner.js');
  if (!fs.existsSync(sdk)) {
    throw new Error(`${sdk} is missing: run scripts/test.sh to install the browser test packages`);
  }
  const configDir = tempDir('rtcdn-browser-config-');
  const webDir = tempDir('rtcdn-browser-web-');
  for (const name of fs.readdirSync(path.join(here, 'pages'))) {
    fs.copyFileSync(path.join(here, 'pages', name), path.join(webDir, name));
  }
  fs.copyFileSync(sdk, path.join(webDir, 'flashphoner.js'));
  // The demo's simulcast option, which sdk_client.html loads too.
  fs.copyFileSync(path.join(repoRoot, 'web', 'js', 'simulcast.js'), path.join(webDir, 'simulcast.js'));
  for (const [name, source] of Object.entries(webFiles)) {
    fs.copyFileSync(source, path.join(webDir, name));
  }
  const props = {
    ip: '127.0.0.1',
    'ws.port': '0',
    media_port_from: '0',
    worker_threads: '2',
    codecs,
    web_dir: webDir,
    ...extra,
  };
  fs.writeFileSync(
    path.join(configDir, 'flashphoner.properties'),
    Object.entries(props)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') + '\n',
  );
  for (const [name, contents] of Object.entries(files)) {
    fs.writeFileSync(path.join(configDir, name), contents);
  }

  // `launcher` runs the server through another program that execs it in place (e.g.
  // `nsenter --net=...` to put it into another network namespace).
  const [program, ...args] = [...launcher, serverBin, '--config-dir', configDir];
  const child = spawn(program, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info' },
  });
  liveServers.add(child);
  let output = '';
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const cleanup = () => {
    fs.rmSync(configDir, { recursive: true, force: true });
    fs.rmSync(webDir, { recursive: true, force: true });
  };
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await withTimeout(exited, 5000, 'rtcdn did not exit after SIGKILL').catch(() => {});
    }
    liveServers.delete(child);
    cleanup();
  };

  const listening = new Promise((resolve, reject) => {
    let stdoutBuf = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
      stdoutBuf += chunk;
      const m = /rtcdn listening on http:\/\/([0-9.]+):(\d+)/.exec(stdoutBuf);
      const tls = /rtcdn listening on https:\/\/([0-9.]+):(\d+)/.exec(stdoutBuf);
      if (m && tls) resolve({ host: m[1], port: Number(m[2]), tlsPort: Number(tls[2]) });
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
      // Keep the server's log for a look after the run (e.g. with RTCDN_LOG=debug).
      if (process.env.RTCDN_TEST_SERVER_LOG) fs.appendFileSync(process.env.RTCDN_TEST_SERVER_LOG, chunk);
    });
    child.once('error', (e) => reject(new Error(`cannot start ${serverBin}: ${e.message}`)));
    exited.then(({ code, signal }) =>
      reject(new Error(`rtcdn exited early (code ${code}, signal ${signal})\n${output}`)),
    );
  });
  try {
    const { host, port, tlsPort } = await withTimeout(
      listening,
      SERVER_START_TIMEOUT_MS,
      `rtcdn printed no "rtcdn listening on" line\n${output}`,
    );
    return {
      port,
      httpUrl: `http://${host}:${port}`,
      wsUrl: `ws://${host}:${port}`,
      tlsPort,
      httpsUrl: `https://${host}:${tlsPort}`,
      wssUrl: `wss://${host}:${tlsPort}`,
      // The self-signed certificate the node generated at start (no tls_certificate set).
      certFile: path.join(configDir, 'tls', 'self-signed.crt'),
      output: () => output,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** A WCS `loadbalancing.xml` naming one node per port in `edgePorts`, all on `ip` (127.0.0.1). */
export function loadbalancingXml(edgePorts, { mode = 'ROUNDROBIN', distribution = 'webrtc', ip = '127.0.0.1' } = {}) {
  const nodes = edgePorts
    .map((port, i) => `  <node id="${i + 1}">\n    <ip>${ip}</ip>\n    <ws>${port}</ws>\n  </node>\n`)
    .join('');
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<loadbalancer mode="${mode}" randomize="false" stream_distribution="${distribution}">\n` +
    `${nodes}</loadbalancer>\n`
  );
}

/**
 * Starts a static CDN on loopback: `edges` edge processes first (ephemeral ports), then an
 * origin with `load_balancing_enabled=true` and a `loadbalancing.xml` naming them (`mode`);
 * `webFiles` as for startServer, on the origin; `extra` properties on every node.
 * Returns `{ origin, edges, output(), stop() }`; `stop()` kills every process it started, also
 * when starting one of them failed (then the error is rethrown after cleanup).
 */
export async function startCdn({
  edges = 2,
  mode = 'ROUNDROBIN',
  codecs = 'opus,h264',
  webFiles = {},
  extra = {},
} = {}) {
  const started = [];
  const stop = async () => {
    await Promise.all(started.map((s) => s.stop()));
  };
  try {
    const edgeServers = [];
    for (let i = 0; i < edges; i++) {
      const edge = await startServer({ codecs, extra });
      started.push(edge);
      edgeServers.push(edge);
    }
    const origin = await startServer({
      codecs,
      webFiles,
      extra: { ...extra, load_balancing_enabled: 'true' },
      files: { 'loadbalancing.xml': loadbalancingXml(edgeServers.map((e) => e.port), { mode }) },
    });
    started.push(origin);
    const output = () =>
      [
        `--- origin (port ${origin.port}) ---\n${origin.output().slice(-4000)}`,
        ...edgeServers.map((e, i) => `--- edge ${i + 1} (port ${e.port}) ---\n${e.output().slice(-3000)}`),
      ].join('\n');
    return { origin, edges: edgeServers, output, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** Loads playwright-core from the cache directory. */
export function playwright() {
  try {
    return requireFromCache('playwright-core');
  } catch (e) {
    throw new Error(`playwright-core is not installed in ${cacheDir}: run scripts/test.sh (${e.message})`);
  }
}

/**
 * Launches headless Chromium with a fake camera and microphone in a fresh profile directory
 * (`extraArgs` adds command-line flags; `executablePath` may be a wrapper that execs Chromium,
 * e.g. in another network namespace).
 * Returns `{ context, newPage(label), close() }`; pages log their console errors with `label`.
 */
export async function launchBrowser({ extraArgs = [], executablePath = chromiumPath } = {}) {
  const { chromium } = playwright();
  const profile = tempDir('rtcdn-chromium-');
  const context = await withTimeout(
    chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS, ...extraArgs],
    }),
    20000,
    `Chromium (${chromiumPath}) did not start`,
  );
  const close = async () => {
    await withTimeout(context.close(), 10000, 'Chromium did not close').catch(() => {});
    fs.rmSync(profile, { recursive: true, force: true });
  };
  const newPage = async (label) => {
    const page = await context.newPage();
    // Bound every Playwright action (click, fill, goto) so a missing element fails fast.
    page.setDefaultTimeout(10000);
    page.setDefaultNavigationTimeout(10000);
    page.on('pageerror', (e) => console.log(`[${label}] page error: ${e.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') console.log(`[${label}] console error: ${msg.text()}`);
    });
    return page;
  };
  return { context, newPage, close };
}

/** Runs `fn(arg)` in the page until it returns a truthy value, or fails with `message`. */
export async function waitInPage(page, fn, arg, timeoutMs, message) {
  try {
    const handle = await page.waitForFunction(fn, arg, { timeout: timeoutMs, polling: 100 });
    return await handle.jsonValue();
  } catch (e) {
    throw new Error(`${message} (after ${timeoutMs} ms): ${e.message.split('\n')[0]}`);
  }
}

/** Reads the <video> matched by `selector`: `{ width, height, frames }` or null when absent. */
export async function videoState(page, selector) {
  return page.evaluate((sel) => {
    const v = document.querySelector(sel);
    if (!v) return null;
    const q = v.getVideoPlaybackQuality ? v.getVideoPlaybackQuality() : { totalVideoFrames: 0 };
    return { width: v.videoWidth, height: v.videoHeight, frames: q.totalVideoFrames };
  }, selector);
}

/**
 * Asserts that the <video> at `selector` shows decoded frames: videoWidth > 0 within
 * `timeoutMs`, then totalVideoFrames increases over `windowMs`. Returns the two readings.
 */
export async function expectVideoPlaying(page, selector, { timeoutMs = 10000, windowMs = 3000 } = {}) {
  await waitInPage(
    page,
    (sel) => {
      const v = document.querySelector(sel);
      return v && v.videoWidth > 0;
    },
    selector,
    timeoutMs,
    `video ${selector} never got a frame (videoWidth stayed 0)`,
  );
  const first = await videoState(page, selector);
  await new Promise((r) => setTimeout(r, windowMs));
  const second = await videoState(page, selector);
  if (!second || second.frames <= first.frames) {
    throw new Error(
      `video ${selector} froze: totalVideoFrames ${first.frames} -> ${second && second.frames} over ${windowMs} ms`,
    );
  }
  return { first, second };
}

/** A short random stream name. */
export function streamName(prefix) {
  return `${prefix}-${Math.random().toString(16).slice(2, 8)}`;
}
