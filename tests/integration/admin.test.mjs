// End-to-end: the admin listener's bearer token (docs/configuration.md, "Admin listener"):
// /healthz and /readyz stay open, /metrics is open unless --metrics-auth, /audit* and /usage
// need the token; a non-loopback admin listener without a token refuses to start; /audit
// queries run on one bounded worker (503 when its queue is full).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { USER_MESSAGES, assertOpenAIErrorBody } from './lib/common.mjs';
import { gatewayBin, withTimeout } from './lib/gateway.mjs';
import { startBudgetStack, postChat } from './lib/budget.mjs';
import { adminGet, canonicalRecord, chainPath, checkpointsPath, writeKeyFile } from './lib/audit.mjs';

const MINI = 'up/gpt-4o-mini';

function tmpDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pai-admin-it-'));
}

/** Writes a token file (mode 0600) in a new temporary directory; returns {file, token}. */
function tokenFile(token = randomBytes(24).toString('hex')) {
  const file = path.join(tmpDir(), 'admin-token');
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { file, token };
}

/** Runs the gateway with `args` until it exits (or 10 s); resolves {code, signal, stderr}. */
function runUntilExit(args) {
  return new Promise((resolve) => {
    const p = spawn(gatewayBin(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => p.kill('SIGKILL'), 10000);
    p.on('exit', (code, signal) => { clearTimeout(timer); resolve({ code, signal, stderr }); });
  });
}

test('admin: a non-loopback admin listener without a token refuses to start, with one line and a non-zero exit', { timeout: 30000 }, async () => {
  const sd = tmpDir();
  const r = await runUntilExit(['--listen', '127.0.0.1:0', '--admin-listen', '0.0.0.0:0', '--state-dir', sd]);
  assert.equal(r.signal, null, `the gateway started and ran (killed after 10 s): ${r.stderr.slice(-400)}`);
  assert.notEqual(r.code, 0);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /admin-token-file/);
  // With a token it starts (and a missing token file is a start-up error too).
  const missing = await runUntilExit(['--listen', '127.0.0.1:0', '--admin-listen', '0.0.0.0:0', '--state-dir', sd,
    '--admin-token-file', path.join(sd, 'nope')]);
  assert.equal(missing.signal, null, 'started with a missing token file');
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /nope/);
});

test('admin: with --admin-token-file, /audit, /audit/verify and /usage need the token; probes and /metrics stay open', { timeout: 60000 }, async (t) => {
  const { file, token } = tokenFile();
  const S = await startBudgetStack({
    agents: { coder: { models: [MINI] } },
    extraArgs: ['--admin-token-file', file],
  });
  t.after(() => S.cleanup());
  const gw = S.gw;
  assert.equal((await postChat(gw, S.tokens.coder, { model: MINI, messages: USER_MESSAGES })).status, 200);
  for (const p of ['/healthz', '/readyz', '/metrics']) {
    assert.equal((await adminGet(gw, p)).status, 200, p);
  }
  const wrong = token.slice(0, -1) + (token.endsWith('a') ? 'b' : 'a'); // same length
  for (const p of ['/audit', '/audit/verify', '/usage', '/audit?limit=1']) {
    for (const [what, tok] of [['no token', undefined], ['a wrong token', wrong], ['an agent token', S.tokens.coder]]) {
      const r = await adminGet(gw, p, { token: tok });
      assert.equal(r.status, 401, `${p} with ${what}: ${r.status} ${r.text}`);
      assertOpenAIErrorBody(r.json, { code: 'invalid_api_key' });
      assert.ok(!r.text.includes(token), 'the admin token is not echoed');
    }
    const ok = await adminGet(gw, p, { token });
    assert.equal(ok.status, 200, `${p} with the token: ${ok.text}`);
  }
  const v = await adminGet(gw, '/audit/verify', { token });
  assert.equal(v.json.ok, true, v.text);
});

