// A real redis-server (Debian's redis-server package) for the tests that run gateway replicas
// on shared budgets (not a test file). TCP is off (`--port 0`): the server listens on a unix
// socket in its own directory; the append-only file (fsync on every write) lives there too, so
// a restart on the same directory keeps the data.

import { spawn, execFileSync } from 'node:child_process';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { withTimeout } from './gateway.mjs';

/**
 * Starts redis-server; resolves once it logged that it is ready to accept connections.
 * Returns {url, socket, dir, cli(...args) → stdout, kill(signal), restart()}.
 */
export async function startRedis({ dir } = {}) {
  const home = dir ?? await fsp.mkdtemp(path.join(os.tmpdir(), 'pai-redis-it-'));
  const socket = path.join(home, 'redis.sock');
  let proc;
  async function launch() {
    proc = spawn('redis-server', [
      '--port', '0', '--unixsocket', socket, '--dir', home, '--save', '',
      '--appendonly', 'yes', '--appendfsync', 'always', '--daemonize', 'no',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise((resolve) => proc.once('exit', resolve));
    const ready = new Promise((resolve, reject) => {
      const rl = readline.createInterface({ input: proc.stdout });
      rl.on('line', (line) => { if (/ready to accept connections/i.test(line)) resolve(); });
      proc.once('error', reject);
      exited.then((code) => reject(new Error(`redis-server exited (${code}) before it was ready`)));
    });
    await withTimeout(ready, 10000, 'redis-server to be ready');
    const p = proc;
    R.exited = exited;
    R.kill = async (signal = 'SIGKILL') => { p.kill(signal); await exited; };
  }
  const R = {
    socket, dir: home, url: `unix://${socket}`,
    /** redis-cli against this server: its stdout, trimmed (raw: one value per line). */
    cli(...args) {
      return execFileSync('redis-cli', ['-s', socket, '--raw', ...args], { encoding: 'utf8' }).trim();
    },
    /** Starts the server again on the same directory (after kill()). */
    restart: launch,
  };
  await launch();
  return R;
}
