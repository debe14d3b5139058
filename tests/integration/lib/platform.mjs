// Helpers to run the platform under test: the real pai-server (which starts and supervises the
// real pai-gateway) and the real `pai` CLI, each started by the test itself on free ports.
// This is a helper module, not a test file (no `.test.` in its name).

import { spawn, execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const VERBOSE = !!process.env.PAI_IT_VERBOSE;
const KEEP_TMP = !!process.env.PAI_IT_KEEP_TMP;
const running = new Set();
const tmpDirs = new Set();

process.on('exit', () => {
  for (const p of running) {
    try { p.kill('SIGKILL'); } catch { /* gone */ }
  }
  if (!KEEP_TMP) {
    for (const d of tmpDirs) {
      try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
    }
  }
});

function binFromEnv(name, hint) {
  const bin = process.env[name];
  if (!bin || !path.isAbsolute(bin)) {
    throw new Error(`${name} must be the absolute path of ${hint} (set by ctest)`);
  }
  fs.accessSync(bin, fs.constants.X_OK);
  return bin;
}
export const serverBin = () => binFromEnv('PAI_SERVER_BIN', 'build/src/server/pai-server');
export const cliBin = () => binFromEnv('PAI_CLI_BIN', 'build/src/cli/pai');
export const gatewayBinPath = () => binFromEnv('PAI_GATEWAY_BIN', 'build/src/cli/pai-gateway');

export function tmpDir(prefix) {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  tmpDirs.add(d);
  return d;
}

/** The product documents' YAML examples (../shared/seeds/examples beside the repository). */
export function seedsExamples() {
  const dir = process.env.PAI_SEEDS_DIR ?? path.resolve(import.meta.dirname, '../../../../shared/seeds/examples');
  if (!fs.existsSync(dir)) return { dir, files: [] };
  return { dir, files: fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => path.join(dir, f)) };
}

/**
 * The pid of the pai-gateway recorded in `stateDir` (gateway/process.json) when that process
 * still runs with this state directory on its command line (not a zombie); else undefined.
 */
function runningGateway(stateDir) {
  let pid;
  try {
    pid = JSON.parse(fs.readFileSync(path.join(stateDir, 'gateway', 'process.json'), 'utf8')).pid;
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) return undefined;
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes(path.join(stateDir, 'gateway')) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts pai-server (and, through it, pai-gateway) on free ports with a fresh state directory.
 * Resolves once the server's "listening" log line names its API and gateway addresses.
 * Returns { api, gateway, gatewayAdmin, stateDir, adminToken, proc, logs, stop(), kill() }.
 */
export async function startPlatform({ stateDir, extraArgs = [], startTimeoutMs = 30000 } = {}) {
  stateDir ??= tmpDir('pai-platform-');
  const args = ['--state-dir', stateDir, '--listen', '127.0.0.1:0', '--gateway-listen', '127.0.0.1:0',
    '--gateway-admin-listen', '127.0.0.1:0', '--gateway-bin', gatewayBinPath(), ...extraArgs];
  const proc = spawn(serverBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(proc);
  const events = new EventEmitter();
  const logs = [];
  readline.createInterface({ input: proc.stderr }).on('line', (line) => {
    if (VERBOSE) process.stderr.write(`[server] ${line}\n`);
    let rec;
    try { rec = JSON.parse(line); } catch { rec = { msg: line }; }
    logs.push(rec);
    events.emit('log', rec);
  });
  proc.stdout.on('data', (d) => { if (VERBOSE) process.stderr.write(`[server stdout] ${d}`); });
  const exited = new Promise((resolve) => proc.once('exit', (code, signal) => {
    running.delete(proc);
    resolve({ code, signal });
  }));
  const ready = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(
      `pai-server did not report listening within ${startTimeoutMs} ms; logs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`)),
    startTimeoutMs);
    const onLog = (rec) => {
      if (rec.msg === 'listening' && rec.api) {
        clearTimeout(timer);
        events.off('log', onLog);
        resolve(rec);
      }
    };
    events.on('log', onLog);
    exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`pai-server exited (code ${code}, signal ${signal}) before listening; logs:\n${logs.map((l) => JSON.stringify(l)).join('\n')}`));
    });
  });
  const gwAdmin = logs.filter((l) => l.msg === 'listening' && l.admin_listen).at(-1)?.admin_listen;
  const tokenFile = path.join(stateDir, 'admin-token');
  const adminToken = fs.existsSync(tokenFile) ? fs.readFileSync(tokenFile, 'utf8').trim() : undefined;
  return {
    api: ready.api,
    gateway: ready.gateway,
    gatewayAdmin: gwAdmin ? `http://${gwAdmin}` : undefined,
    stateDir,
    adminToken,
    proc,
    logs,
    events,
    exited,
    /**
     * SIGTERM, then the exit; throws unless the server stopped cleanly (exit 0) and stopped its
     * gateway (a gateway left running would also hold this process's pipes open).
     */
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const { code, signal } = await exited;
      const left = runningGateway(stateDir);
      if (left) process.kill(left, 'SIGKILL');  // whatever else failed: nothing keeps running
      if (code !== 0) {
        throw new Error(`pai-server did not stop cleanly (code ${code}, signal ${signal}); last logs:\n${
          logs.slice(-20).map((l) => JSON.stringify(l)).join('\n')}`);
      }
      if (left) throw new Error(`pai-server stopped but left its pai-gateway (pid ${left}) running`);
    },
    async kill() {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}