test('admin: --metrics-auth protects /metrics; a 0.0.0.0 admin listener with a token starts and protects /audit', { timeout: 60000 }, async (t) => {
  const { file, token } = tokenFile();
  const S = await startBudgetStack({
    agents: { coder: { models: [MINI] } },
    extraArgs: ['--admin-token-file', file, '--metrics-auth'],
  });
  t.after(() => S.cleanup());
  assert.equal((await adminGet(S.gw, '/metrics')).status, 401);
  assert.equal((await adminGet(S.gw, '/metrics', { token })).status, 200);
  assert.equal((await adminGet(S.gw, '/healthz')).status, 200);

  const wide = tokenFile();
  const sd = tmpDir();
  const p = spawn(gatewayBin(), ['--listen', '127.0.0.1:0', '--admin-listen', '0.0.0.0:0', '--state-dir', sd,
    '--admin-token-file', wide.file], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => p.kill('SIGKILL'));
  let log = '';
  const admin = await withTimeout(new Promise((resolve) => {
    p.stderr.on('data', (d) => {
      log += d;
      const m = /"admin_listen":"[^"]*:(\d+)"/.exec(log);
      if (m) resolve(Number(m[1]));
    });
  }), 10000, () => `the gateway to listen: ${log}`);
  const gw = { adminURL: `http://127.0.0.1:${admin}` };
  assert.equal((await adminGet(gw, '/audit')).status, 401);
  assert.equal((await adminGet(gw, '/audit', { token: wide.token })).status, 200);
  assert.equal((await adminGet(gw, '/readyz')).status, 200);
});

test('admin: /audit queries run on one bounded worker: a burst beyond its queue is refused with 503 at once', { timeout: 120000 }, async (t) => {
  const keyDir = tmpDir();
  const key = writeKeyFile(keyDir, 'audit-key');
  const S = await startBudgetStack({ agents: { coder: { models: [MINI] } }, extraArgs: ['--audit-key-file', key.file] });
  t.after(() => S.cleanup());
  assert.equal(await S.gw.stop('SIGTERM'), 0);
  // A long valid chain, so that one verification takes a while (~0.1-1 s).
  const N = 20000;
  const out = [];
  let prev = '';
  for (let seq = 1; seq <= N; seq++) {
    const r = {
      seq, time: '2026-01-01T00:00:00.000Z', source: 'gateway', source_seq: seq, type: 'LLM_CALL',
      namespace: 'default', agent: 'coder', detail: { request_id: `r${seq}`, model: MINI, input_tokens: seq },
      key_id: key.id, prev_mac: prev,
    };
    const canonical = canonicalRecord(r);
    const mac = createHmac('sha256', key.bytes).update(canonical).digest('hex');
    out.push(`${canonical.slice(0, -1)},"mac":"${mac}"}\n`);
    prev = mac;
  }
  fs.writeFileSync(chainPath(S.gw.stateDir), out.join(''));
  fs.rmSync(checkpointsPath(S.gw.stateDir), { force: true });
  const gw = await S.restart();
  const t0 = Date.now();
  const one = await adminGet(gw, '/audit/verify');
  assert.equal(one.json?.ok, true, one.text);
  const single = Date.now() - t0;

  const BURST = 24;
  const results = await Promise.all(Array.from({ length: BURST }, async () => {
    const r = await adminGet(gw, '/audit/verify');
    return { ...r, ms: Date.now() - t0 };
  }));
  const ok = results.filter((r) => r.status === 200);
  const refused = results.filter((r) => r.status === 503);
  assert.equal(ok.length + refused.length, BURST, JSON.stringify(results.map((r) => r.status)));
  assert.ok(ok.length >= 1, 'nothing was served');
  assert.ok(refused.length >= BURST / 2, `${refused.length} of ${BURST} refused (one verification: ${single} ms)`);
  for (const r of refused) {
    assertOpenAIErrorBody(r.json, { code: 'server_overloaded' });
  }
  for (const r of ok) assert.equal(r.json.ok, true);
  t.diagnostic(`one verification of ${N} records: ${single} ms; burst of ${BURST}: ${ok.length} served, ${refused.length} refused`);
});
