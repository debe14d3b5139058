// Issue 12 items 6 and 13: a client that leaves is noticed at once (also before the provider's
// response header), a call fully delivered is not logged as client_closed, and the access log
// names what a refused request asked for (model_not_found: the model; unknown paths: the path).
import test from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startBudgetStack, scrape, outstanding, metricValue } from './lib/budget.mjs';
import { waitForAccess } from './lib/harness.mjs';
import { waitForRecord } from './lib/audit.mjs';
import { waitForEvent, byMsg } from './lib/gateway.mjs';
import { USER_MESSAGES } from './lib/common.mjs';

async function startStack(t) {
  const S = await startBudgetStack({
    agents: {
      waiter: { models: ['up/hang', 'up/gpt-4o-mini'], tokens: { maxPerDay: 1_000_000 }, rateLimits: { maxConcurrentRequests: 1 } },
    },
  });
  t.after(() => S.cleanup());
  return S;
}

/**
 * Sends a raw HTTP/1.1 request on a new socket and resolves with the socket once `until`
 * matches what was received (the socket is then destroyed at once, like a client that stops
 * reading as soon as it has what it needs).
 */
function requestUntil(port, { path, token, body, until }) {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const sock = net.connect({ port, host: '127.0.0.1' });
    let got = '';
    sock.on('data', (d) => {
      got += d.toString('latin1');
      if (until(got)) {
        sock.destroy();
        resolve(got);
      }
    });
    sock.on('error', reject);
    sock.on('close', () => reject(new Error(`closed before the expected bytes; got ${JSON.stringify(got.slice(0, 300))}`)));
    sock.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  });
}

/**
 * Sends a raw HTTP/1.1 request, then closes the sending half of the socket (a client that has
 * nothing more to say; HTTP servers and proxies read that EOF as the client leaving), and
 * resolves with everything received until the gateway closes the connection.
 */
