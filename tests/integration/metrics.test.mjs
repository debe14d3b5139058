// End-to-end: admin listener (/metrics validated by promtool, /healthz, /readyz).
// Uses its own gateway instance so that token counters are exact.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { PROMPT_TOKENS } from './upstream/openai_upstream.mjs';
import { USER_MESSAGES, collect, parsePrometheus, sumMetric, PROVIDER_KEY } from './lib/common.mjs';
import { startStack, waitForAccess } from './lib/harness.mjs';
import { tokenSecret } from './lib/gateway.mjs';

let S;
before(async () => { S = await startStack({ mintBefore: ['default/coder'] }); });
after(async () => { await S?.cleanup(); });

function promtoolCheck(text) {
  const probe = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  if (probe.error) {
    throw new Error('promtool is not on PATH (needed to validate /metrics): install it, e.g. `apt-get install prometheus` on Debian');
  }
  return new Promise((resolve, reject) => {
    const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, out }));
    p.stdin.end(text);
  });
}

test('k. /metrics passes promtool and counts requests and tokens; /healthz and /readyz are 200', { timeout: 60000 }, async () => {
  const { client, gw } = S;
  const MODEL = 'up/gpt-4o-mini';
  const ids = [];
  let chatOK = 0;
  let miniCalls = 0;

  for (let i = 0; i < 2; i++) {
    const { response } = await client.chat.completions.create({ model: MODEL, messages: USER_MESSAGES }).withResponse();
    ids.push(response.headers.get('x-request-id'));
    chatOK++; miniCalls++;
  }
  {
    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages: USER_MESSAGES, stream: true }).withResponse();
    await collect(data);
    ids.push(response.headers.get('x-request-id'));
    chatOK++; miniCalls++;
  }
  {
    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages: USER_MESSAGES, stream: true, stream_options: { include_usage: true } }).withResponse();
    await collect(data);
    ids.push(response.headers.get('x-request-id'));
    chatOK++; miniCalls++;
  }
  {
    const { response } = await client.chat.completions
      .create({ model: 'up/tools', messages: USER_MESSAGES }).withResponse();
    ids.push(response.headers.get('x-request-id'));
    chatOK++;
  }
  // One rejected call (403) that must not count as 2xx nor as tokens.
  await assert.rejects(client.chat.completions.create({ model: 'up/other-model', messages: USER_MESSAGES }));

  // Accounting happens when a request completes: wait for every access line before scraping.
  for (const id of ids) {
    assert.ok(id, 'every response carries x-request-id');
    await waitForAccess(gw, id);
  }

  const res = await fetch(`${gw.adminURL}/metrics`);
  assert.equal(res.status, 200);
  const ct = res.headers.get('content-type') ?? '';
  assert.match(ct, /^text\/plain/, `content-type ${ct}`);
  const text = await res.text();

  const { code, out } = await promtoolCheck(text);
  assert.equal(code, 0, `promtool check metrics failed (exit ${code}):\n${out}`);

  const samples = parsePrometheus(text);
  const req2xx = sumMetric(samples, 'pai_gateway_requests_total', { route: '/v1/chat/completions', status_class: '2xx' });
  assert.ok(req2xx !== undefined, 'pai_gateway_requests_total{route="/v1/chat/completions",status_class="2xx"} missing');
  assert.ok(req2xx >= chatOK, `requests_total 2xx = ${req2xx}, expected >= ${chatOK}`);
  const req4xx = sumMetric(samples, 'pai_gateway_requests_total', { route: '/v1/chat/completions', status_class: '4xx' });
  assert.ok(req4xx >= 1, `requests_total 4xx = ${req4xx}, expected >= 1`);

  const inputTokens = sumMetric(samples, 'pai_gateway_tokens_total',
    { namespace: 'default', agent: 'coder', model: MODEL, provider: 'up', type: 'input' });
  assert.equal(inputTokens, PROMPT_TOKENS * miniCalls,
    `pai_gateway_tokens_total input for ${MODEL}: ${inputTokens}, expected ${PROMPT_TOKENS} x ${miniCalls} (stream calls must be counted too)`);

  // Bounded labels: never a token, a key or a request id.
  assert.ok(!text.includes(tokenSecret(S.token)), '/metrics contains an agent token');
  assert.ok(!text.includes(PROVIDER_KEY), '/metrics contains the provider key');
  for (const id of ids) assert.ok(!text.includes(id), `/metrics contains request id ${id}`);

  const hz = await fetch(`${gw.adminURL}/healthz`);
  assert.equal(hz.status, 200);
  await hz.arrayBuffer();
  const rz = await fetch(`${gw.adminURL}/readyz`);
  assert.equal(rz.status, 200);
  await rz.arrayBuffer();
});
