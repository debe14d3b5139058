// Helpers for the budget / rate-limit / fallback tests (not a test file): a manifest with
// per-test agents and providers, a stack (mock upstream + gateway) per test, raw JSON calls
// whose body size is known exactly (the input upper bound is the body size in bytes),
// /metrics scraping and BUDGET_EXCEEDED events.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { startOpenAIUpstream } from '../upstream/openai_upstream.mjs';
import { startGateway, getClosedPort, byMsg, withTimeout } from './gateway.mjs';
import { PROVIDER_KEY, makeClient, paiDoc, parsePrometheus, sumMetric } from './common.mjs';
import { waitForAccess } from './harness.mjs';

export const NS = 'default';

/**
 * Manifest: the Secret, provider `up` (the mock) and `down` (nothing listens) plus `providers`
 * ({name: {down?: bool, provider?: kind, ...spec fields such as maxTokensDay, pricing}}) and
 * `agents` ({name: {models: [...], tokens?: {...}, rateLimits?: {...}}}, namespace default).
 * Specs are written as YAML flow mappings (JSON).
 */
export function budgetManifest({ upstreamURL, downURL, providers = {}, agents = {} }) {
  const docs = [`apiVersion: v1
kind: Secret
metadata: {name: up-key}
stringData: {api-key: ${PROVIDER_KEY}}
`];
  const all = { up: {}, down: { down: true }, ...providers };
  for (const [name, p] of Object.entries(all)) {
    const { down, provider = 'openai', ...rest } = p;
    const spec = {
      provider,
      apiKeySecretRef: { name: 'up-key', key: 'api-key' },
      baseURL: down ? downURL : upstreamURL,
      ...rest,
    };
    docs.push(paiDoc('ModelProvider', { name }, spec));
  }
  for (const [name, spec] of Object.entries(agents)) {
    docs.push(paiDoc('Agent', { name, namespace: NS }, spec));
  }
  return docs.join('---\n');
}

/**
 * Mock upstream + gateway for one test, with a token per agent.
 * Returns {upstream, gw, tokens: {agent: token}, client(agent, opts), cleanup, restart(...)}.
 * `wrap` (see startGateway) applies to the first gateway only, not to restarts;
 * `upstreamOptions` go to startOpenAIUpstream().
 */
export async function startBudgetStack({ providers = {}, agents, extraArgs = [], wrap, upstreamOptions }) {
  const upstream = await startOpenAIUpstream(upstreamOptions);
  const gateways = [];
  try {
    const downPort = await getClosedPort();
    const manifest = budgetManifest({
      upstreamURL: upstream.url, downURL: `http://127.0.0.1:${downPort}/v1`, providers, agents,
    });
    const names = Object.keys(agents);
    const gw = await startGateway({ manifest, extraArgs, wrap, mintBefore: names.map((n) => `${NS}/${n}`) });
    gateways.push(gw);
    const tokens = Object.fromEntries(names.map((n, i) => [n, gw.tokens[i]]));
    const S = {
      upstream, gw, tokens, manifest, extraArgs,
      /** Official SDK client for `agent` against the current gateway (generous timeout for ASan). */
      client(agent, opts = {}) {
        return makeClient(S.gw.baseURL, tokens[agent], { timeout: 60000, ...opts });
      },
      /** Start a new gateway on the same config and state directory (the current one must have exited). */
      async restart() {
        const next = await startGateway({ reuse: S.gw, extraArgs });
        gateways.push(next);
        S.gw = next;
        return next;
      },
      async cleanup() {
        await Promise.allSettled(gateways.map((g) => g.stop('SIGKILL', 5000)));
        await upstream.close();
        const crashed = gateways.filter((g) => g.exitInfo && !g.stopRequested);
        if (crashed.length) {
          throw new Error(`gateway exited on its own: ${JSON.stringify(crashed[0].exitInfo)}\n${crashed[0].logTail()}`);
        }
      },
    };
    return S;
  } catch (err) {
    await Promise.allSettled(gateways.map((g) => g.stop('SIGKILL', 5000)));
    await upstream.close();
    throw err;
  }
}

/**
 * POST /v1/chat/completions with exactly `JSON.stringify(body)` (so the body size — the
 * gateway's input upper bound — is known). Reads the whole response (SSE text for streams).
 * Returns {status, headers (Headers), text, json, bytes (request body size), rid, events}.
 */
