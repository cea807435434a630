// Running one measurement script in its own network namespace: `unshare --net -- node
// <script> <args>`, which prints its result as one `RESULT {json}` line. Used by the tests whose
// runs change the network (nftables loss, veth pairs, tbf), so nothing leaks into the host's.
//
// Owns only the child process; the scripts set up their namespace and clean it up themselves.

import { execFileSync, spawn } from 'node:child_process';

/** Runs `script args` under `unshare --net`; resolves to its result, rejects with its stderr. */
export function runInNamespace(script, args, timeoutMs) {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['--net', '--', process.execPath, script, ...args.map(String)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run unshare (needs root and util-linux): ${e.message}`));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) {
        resolve(JSON.parse(line.slice('RESULT '.length)));
      } else {
        reject(new Error(`${script} ${args.join(' ')} failed (code ${code}, signal ${signal}):\n${stderr.slice(-12000)}`));
      }
    });
  });
}

/**
 * The other side of [`runInNamespace`]: runs `measure()` in a measurement script, prints its
 * result as the `RESULT {json}` line and exits; exits 1 with the error (or after `deadlineMs`
 * without a result). A SIGTERM from the test still runs the exit hooks that kill the servers
 * and Chromium.
 */
export async function printResult(name, deadlineMs, measure) {
  const deadline = setTimeout(() => {
    console.error(`${name}: no result within ${deadlineMs} ms`);
    process.exit(1);
  }, deadlineMs);
  deadline.unref();
  process.on('SIGTERM', () => process.exit(1));
  try {
    const result = await measure();
    console.log(`RESULT ${JSON.stringify(result)}`);
    process.exit(0);
  } catch (e) {
    console.error(`${name}: ${e.stack || e.message}`);
    process.exit(1);
  }
}

/** Runs a command and returns its stdout (throws with its stderr when it fails). */
export function sh(cmd, args) {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * Brings `lo` up after checking that this is a private namespace holding only `lo` (so a
 * script run by hand outside `unshare --net` cannot change the host's network).
 */
export function ownLoopback() {
  const links = sh('ip', ['-o', 'link', 'show']).trim().split('\n');
  if (links.length !== 1 || !/: lo:/.test(links[0])) {
    throw new Error(`not in a private network namespace (links: ${links.join(' | ')}); run under unshare --net`);
  }
  sh('ip', ['link', 'set', 'lo', 'up']);
}
