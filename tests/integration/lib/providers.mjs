// Helpers for the native-provider tests (not a test file): a stack of the mock Anthropic and
// Gemini upstreams plus a gateway whose ModelProviders `claude` (kind anthropic) and `gem`
// (kind gemini) point at them, and checks of what the mocks received.

import assert from 'node:assert/strict';
import { startAnthropicUpstream } from '../upstream/anthropic_upstream.mjs';
import { startGeminiUpstream } from '../upstream/gemini_upstream.mjs';
import { startGateway, tokenSecret } from './gateway.mjs';
import { makeClient, paiDoc } from './common.mjs';

export const NS = 'default';
export const ANTHROPIC_KEY = 'sk-ant-api03-mock-anthropic-key-0001';
export const GEMINI_KEY = 'AIzaSyMock-gemini-key-0002';
export const WRONG_KEY = 'sk-wrong-provider-key-0003';

/**
 * Manifest: Secrets for both keys (and a wrong one), providers `claude` (anthropic) and `gem`
 * (gemini), `providers` ({name: {kind: 'anthropic'|'gemini', wrongKey?: bool, ...spec fields}})
 * and `agents` ({name: Agent spec}, namespace default). Specs as YAML flow mappings (JSON).
 */
export function providersManifest({ anthropicURL, geminiURL, providers = {}, agents = {} }) {
  const docs = [];
  for (const [name, key] of [['anthropic-key', ANTHROPIC_KEY], ['gemini-key', GEMINI_KEY], ['wrong-key', WRONG_KEY]]) {
    docs.push(`apiVersion: v1
kind: Secret
metadata: {name: ${name}}
stringData: {api-key: ${key}}
`);
  }
  const all = { claude: { kind: 'anthropic' }, gem: { kind: 'gemini' }, ...providers };
  for (const [name, p] of Object.entries(all)) {
    const { kind, wrongKey = false, ...rest } = p;
    const secret = wrongKey ? 'wrong-key' : kind === 'anthropic' ? 'anthropic-key' : 'gemini-key';
    const spec = {
      provider: kind,
      apiKeySecretRef: { name: secret, key: 'api-key' },
      baseURL: kind === 'anthropic' ? anthropicURL : geminiURL,
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
 * Both mock upstreams + a gateway, a token per agent. Returns {anthropic, gemini, gw, tokens,
 * client(agent), mark(), since(mark), cleanup}.
 */
export async function startProviderStack({ agents, providers = {}, extraArgs = [] }) {
  const anthropic = await startAnthropicUpstream({ apiKey: ANTHROPIC_KEY });
  const gemini = await startGeminiUpstream({ apiKey: GEMINI_KEY });
  let gw;
  const closeAll = async () => {
    await gw?.stop('SIGKILL', 5000).catch(() => {});
    await Promise.allSettled([anthropic.close(), gemini.close()]);
  };
  try {
    const names = Object.keys(agents);
    gw = await startGateway({
      manifest: providersManifest({ anthropicURL: anthropic.url, geminiURL: gemini.url, providers, agents }),
      extraArgs, mintBefore: names.map((n) => `${NS}/${n}`),
    });
    const tokens = Object.fromEntries(names.map((n, i) => [n, gw.tokens[i]]));
    return {
      anthropic, gemini, gw, tokens,
      /** Official SDK client for `agent` (no retries). */
      client(agent, opts = {}) { return makeClient(gw.baseURL, tokens[agent], { timeout: 30000, ...opts }); },
      /** Position in both mocks' request lists (for since()). */
      mark() { return { a: anthropic.requests.length, g: gemini.requests.length }; },
      /** Requests each mock received after `m`: {anthropic: [...], gemini: [...]}. */
      since(m) { return { anthropic: anthropic.requests.slice(m.a), gemini: gemini.requests.slice(m.g) }; },
      async cleanup() {
        const crashed = gw.exitInfo && !gw.stopRequested;
        await closeAll();
        if (crashed) throw new Error(`gateway exited on its own: ${JSON.stringify(gw.exitInfo)}\n${gw.logTail()}`);
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** An SDK call with its response: {data, rid, response}. */
export async function sdkCreate(client, body) {
  const { data, response } = await client.chat.completions.create(body).withResponse();
  return { data, response, rid: response.headers.get('x-request-id') };
}

/** Text of an Anthropic message's content (a string, or its text blocks joined). */
export function anthropicText(content) {
  if (typeof content === 'string') return content;
  return (content ?? []).filter((b) => b.type === 'text').map((b) => b.text).join('');
}

/** Blocks of an Anthropic message's content (a string is one text block). */
export function anthropicBlocks(content) {
  return typeof content === 'string' ? [{ type: 'text', text: content }] : content ?? [];
}

/**
 * Asserts one upstream request record carries neither the agent token (any header, the body)
 * nor an Authorization header, and that `key` appears only in the header `keyHeader`.
 */
export function assertUpstreamCredentials(rec, { token, key, keyHeader }) {
  const secret = tokenSecret(token);
  for (let i = 0; i < rec.rawHeaders.length; i += 2) {
    const [name, value] = [rec.rawHeaders[i], rec.rawHeaders[i + 1]];
    const h = `${name}: ${value}`;
    assert.ok(!h.includes(secret), `upstream request header leaks the agent token: ${h}`);
    if (name.toLowerCase() !== keyHeader) assert.ok(!h.includes(key), `the provider key is in header ${name}`);
  }
  assert.equal(rec.headers[keyHeader], key, `${keyHeader} is the provider's key`);
  assert.ok(!('authorization' in rec.headers), `no Authorization header upstream, got ${rec.headers.authorization}`);
  assert.ok(!rec.raw.includes(secret), 'the upstream body contains the agent token');
  assert.ok(!rec.raw.includes(key), 'the upstream body contains the provider key');
  assert.ok(!(rec.url ?? `${rec.path}${rec.query}`).includes(key), `the provider key is in the URL ${rec.url}`);
}

/**
 * POST a stream through `fetch` and return the raw SSE text and its `data:` payloads (for
 * checks the SDK hides: the final `data: [DONE]`).
 */
export async function rawStream(gw, token, body) {
  const res = await fetch(`${gw.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...body, stream: true }),
    signal: AbortSignal.timeout(30000),
  });
  const text = await res.text();
  const data = text.split(/\r?\n\r?\n/).filter((e) => e.trim()).map((e) => {
    const lines = e.split(/\r?\n/).filter((l) => l.startsWith('data:'));
    return lines.map((l) => l.slice(5).trimStart()).join('\n');
  });
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', text, data, rid: res.headers.get('x-request-id') };
}

/**
 * Checks a collected chat.completion.chunk stream (SDK chunks) and returns what it assembled:
 * {content, role, finish, usage, toolCalls: [{id, name, arguments, deltas}], chunks}.
 * Asserts the OpenAI chunk shape: object, one id for the stream, the role first, a single
 * finish chunk, the usage chunk (when present) after it with choices [].
 */
export function assembleStream(chunks, { includeUsage }) {
  assert.ok(chunks.length >= 2, `a stream of ${chunks.length} chunks`);
  const ids = new Set(chunks.map((c) => c.id));
  assert.equal(ids.size, 1, `one id for all chunks: ${[...ids]}`);
  let content = '';
  let role;
  let finish = null;
  let finishAt = -1;
  let usage = null;
  let usageAt = -1;
  const toolCalls = [];
  chunks.forEach((c, i) => {
    assert.equal(c.object, 'chat.completion.chunk', `chunk ${i}: ${JSON.stringify(c)}`);
    if (c.usage) {
      usage = c.usage;
      usageAt = i;
    }
    const ch = c.choices?.[0];
    if (!ch) return;
    const d = ch.delta ?? {};
    if (d.role) {
      assert.equal(role, undefined, `the role is sent once: chunk ${i}`);
      role = d.role;
    }
    if (typeof d.content === 'string') content += d.content;
    for (const tc of d.tool_calls ?? []) {
      assert.ok(Number.isInteger(tc.index), `tool_calls delta without an index: ${JSON.stringify(tc)}`);
      let t = toolCalls[tc.index];
      if (!t) {
        assert.ok(tc.id, `the first delta of tool call ${tc.index} carries its id: ${JSON.stringify(tc)}`);
        assert.equal(tc.type, 'function', `the first delta of tool call ${tc.index} has type function`);
        assert.ok(tc.function?.name, `the first delta of tool call ${tc.index} carries the name`);
        t = toolCalls[tc.index] = { id: tc.id, name: tc.function.name, arguments: '', deltas: 0, fragments: 0 };
      } else {
        assert.ok(!tc.id || tc.id === t.id, `a later delta changes the id of tool call ${tc.index}`);
      }
      t.deltas++;
      if (tc.function?.arguments) {
        t.arguments += tc.function.arguments;
        t.fragments++;
      }
    }
    if (ch.finish_reason) {
      assert.equal(finish, null, `a single finish chunk (chunk ${i})`);
      finish = ch.finish_reason;
      finishAt = i;
    }
  });
  assert.equal(role, 'assistant', 'the first delta carries role assistant');
  assert.ok(chunks[0].choices?.[0]?.delta?.role === 'assistant', 'the role is in the first chunk');
  assert.ok(finish, 'a chunk with finish_reason');
  if (includeUsage) {
    assert.ok(usage, 'the usage chunk (stream_options.include_usage)');
    assert.ok(usageAt > finishAt, 'the usage chunk comes after the finish chunk');
    assert.deepEqual(chunks[usageAt].choices, [], 'the usage chunk has choices []');
  } else {
    assert.equal(usage, null, `no usage chunk unless asked for: ${JSON.stringify(usage)}`);
  }
  return { content, role, finish, usage, toolCalls, chunks };
}

/** Asserts an OpenAI usage object has exactly these prompt / completion / total numbers. */
export function assertUsage(usage, prompt, completion, what) {
  assert.ok(usage, `${what}: usage missing`);
  assert.deepEqual(
    { prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, total_tokens: usage.total_tokens },
    { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
    `${what}: usage ${JSON.stringify(usage)}`);
}
