// End-to-end: connection and body-buffer bounds (docs/configuration.md, "Connection limits").
// Idle sockets cannot exhaust the descriptors (idle ones are evicted at the cap, and a reserve
// stays free for provider sockets), and declared request bodies are charged to one global
// budget before they are read (503 at once beyond it), never reserved at header time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import { USER_MESSAGES, assertOpenAIErrorBody, parsePrometheus, sumMetric } from './lib/common.mjs';
import { withTimeout } from './lib/gateway.mjs';
import { startBudgetStack, postChat } from './lib/budget.mjs';

const MINI = 'up/gpt-4o-mini';

/** Opens `n` TCP connections to `port` that send nothing; resolves once all are connected. */
async function openIdle(port, n) {
  const socks = [];
  let closed = 0;
  let onFirstClose;
  const firstClosed = new Promise((resolve) => { onFirstClose = resolve; });
  await Promise.all(Array.from({ length: n }, () => new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('connect', resolve);
    s.on('error', () => resolve());
    s.on('close', () => { closed++; onFirstClose(); });
    socks.push(s);
  })));
  return { socks, firstClosed, closedCount: () => closed, destroy: () => socks.forEach((s) => s.destroy()) };
}

/** The status line of the first response on a socket that sent `head` (no body), or null on close. */
function firstStatus(sock) {
  return new Promise((resolve) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf);
        const len = Number(/content-length: *(\d+)/i.exec(buf)?.[1] ?? 0);
        if (buf.length >= end + 4 + len) resolve({ status: m ? Number(m[1]) : 0, body: buf.slice(end + 4, end + 4 + len) });
      }
    });
    sock.on('close', () => resolve(null));
    sock.on('error', () => {});
  });
}

function procStatus(pid, field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) * 1024;
}

async function scrape(gw) {
  return parsePrometheus(await (await fetch(`${gw.adminURL}/metrics`)).text());
}

test('connections: idle sockets beyond the descriptor limit do not stop a real call (idle eviction, a descriptor reserve for provider sockets)', { timeout: 60000 }, async (t) => {
  // 128 descriptors in all; the default connection cap is derived from this limit.
  const S = await startBudgetStack({
    agents: { coder: { models: [MINI] } },
    wrap: ['sh', '-c', 'ulimit -n 128 && exec "$@"', 'sh'],
  });
  t.after(() => S.cleanup());
  const gw = S.gw;
  const idle = await openIdle(gw.port, 200);
  t.after(() => idle.destroy());
  // A real call on fresh connections (client and provider side) succeeds at once.
  for (let i = 0; i < 3; i++) {
    const r = await withTimeout(postChat(gw, S.tokens.coder, { model: MINI, messages: USER_MESSAGES }), 10000,
      'a call while idle sockets hold the connections');
    assert.equal(r.status, 200, r.text);
  }
  const m = await withTimeout(scrape(gw), 10000, '/metrics while idle sockets hold the connections');
  await withTimeout(idle.firstClosed, 5000, 'an idle connection to be evicted');
  assert.ok((sumMetric(m, 'pai_gateway_client_connections_evicted_total') ?? 0) > 0, 'evictions counted');
  const cap = sumMetric(m, 'pai_gateway_client_connections_max');
  assert.ok(cap > 0 && cap < 128, `connection cap ${cap} below the descriptor limit`);
  assert.ok(sumMetric(m, 'pai_gateway_client_connections') <= cap);
  t.diagnostic(`cap ${cap}; ${idle.closedCount()} of 200 idle sockets evicted`);
});

test('connections: --max-connections caps client connections; the oldest idle one is evicted for a new one', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({ agents: { coder: { models: [MINI] } }, extraArgs: ['--max-connections', '8', '--threads', '1'] });
  t.after(() => S.cleanup());
  const gw = S.gw;
  const idle = await openIdle(gw.port, 8);
  t.after(() => idle.destroy());
  const r = await withTimeout(postChat(gw, S.tokens.coder, { model: MINI, messages: USER_MESSAGES }), 10000, 'a call at the cap');
  assert.equal(r.status, 200, r.text);
  await withTimeout(idle.firstClosed, 5000, 'an idle connection to be evicted');
  const m = await scrape(gw);
  assert.equal(sumMetric(m, 'pai_gateway_client_connections_max'), 8);
});