export async function postChat(gw, token, body, { signal } = {}) {
  const text = JSON.stringify(body);
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: text,
    signal,
  });
  const out = await res.text();
  let json;
  try { json = JSON.parse(out); } catch { json = undefined; }
  let events;
  if ((res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    events = out.split('\n\n').filter(Boolean).map((e) => e.replace(/^data: /, ''))
      .filter((d) => d !== '[DONE]').map((d) => JSON.parse(d));
  }
  return {
    status: res.status, headers: res.headers, text: out, json, events,
    bytes: Buffer.byteLength(text), rid: res.headers.get('x-request-id'),
  };
}

/**
 * What `pai-gateway count-tokens` (the gateway's own code) says of `body` (an object, sent as
 * postChat() sends it, or the raw JSON text): {input_upper, input_estimate, method} — the model's
 * token count plus framing for OpenAI models and the mock, the body's size in bytes otherwise
 * (docs/budgets.md). `model`: the bare id upstream (default: the body's model without its
 * provider prefix).
 */
export function countTokens(body, { provider = 'openai', model, route = 'chat' } = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const id = model ?? String(JSON.parse(text).model).replace(/^[^/]*\//, '');
  const out = execFileSync(process.env.PAI_GATEWAY_BIN,
    ['count-tokens', '--provider', provider, '--model', id, '--route', route],
    { input: text, encoding: 'utf8' });
  return JSON.parse(out);
}

/** The input upper bound the gateway reserves for `body` (see countTokens). */
export function inputBound(body, opts) {
  return countTokens(body, opts).input_upper;
}

/** The per-request estimate the gateway uses for `body` (see countTokens). */
export function inputEstimate(body, opts) {
  return countTokens(body, opts).input_estimate;
}

/** Size in bytes of `body` as postChat() sends it. */
export function bodyBytes(body) {
  return Buffer.byteLength(JSON.stringify(body));
}

/** GET /metrics of `gw`, parsed. */
export async function scrape(gw) {
  const res = await fetch(`${gw.adminURL}/metrics`);
  assert.equal(res.status, 200, '/metrics');
  return parsePrometheus(await res.text());
}

/** The value of a metric (sum over matching series), 0 when absent. */
export function metricValue(samples, name, labels = {}) {
  return sumMetric(samples, name, labels) ?? 0;
}

/** pai_gateway_tokens_total input + output of an agent (all models). */
export function agentTokens(samples, agent) {
  return metricValue(samples, 'pai_gateway_tokens_total', { namespace: NS, agent, type: 'input' }) +
    metricValue(samples, 'pai_gateway_tokens_total', { namespace: NS, agent, type: 'output' });
}

/** pai_gateway_budget_remaining{budget} of an agent (undefined when absent). */
export function budgetRemaining(samples, agent, budget) {
  return sumMetric(samples, 'pai_gateway_budget_remaining', { namespace: NS, agent, budget });
}

export function outstanding(samples) {
  const v = sumMetric(samples, 'pai_gateway_budget_reservations_outstanding');
  assert.notEqual(v, undefined, 'pai_gateway_budget_reservations_outstanding is missing from /metrics');
  return v;
}

/** BUDGET_EXCEEDED events logged so far (optionally from log index `from`). */
export function budgetEvents(gw, from = 0) {
  return gw.logs.slice(from).filter(byMsg('event', (l) => l.type === 'BUDGET_EXCEEDED'));
}

/** Waits for the BUDGET_EXCEEDED event of request `rid`. */
export function waitForBudgetEvent(gw, rid, timeoutMs = 5000) {
  return gw.waitForLog(byMsg('event', (l) => l.type === 'BUDGET_EXCEEDED' && l.detail?.request_id === rid), timeoutMs);
}

/** Waits for the access log lines of all `rids` (the request is settled when its line is logged). */
export async function waitForAccessAll(gw, rids, timeoutMs = 20000) {
  return Promise.all(rids.map((rid) => waitForAccess(gw, rid, timeoutMs)));
}

/** Upstream chat requests that carried x-request-id `rid`, in order. */
export function upstreamFor(upstream, rid) {
  return upstream.requests.filter((r) => r.path === '/v1/chat/completions' && r.headers['x-request-id'] === rid);
}

/** Seconds from `ms` (epoch milliseconds) to the next 00:00 UTC. */
export function secondsToMidnightUTC(ms = Date.now()) {
  return 86400 - Math.floor(ms / 1000) % 86400;
}

/** The UTC day number of `ms`. */
export function utcDay(ms = Date.now()) {
  return Math.floor(ms / 86400000);
}

/**
 * Asserts a Retry-After for a daily budget: whole seconds until 00:00 UTC (measured around the call).
 */
export function assertRetryAfterMidnight(value, t0, t1) {
  assert.match(String(value), /^\d+$/, `Retry-After must be whole seconds, got ${value}`);
  const v = Number(value);
  const hi = secondsToMidnightUTC(t0);
  const lo = secondsToMidnightUTC(t1);
  // Across midnight the window wraps; then any value is plausible.
  if (lo <= hi) assert.ok(v >= Math.max(1, lo - 1) && v <= hi + 1, `Retry-After ${v} is not the time to 00:00 UTC (${lo}..${hi})`);
}

/** Asserts an x-ratelimit-reset-* duration ("1h2m3s", "6m0s", "12s") and returns it in seconds. */
export function parseResetDuration(value) {
  const m = /^(?:(\d+)h)?(?:(\d+)m)?(\d+)s$/.exec(value ?? '');
  assert.ok(m, `not an x-ratelimit-reset duration: ${JSON.stringify(value)}`);
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3]);
}