/**
 * Runs the real `pai` binary with HOME set to `home` (its ~/.pai/config.json lives there).
 * Resolves { code, stdout, stderr } (never rejects on a non-zero exit).
 */
export function pai(home, args, { input, timeoutMs = 30000, env = {} } = {}) {
  return new Promise((resolve) => {
    const childEnv = { ...process.env, HOME: home, ...env };
    delete childEnv.PAI_CONFIG;
    const child = execFile(cliBin(), args, {
      timeout: timeoutMs,
      env: childEnv,
      maxBuffer: 16 << 20,
    }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

/** pai(...) that must succeed; returns stdout. */
export async function paiOk(home, args, opts) {
  const r = await pai(home, args, opts);
  if (r.code !== 0) {
    throw new Error(`pai ${args.join(' ')} failed (exit ${r.code}):\n${r.stderr}${r.stdout}`);
  }
  return r.stdout;
}

/** A HOME with `pai login` done against `platform` with `token` (default: the admin token). */
export async function loggedInHome(platform, token = platform.adminToken) {
  const home = tmpDir('pai-home-');
  await paiOk(home, ['login', platform.api, '--token', token]);
  return home;
}

/** Calls the platform API directly. */
export async function api(platform, method, p, { token = platform.adminToken, body } = {}) {
  const res = await fetch(`${platform.api}${p}`, {
    method,
    signal: AbortSignal.timeout(15000),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json, text };
}

/**
 * Repeats `probe` (an async function returning a truthy value when the awaited condition holds)
 * until it holds or `ms` pass; resolves { value, elapsedMs }. Polling the observable effect with
 * a deadline: there is no event to wait on across the server, the rendered file and the
 * gateway's reload.
 */
export async function eventually(probe, ms, what) {
  const t0 = performance.now();
  let last;
  for (;;) {
    last = await probe();
    if (last) return { value: last, elapsedMs: performance.now() - t0 };
    if (performance.now() - t0 > ms) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** One chat call through the gateway with an agent's gateway token; resolves { status, json }. */
export async function chat(platform, token, model = 'mock/gpt-4o-mini', content = 'Hello') {
  const res = await fetch(`${platform.gateway}/chat/completions`, {
    method: 'POST',
    signal: AbortSignal.timeout(15000),
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, json };
}