test('connections: a header not complete within --header-timeout-ms, and a keep-alive connection idle past --idle-timeout-ms, are closed; a request on time is served', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({ agents: { coder: { models: [MINI] } }, extraArgs: ['--header-timeout-ms', '300', '--idle-timeout-ms', '300', '--threads', '1'] });
  t.after(() => S.cleanup());
  const gw = S.gw;
  // Half a header, never finished (a slow or stuck client): closed without an answer. The
  // timeouts are checked once a second: the bound is the timeout plus that, with slack.
  const half = net.connect({ port: gw.port, host: '127.0.0.1' });
  t.after(() => half.destroy());
  const halfClosed = new Promise((resolve) => half.on('close', resolve));
  half.on('error', () => {});
  let got = '';
  half.on('data', (d) => { got += d.toString('latin1'); });
  half.write('POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n');
  const t0 = Date.now();
  await withTimeout(halfClosed, 5000, 'the half-sent header to be closed');
  assert.ok(Date.now() - t0 >= 250, `closed after ${Date.now() - t0} ms, before the header timeout`);
  assert.equal(got, '');
  // A whole request on a new connection is served; the connection, then idle, is closed.
  const sock = net.connect({ port: gw.port, host: '127.0.0.1' });
  t.after(() => sock.destroy());
  const sockClosed = new Promise((resolve) => sock.on('close', resolve));
  const first = firstStatus(sock);
  const body = JSON.stringify({ model: MINI, messages: USER_MESSAGES });
  sock.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${S.tokens.coder}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  const res = await withTimeout(first, 10000, 'the answer');
  assert.equal(res?.status, 200);
  await withTimeout(sockClosed, 5000, 'the idle keep-alive connection to be closed');
});

test('connections: idle and half-sent admin connections cannot lock probes and scrapers out (evicted at the admin cap)', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({ agents: { coder: { models: [MINI] } } });
  t.after(() => S.cleanup());
  const adminPort = Number(new URL(S.gw.adminURL).port);
  // 40 silent sockets and 8 that send half a request header (slowloris), past the cap of 32.
  const idle = await openIdle(adminPort, 40);
  t.after(() => idle.destroy());
  const slow = await openIdle(adminPort, 8);
  t.after(() => slow.destroy());
  for (const s of slow.socks) s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const res = await withTimeout(fetch(`${S.gw.adminURL}${path}`), 10000, `${path} with the admin cap full`);
    assert.equal(res.status, 200, path);
    await res.text();
  }
  assert.ok(idle.closedCount() + slow.closedCount() >= 3, 'the oldest idle connections made room');
  const m = await scrape(S.gw);
  assert.ok(sumMetric(m, 'pai_gateway_client_connections_evicted_total') >= 3);
});

test('request bodies: 100 connections declaring 32 MiB neither reserve memory nor block a real call; beyond the budget they get 503 at once', { timeout: 60000 }, async (t) => {
  const S = await startBudgetStack({ agents: { coder: { models: [MINI] } } });
  t.after(() => S.cleanup());
  const gw = S.gw;
  const pid = gw.proc.pid;
  const N = 100;
  const DECLARED = 32 * 1024 * 1024;
  // The budget as the gateway reports it (the documented default when it reports none).
  const cap = sumMetric(await scrape(gw), 'pai_gateway_request_body_buffer_bytes_max') ?? 256 * 2 ** 20;
  assert.ok(cap > 0 && cap < N * DECLARED, `body budget ${cap}`);
  const expectRefused = N - Math.floor(cap / DECLARED);
  const vm0 = procStatus(pid, 'VmSize');
  const socks = [];
  t.after(() => socks.forEach((s) => s.destroy()));
  const answered = [];
  let allRefused;
  const enough = new Promise((resolve) => { allRefused = resolve; });
  const t0 = Date.now();
  for (let i = 0; i < N; i++) {
    const s = net.connect({ port: gw.port, host: '127.0.0.1' }, () => {
      s.write(`POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${S.tokens.coder}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${DECLARED}\r\n\r\n{"model":`);
    });
    socks.push(s);
    firstStatus(s).then((r) => {
      if (!r) return;
      answered.push(r);
      if (answered.length >= expectRefused) allRefused();
    });
  }
  await withTimeout(enough, 10000, () => `${expectRefused} refusals (got ${answered.length}; ` +
    `VmSize grew by ${((procStatus(pid, 'VmSize') - vm0) / 2 ** 20).toFixed(0)} MiB)`);
  const elapsed = Date.now() - t0;
  for (const r of answered) {
    assert.equal(r.status, 503, r.body);
    assertOpenAIErrorBody(JSON.parse(r.body), { code: 'server_overloaded' });
  }
  // No address space was reserved for the declared bodies.
  const grown = procStatus(pid, 'VmSize') - vm0;
  assert.ok(grown < 512 * 1024 * 1024, `VmSize grew by ${(grown / 2 ** 20).toFixed(0)} MiB`);
  const m = await scrape(gw);
  assert.equal(sumMetric(m, 'pai_gateway_request_body_buffer_bytes_max'), cap);
  assert.ok(sumMetric(m, 'pai_gateway_request_body_buffer_refusals_total') >= answered.length);
  assert.ok(sumMetric(m, 'pai_gateway_request_body_buffer_bytes') <= cap);
  // A normal call still fits the remaining budget.
  const r = await withTimeout(postChat(gw, S.tokens.coder, { model: MINI, messages: USER_MESSAGES }), 10000, 'a call');
  assert.equal(r.status, 200, r.text);
  t.diagnostic(`${answered.length} of ${N} refused within ${elapsed} ms; VmSize +${(grown / 2 ** 20).toFixed(0)} MiB; budget ${cap / 2 ** 20} MiB`);
});
