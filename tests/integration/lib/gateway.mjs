// Helpers to run the pai-gateway binary under test.
// This is a helper module, not a test file (no `.test.` in its name).

import { spawn, execFile } from 'node:child_process';
import { EventEmitter } from 'node:events';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';

const VERBOSE = !!process.env.PAI_IT_VERBOSE;
const KEEP_TMP = !!process.env.PAI_IT_KEEP_TMP;

/** Every gateway started by this process, so it can be killed no matter what. */
const running = new Set();
/** Every gateway started by this process (running or not), for crash reporting. */
const started = [];
const tmpDirs = new Set();

process.on('exit', () => {
  // Last resort (synchronous): kill anything still alive when the test file's process ends.
  for (const gw of running) {
    try { gw.proc.kill('SIGKILL'); } catch { /* already gone */ }
  }
  if (!KEEP_TMP) {
    for (const d of tmpDirs) {
      try { fs.rmSync(d, { recursive: true, force: true }); } catch { /* ignore */ }
    }
  }
});

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const gw of running) {
      try { gw.proc.kill('SIGKILL'); } catch { /* already gone */ }
    }
    process.exit(sig === 'SIGINT' ? 130 : 143);
  });
}

/** Absolute path of the gateway binary, or a clear failure. */
export function gatewayBin() {
  const bin = process.env.PAI_GATEWAY_BIN;
  if (!bin) {
    throw new Error(
      'PAI_GATEWAY_BIN is not set. Set it to the absolute path of the built gateway binary, e.g.\n' +
      '  PAI_GATEWAY_BIN=$PWD/build/src/cli/pai-gateway node --test tests/integration/');
  }
  if (!path.isAbsolute(bin)) {
    throw new Error(`PAI_GATEWAY_BIN must be an absolute path, got ${JSON.stringify(bin)}`);
  }
  try {
    fs.accessSync(bin, fs.constants.X_OK);
  } catch {
    throw new Error(`PAI_GATEWAY_BIN=${bin} does not exist or is not executable (build the gateway first)`);
  }
  return bin;
}

function run(bin, args, { timeoutMs = 15000, env } = {}) {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) {
        const e = new Error(
          `command failed: ${bin} ${args.join(' ')}\n` +
          `exit=${err.code} signal=${err.signal ?? ''}\nstdout: ${stdout}\nstderr: ${stderr}`);
        e.stdout = stdout;
        e.stderr = stderr;
        e.exitCode = err.code;
        return reject(e);
      }
      resolve({ stdout, stderr });
    });
  });
}

