// Running one measurement script in its own network namespace: `unshare --net -- node
// <script> <args>`, which prints its result as one `RESULT {json}` line. Used by the tests whose
// runs change the network (nftables loss, veth pairs, tbf), so nothing leaks into the host's.
//
// Owns only the child process; the scripts set up their namespace and clean it up themselves.

import { spawn } from 'node:child_process';

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