/**
 * Number of complete commit frames in a SQLite WAL file (format: sqlite.org/fileformat2.html,
 * "WAL file format"): a frame is a 24-byte header (page number, database size after commit —
 * non-zero only on a transaction's last frame —, the header's two salts, checksums) and one page.
 * A frame counts once the file holds all of it; frames whose salts differ from the header's are
 * left over from before a WAL reset and end the count.
 */
export function walCommitCount(walPath) {
  let buf;
  try { buf = fs.readFileSync(walPath); } catch { return 0; }
  if (buf.length < 32) return 0;
  const magic = buf.readUInt32BE(0);
  if (magic !== 0x377f0682 && magic !== 0x377f0683) return 0;
  const pageSize = buf.readUInt32BE(8);
  const salt1 = buf.readUInt32BE(16);
  const salt2 = buf.readUInt32BE(20);
  let commits = 0;
  for (let off = 32; off + 24 + pageSize <= buf.length; off += 24 + pageSize) {
    if (buf.readUInt32BE(off + 8) !== salt1 || buf.readUInt32BE(off + 12) !== salt2) break;
    if (buf.readUInt32BE(off + 4) !== 0) commits++;
  }
  return commits;
}

/**
 * Resolves once the gateway has committed to <stateDir>/budget.db a flush that started after
 * this call: `trigger()` (which must cause budget activity — any admitted request dirties the
 * counters) is run, then a new commit is awaited, twice: the first new commit may have taken
 * its snapshot earlier, the second was taken after the first had been written.
 */
export async function waitForBudgetFlush(stateDir, trigger, timeoutMs = 5000) {
  const wal = path.join(stateDir, 'budget.db-wal');
  for (let round = 0; round < 2; round++) {
    const before = walCommitCount(wal);
    let watcher;
    const committed = new Promise((resolve) => {
      watcher = fs.watch(stateDir, () => { if (walCommitCount(wal) > before) resolve(); });
    });
    try {
      await trigger();
      if (walCommitCount(wal) > before) continue;
      await withTimeout(committed, timeoutMs, `a new commit in ${wal} (budget flush)`);
    } finally {
      watcher.close();
    }
  }
}

/**
 * Sends `body` with the official SDK until the gateway refuses it (at most `max` calls).
 * Returns {ok: number of 200s, spent: tokens billed by the provider, refusal: the 429 error}.
 */
export async function spendUntilRefused(S, agent, body, max = 12) {
  const client = S.client(agent);
  let ok = 0;
  let spent = 0;
  for (let i = 0; i < max; i++) {
    try {
      const { data, response } = await client.chat.completions.create(body).withResponse();
      await waitForAccess(S.gw, response.headers.get('x-request-id'));
      spent += data.usage.prompt_tokens + data.usage.completion_tokens;
      ok++;
    } catch (err) {
      assert.equal(err.status, 429, `call ${i + 1}: ${err}`);
      return { ok, spent, refusal: err };
    }
  }
  return { ok, spent, refusal: null };
}