/** Rejects with `message` after `ms` unless `promise` settles first. */
export function withTimeout(promise, ms, message) {
  let t;
  const timeout = new Promise((_, reject) => {
    t = setTimeout(() => reject(new Error(
      `timeout after ${ms} ms: ${typeof message === 'function' ? message() : message}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(t));
}

/** Resolves with the first emitted value of `event` accepted by `filter`, rejects after `ms`. */
export function waitForEvent(emitter, event, ms, filter = () => true, what = event) {
  let listener;
  const p = new Promise((resolve) => {
    listener = (...args) => {
      if (filter(...args)) { emitter.off(event, listener); resolve(args[0]); }
    };
    emitter.on(event, listener);
  });
  return withTimeout(p, ms, `waiting for ${what}`).finally(() => emitter.off(event, listener));
}

/** A TCP port on 127.0.0.1 that had a listener a moment ago and now has none. */
export async function getClosedPort() {
  const srv = net.createServer();
  await new Promise((resolve, reject) => {
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', resolve);
  });
  const { port } = srv.address();
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

/** Predicate helper: a parsed JSON log line whose msg equals `msg`. */
export function byMsg(msg, extra = () => true) {
  return (line) => line !== null && typeof line === 'object' && line.msg === msg && extra(line);
}

/**
 * Start the gateway.
 *
 * @param {object} o
 * @param {string} o.manifest     YAML manifest text (written to <tmp>/config.yaml)
 * @param {string[]} [o.extraArgs]
 * @param {object} [o.env]        extra environment variables
 * @param {string[]} [o.mintBefore] agents ("ns/name") to mint tokens for before the gateway starts;
 *                                 the tokens are returned in `tokens` in the same order
 * @param {number} [o.startTimeoutMs]
 * @param {object} [o.reuse]      a gateway returned earlier (stopped): the new one uses its
 *                                 config file and state directory (tokens, budget.db);
 *                                 `manifest` is then optional (rewrites the config if given)
 * @param {string[]} [o.wrap]     argv prefix the gateway is run through (e.g. a shell that sets
 *                                 resource limits and then execs it: the pid stays the gateway's)
 * @param {object} [o.tokensFrom] a gateway whose token file this one starts with (replicas)
 */
export async function startGateway({ manifest, extraArgs = [], env = {}, mintBefore = [], startTimeoutMs = 15000, reuse, wrap, tokensFrom } = {}) {
  const bin = gatewayBin();
  if (typeof manifest !== 'string' && !reuse) throw new Error('startGateway: manifest (YAML string) is required');
  if (reuse && !reuse.exitInfo) throw new Error('startGateway: the reused gateway must have exited first');

  const dir = reuse ? reuse.tmpDir : await fsp.mkdtemp(path.join(os.tmpdir(), 'pai-gw-it-'));
  tmpDirs.add(dir);
  const configPath = path.join(dir, 'config.yaml');
  const stateDir = path.join(dir, 'state');
  if (typeof manifest === 'string') await fsp.writeFile(configPath, manifest);
  await fsp.mkdir(stateDir, { recursive: true });
  // Another replica's agent tokens (gateway replicas share one token file).
  if (tokensFrom) await fsp.copyFile(path.join(tokensFrom.stateDir, 'tokens.json'), path.join(stateDir, 'tokens.json'));

  async function mintToken(agent) {
    const { stdout } = await run(bin, ['token', '--agent', agent, '-f', configPath, '--state-dir', stateDir]);
    const tok = stdout.trim();
    if (!tok) throw new Error(`mintToken(${agent}): empty stdout`);
    return tok;
  }
  async function revokeToken(id) {
    return run(bin, ['token', 'revoke', id, '--state-dir', stateDir]);
  }

  const tokens = [];
  for (const agent of mintBefore) tokens.push(await mintToken(agent));

  const args = [
    '-f', configPath,
    '--listen', '127.0.0.1:0',
    '--admin-listen', '127.0.0.1:0',
    '--state-dir', stateDir,
    ...extraArgs,
  ];
  const proc = spawn(wrap ? wrap[0] : bin, wrap ? [...wrap.slice(1), bin, ...args] : args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  const logs = [];
  const stdoutLines = [];
  const lineEvents = new EventEmitter();
  lineEvents.setMaxListeners(100);

  let exitInfo = null;
  const exited = new Promise((resolve) => {
    proc.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      running.delete(gw);
      resolve(exitInfo);
    });
  });
  const spawnError = new Promise((_, reject) => proc.once('error', reject));
  spawnError.catch(() => {});

  // Resolves when stderr has been fully read (so all log lines are in `logs`).
  const stderrDone = new Promise((resolve) => {
    const rl = readline.createInterface({ input: proc.stderr, crlfDelay: Infinity });
    rl.on('line', (text) => {
      let line = text;
      try {
        const parsed = JSON.parse(text);
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) line = parsed;
      } catch { /* keep raw */ }
      logs.push(line);
      if (VERBOSE) process.stderr.write(`[gw ${proc.pid}] ${text}\n`);
      lineEvents.emit('line', line, logs.length - 1);
    });
    rl.on('close', resolve);
  });
  readline.createInterface({ input: proc.stdout, crlfDelay: Infinity }).on('line', (text) => {
    stdoutLines.push(text);
    if (VERBOSE) process.stderr.write(`[gw ${proc.pid} stdout] ${text}\n`);
  });

  function logTail(n = 40) {
    return logs.slice(-n).map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
  }

  /**
   * Resolves with the first log line (index >= fromIndex) matching `predicate`
   * (lines already seen are checked first); rejects after timeoutMs or when the process exits.
   */
  function waitForLog(predicate, timeoutMs = 5000, fromIndex = 0) {
    for (let i = fromIndex; i < logs.length; i++) {
      if (predicate(logs[i])) return Promise.resolve(logs[i]);
    }
    let onLine;
    const p = new Promise((resolve, reject) => {
      onLine = (line, idx) => {
        if (idx >= fromIndex && predicate(line)) resolve(line);
      };
      lineEvents.on('line', onLine);
      exited.then(() => stderrDone).then(() => {
        // One last look: the line may have arrived right before exit.
        for (let i = fromIndex; i < logs.length; i++) if (predicate(logs[i])) return resolve(logs[i]);
        reject(new Error(`gateway exited (${JSON.stringify(exitInfo)}) before the expected log line appeared; ` +
          `predicate: ${predicate}\n--- last log lines ---\n${logTail()}`));
      });
    });
    return withTimeout(p, timeoutMs, () => `log line matching ${predicate}\n--- last log lines ---\n${logTail()}`)
      .finally(() => lineEvents.off('line', onLine));
  }

  /** Resolves with {code, signal} once the process has exited (and stderr was drained). */
  async function waitExit(timeoutMs = 15000) {
    const info = await withTimeout(exited, timeoutMs, () => `gateway pid ${proc.pid} to exit\n--- last log lines ---\n${logTail()}`);
    await withTimeout(stderrDone, 2000, 'gateway stderr to close').catch(() => {});
    return info;
  }

  /** Send `signal` (unless already exited) and resolve with the exit code; SIGKILL after timeoutMs. */
  async function stop(signal = 'SIGTERM', timeoutMs = 10000) {
    gw.stopRequested = true;
    if (!exitInfo) {
      try { proc.kill(signal); } catch { /* ignore */ }
    }
    try {
      const info = await waitExit(timeoutMs);
      return info.code;
    } catch (err) {
      try { proc.kill('SIGKILL'); } catch { /* ignore */ }
      await withTimeout(exited, 5000, 'gateway to die after SIGKILL').catch(() => {});
      throw err;
    }
  }

  const gw = {
    proc, logs, stdoutLines, configPath, stateDir, tmpDir: dir, tokens,
    waitForLog, waitExit, stop, mintToken, revokeToken, logTail,
    get exitInfo() { return exitInfo; },
    /** Index to pass as `fromIndex` to only consider log lines logged from now on. */
    mark() { return logs.length; },
    /** Rewrite the config file in place. */
    async writeConfig(text) { await fsp.writeFile(configPath, text); },
    /** Replace the config file atomically (write temp file + rename, like a Kubernetes volume update). */
    async writeConfigAtomic(text) {
      const tmp = `${configPath}.tmp-${process.pid}`;
      await fsp.writeFile(tmp, text);
      await fsp.rename(tmp, configPath);
    },
  };
  running.add(gw);
  started.push(gw);

  let listening;
  try {
    listening = await Promise.race([
      waitForLog(byMsg('listening'), startTimeoutMs),
      spawnError,
    ]);
  } catch (err) {
    try { proc.kill('SIGKILL'); } catch { /* ignore */ }
    await Promise.race([exited, spawnError.catch(() => {})]);
    await withTimeout(stderrDone, 2000, 'stderr').catch(() => {});
    throw new Error(`gateway did not start: ${err.message}\ncommand: ${bin} ${args.join(' ')}\n` +
      `--- log ---\n${logTail()}\n--- stdout ---\n${stdoutLines.join('\n')}`);
  }
  if (typeof listening.listen !== 'string' || typeof listening.admin_listen !== 'string') {
    await stop('SIGKILL');
    throw new Error(`"listening" log line lacks listen/admin_listen: ${JSON.stringify(listening)}`);
  }
  gw.listen = listening.listen;
  gw.adminListen = listening.admin_listen;
  gw.port = Number(listening.listen.split(':').pop());
  gw.adminPort = Number(listening.admin_listen.split(':').pop());
  gw.baseURL = `http://${listening.listen}/v1`;
  gw.adminURL = `http://${listening.admin_listen}`;
  return gw;
}

/**
 * Stop every gateway still running (for `after` hooks). Then throws if a gateway died on
 * its own in a way that looks like a crash (a signal the tests do not send to stop it, e.g.
 * SIGSEGV/SIGABRT/SIGHUP, or a non-zero exit code), with its last log lines.
 */
export async function stopAllGateways() {
  const all = [...running];
  const crashed = started.filter((gw) => gw.exitInfo && !gw.stopRequested && (
    (gw.exitInfo.signal && !['SIGTERM', 'SIGKILL', 'SIGINT'].includes(gw.exitInfo.signal)) ||
    (gw.exitInfo.code !== null && gw.exitInfo.code !== 0)));
  for (const gw of all) gw.stopRequested = true;
  await Promise.allSettled(all.map((gw) => gw.stop('SIGKILL', 5000)));
  if (!KEEP_TMP) {
    for (const d of tmpDirs) {
      await fsp.rm(d, { recursive: true, force: true }).catch(() => {});
      tmpDirs.delete(d);
    }
  }
  started.length = 0;
  if (crashed.length > 0) {
    throw new Error(crashed.map((gw) => `gateway pid ${gw.proc.pid} crashed (${JSON.stringify(gw.exitInfo)})\n` +
      `--- last log lines ---\n${gw.logTail()}`).join('\n'));
  }
}

/** Token format pai_<id>_<secret>: returns <id>. */
export function tokenId(token) {
  const m = /^pai_([^_]+)_(.+)$/.exec(token);
  if (!m) throw new Error(`token does not have the pai_<id>_<secret> format: ${JSON.stringify(token)}`);
  return m[1];
}

/** Token format pai_<id>_<secret>: returns <secret>. */
export function tokenSecret(token) {
  const m = /^pai_([^_]+)_(.+)$/.exec(token);
  if (!m) throw new Error(`token does not have the pai_<id>_<secret> format: ${JSON.stringify(token)}`);
  return m[2];
}
