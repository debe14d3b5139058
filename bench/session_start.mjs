// Start-to-first-model-call latency of a Session, against the baseline of a bare sandbox making
// one model call, in one run (issue 11).
//
//   node bench/session_start.mjs [rounds]
// Needs PAI_SERVER_BIN, PAI_CLI_BIN and PAI_GATEWAY_BIN (absolute paths), as the integration
// tests do, and bwrap + curl on the host.
//
// Session: from the POST that creates a Session with a task to the `span.model_request_end`
// event of its first model call, watched on the SSE stream: the controller's pass, the identity,
// the sandbox (cgroups, bwrap, init, Landlock), the harness start and one call through the
// sandbox's forwarder, the runtime's socket, the gateway and the mock provider.
// Baseline: `bwrap --unshare-all` (the same system mounts, as an unprivileged user) running
// curl once against the same gateway through a unix socket forwarded by this script — the
// smallest sandbox that makes one model call.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

import {
  startPlatform, paiOk, loggedInHome, tmpDir,
} from '../tests/integration/lib/platform.mjs';

const rounds = Number(process.argv[2] ?? 20);
const NS = '/apis/pai.io/v1/namespaces/default';

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return { p50: q(0.5), p95: q(0.95), max: s.at(-1) };
}

async function firstModelCall(p, name) {
  const t0 = performance.now();
  const created = await fetch(`${p.api}${NS}/agents/demo/sessions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${p.adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ metadata: { name }, spec: { task: 'Write hello.txt and show it' } }),
  });
  if (created.status !== 201) throw new Error(`create: ${created.status} ${await created.text()}`);
  const res = await fetch(`${p.api}${NS}/sessions/${name}/events/stream`, {
    headers: { authorization: `Bearer ${p.adminToken}` },
  });
  const dec = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += dec.decode(chunk, { stream: true });
    if (buf.includes('event: span.model_request_end')) break;
    if (buf.includes('event: session.status_terminated')) throw new Error(`${name} ended: ${buf}`);
  }
  const ms = performance.now() - t0;
  await fetch(`${p.api}${NS}/sessions/${name}`, {
    method: 'DELETE', headers: { authorization: `Bearer ${p.adminToken}` },
  });
  return ms;
}

async function bareSandboxCall(sockDir, token) {
  const body = JSON.stringify({ model: 'mock/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const t0 = performance.now();
  // Asynchronous: the forwarder to the gateway runs in this process.
  const r = await run('setpriv', ['--reuid', '65532', '--regid', '65532', '--clear-groups',
    'bwrap', '--unshare-all', '--die-with-parent', '--new-session', '--uid', '65532', '--gid', '65532',
    '--ro-bind', '/usr', '/usr', '--symlink', 'usr/bin', '/bin', '--symlink', 'usr/lib', '/lib',
    '--symlink', 'usr/lib64', '/lib64', '--symlink', 'usr/sbin', '/sbin', '--ro-bind', '/etc', '/etc',
    '--proc', '/proc', '--dev', '/dev', '--tmpfs', '/tmp', '--ro-bind', sockDir, '/run/pai',
    'curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', '--unix-socket', '/run/pai/gw.sock',
    '-H', `authorization: Bearer ${token}`, '-H', 'content-type: application/json', '-d', body,
    'http://gateway/v1/chat/completions']);
  const ms = performance.now() - t0;
  if (r.stdout !== '200') throw new Error(`bare sandbox call: ${r.stdout} ${r.stderr}`);
  return ms;
}

const p = await startPlatform();
try {
  const home = await loggedInHome(p);
  const out = await paiOk(home, ['admin', 'gateway-token', 'create', '--agent', 'demo']);
  const token = out.match(/pai_[0-9a-f]{12}_[A-Za-z0-9_-]+/)[0];
  // The baseline's route to the gateway: a unix socket (what a sandbox is given), forwarded here.
  const sockDir = tmpDir('pai-bench-sock-');
  fs.chmodSync(sockDir, 0o755);
  const [host, port] = new URL(p.gateway).host.split(':');
  const fwd = net.createServer((c) => {
    const up = net.connect(Number(port), host);
    c.pipe(up).pipe(c);
    up.on('error', () => c.destroy());
    c.on('error', () => up.destroy());
  });
  await new Promise((r) => fwd.listen(path.join(sockDir, 'gw.sock'), r));
  fs.chmodSync(path.join(sockDir, 'gw.sock'), 0o666);

  const session = [];
  const bare = [];
  await bareSandboxCall(sockDir, token);  // warm caches once for both
  await firstModelCall(p, 'warmup');
  for (let i = 0; i < rounds; i += 1) {
    session.push(await firstModelCall(p, `bench-${i}`));
    bare.push(await bareSandboxCall(sockDir, token));
  }
  fwd.close();
  const s = stats(session);
  const b = stats(bare);
  const f = (x) => `${x.toFixed(0)} ms`;
  console.log(`rounds: ${rounds}`);
  console.log('| path | p50 | p95 | max |');
  console.log('|---|---|---|---|');
  console.log(`| Session: POST → first model call (span.model_request_end on SSE) | ${f(s.p50)} | ${f(s.p95)} | ${f(s.max)} |`);
  console.log(`| bare bwrap + one curl call through a unix socket (baseline) | ${f(b.p50)} | ${f(b.p95)} | ${f(b.max)} |`);
  console.log(`| ratio (p50) | ${(s.p50 / b.p50).toFixed(2)}× | | |`);
} finally {
  await p.stop();
}