function requestThenHalfClose(port, { path, token, body }) {
  return new Promise((resolve, reject) => {
    const text = JSON.stringify(body);
    const sock = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
    let got = '';
    sock.on('data', (d) => { got += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => resolve(got));
    setTimeout(() => reject(new Error('the gateway did not close the connection')), 10000).unref();
    sock.end(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\n` +
      `Content-Type: application/json\r\nx-request-id: ${body.rid}\r\nContent-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`);
  });
}

const ridOf = (head) => /x-request-id: (\S+)/i.exec(head)?.[1];

/** Each request of `rids` is logged as a delivered 200, never as client_closed. */
async function assertDelivered(S, rids) {
  for (const rid of rids) {
    const access = await waitForAccess(S.gw, rid, 5000);
    assert.equal(access.status, 200, JSON.stringify(access));
    assert.equal(access.error_code, undefined, JSON.stringify(access));
  }
}

test('a client leaving before the provider answers frees its slot and reservation at once (499)', { timeout: 60000 }, async (t) => {
  const S = await startStack(t);
  const ac = new AbortController();
  const seen = waitForEvent(S.upstream.events, 'request', 5000, (r) => r.body?.model === 'hang');
  const call = fetch(`${S.gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${S.tokens.waiter}`, 'content-type': 'application/json', 'x-request-id': 'leaver-1' },
    body: JSON.stringify({ model: 'up/hang', messages: USER_MESSAGES }),
    signal: ac.signal,
  });
  call.catch(() => {});
  await seen;  // the gateway waits for the provider's response header
  assert.equal(outstanding(await scrape(S.gw)), 1, 'the waiting call holds a reservation');
  const closed = waitForEvent(S.upstream.events, 'client-closed', 5000, (e) => e.model === 'hang',
    'the gateway to close its provider call after the client left');
  ac.abort();
  await closed;
  // Bounds are failure bounds: the first-byte timeout is 300 s.
  const access = await waitForAccess(S.gw, 'leaver-1', 5000);
  assert.equal(access.status, 499);
  assert.equal(access.error_code, 'client_closed');
  const rec = await waitForRecord(S.gw.stateDir, (r) => r.type === 'LLM_CALL' && r.detail?.request_id === 'leaver-1', 5000);
  assert.equal(rec.detail.status, 499);
  // The provider had the request (it may bill it): charged by the no-usage rule, never zero.
  assert.equal(rec.detail.usage_reported, false);
  assert.ok(rec.detail.charged_tokens > 0, `charged ${rec.detail.charged_tokens}`);
  const samples = await scrape(S.gw);
  assert.equal(outstanding(samples), 0, 'reservation settled');
  assert.equal(metricValue(samples, 'pai_gateway_requests_total', { route: '/v1/chat/completions', status_class: '4xx' }), 1);
  // maxConcurrentRequests 1: the slot is free for the next call.
  const next = await S.client('waiter').chat.completions.create({ model: 'up/gpt-4o-mini', messages: USER_MESSAGES });
  assert.equal(next.object, 'chat.completion');
});

test('a stream read to its end by a client that then leaves is not logged as client_closed', { timeout: 60000 }, async (t) => {
  const S = await startStack(t);
  const rids = [];
  for (let i = 0; i < 20; i++) {
    const got = await requestUntil(S.gw.port, {
      path: '/v1/chat/completions',
      token: S.tokens.waiter,
      body: { model: 'up/gpt-4o-mini', messages: USER_MESSAGES, stream: true },
      until: (s) => s.includes('data: [DONE]'),
    });
    rids.push(ridOf(got));
  }
  await assertDelivered(S, rids);
});

test('a response read in full by a client that then leaves is not logged as client_closed', { timeout: 60000 }, async (t) => {
  const S = await startStack(t);
  const rids = [];
  for (let i = 0; i < 20; i++) {
    const got = await requestUntil(S.gw.port, {
      path: '/v1/chat/completions',
      token: S.tokens.waiter,
      body: { model: 'up/gpt-4o-mini', messages: USER_MESSAGES },
      until: (s) => {
        const end = s.indexOf('\r\n\r\n');
        const len = /content-length: (\d+)/i.exec(s);
        return end >= 0 && len && Buffer.byteLength(s.slice(end + 4), 'latin1') >= Number(len[1]);
      },
    });
    rids.push(ridOf(got));
  }
  await assertDelivered(S, rids);
});

test('a half-closing client: a delivered response is never logged as client_closed, an aborted one always is', { timeout: 60000 }, async (t) => {
  const S = await startStack(t);
  for (let i = 0; i < 10; i++) {
    for (const stream of [false, true]) {
      const rid = `half-${i}-${stream}`;
      const body = { model: 'up/gpt-4o-mini', messages: USER_MESSAGES, stream, rid };
      const got = await requestThenHalfClose(S.gw.port, { path: '/v1/chat/completions', token: S.tokens.waiter, body });
      const access = await waitForAccess(S.gw, rid, 5000);
      const delivered = got.startsWith('HTTP/1.1 200') &&
        (stream ? got.includes('data: [DONE]') && got.endsWith('0\r\n\r\n') : got.includes('"chat.completion"'));
      if (delivered) {
        assert.equal(access.status, 200, JSON.stringify(access));
        assert.notEqual(access.error_code, 'client_closed', `delivered, but logged ${JSON.stringify(access)}`);
      } else {
        assert.equal(access.error_code, 'client_closed', `not delivered (${JSON.stringify(got.slice(0, 200))}), logged ${JSON.stringify(access)}`);
      }
    }
  }
});

test('model_not_found access lines name the requested model', { timeout: 60000 }, async (t) => {
  const S = await startStack(t);
  const res = await fetch(`${S.gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${S.tokens.waiter}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'ghost/no-such-model', messages: USER_MESSAGES }),
  });
  assert.equal(res.status, 404);
  assert.equal((await res.json()).error.code, 'model_not_found');
  const access = await waitForAccess(S.gw, res.headers.get('x-request-id'));
  assert.equal(access.error_code, 'model_not_found');
  assert.equal(access.requested_model, 'ghost/no-such-model');
  const models = await fetch(`${S.gw.baseURL}/models/up%2Fother`, { headers: { authorization: `Bearer ${S.tokens.waiter}` } });
  assert.equal(models.status, 404);
  const line = await waitForAccess(S.gw, models.headers.get('x-request-id'));
  assert.equal(line.requested_model, 'up%2Fother');
});

test('requests to unknown paths log their path, bounded and without the query', { timeout: 60000 }, async (t) => {
  const S = await startStack(t);
  const mark = S.gw.mark();
  const res = await fetch(`http://${S.gw.listen}/v1/engines/x/completions?api_key=secret-value`, {
    method: 'POST',
    headers: { authorization: `Bearer ${S.tokens.waiter}`, 'content-type': 'application/json' },
    body: '{}',
  });
  assert.equal(res.status, 404);
  const access = await waitForAccess(S.gw, res.headers.get('x-request-id'));
  assert.equal(access.route, 'other');
  assert.equal(access.path, '/v1/engines/x/completions');
  // Without a token the request is refused on its headers; the line still names the path.
  const anon = await fetch(`http://${S.gw.listen}/.env?x=secret-value`);
  assert.equal(anon.status, 401);
  const anonLine = await S.gw.waitForLog(byMsg('access', (l) => l.status === 401), 5000, mark);
  assert.equal(anonLine.path, '/.env');
  const long = `/${'a'.repeat(5000)}`;
  const res2 = await fetch(`http://${S.gw.listen}${long}`, { headers: { authorization: `Bearer ${S.tokens.waiter}` } });
  assert.equal(res2.status, 404);
  const longLine = await waitForAccess(S.gw, res2.headers.get('x-request-id'));
  assert.ok(longLine.path.length <= 259, `path of ${longLine.path.length} characters`);
  assert.ok(longLine.path.startsWith('/aaaa'));
  for (const l of S.gw.logs.slice(mark)) assert.ok(!JSON.stringify(l).includes('secret-value'), 'a query string was logged');
});
