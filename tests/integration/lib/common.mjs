// Shared helpers for the integration tests (not a test file).

import assert from 'node:assert/strict';
import net from 'node:net';
import OpenAI from 'openai';
import { TOOL_NAME } from '../upstream/openai_upstream.mjs';

// Random-looking like a real key: the gateway redacts any run of 8 of its characters in what a
// provider answers, so a key holding a word ("upstream") would redact that word in answers.
export const PROVIDER_KEY = 'sk-mock-Zq4Tw9Xr7Lp2Vn5K';

export const CODER_MODELS = [
  'up/gpt-4o-mini', 'up/tools', 'up/slow', 'up/slow-stream', 'up/slow-stream-short',
  'up/no-usage', 'up/error-500', 'up/error-429', 'up/text-embedding-3-small', 'down/gpt-4o-mini',
  'up/interim-100', 'up/die-mid-stream', 'up/close-after',
];
export const OTHER_MODELS = ['up/other-model'];
/**
 * Agents whose `spec.models` holds a single failing model, so that there is no fallback and
 * the failure itself reaches the client (the coder agent falls back to its next model).
 */
export const SINGLE_MODEL_AGENTS = {
  'only-500': 'up/error-500',
  'only-429': 'up/error-429',
  'only-down': 'down/gpt-4o-mini',
  'only-slow': 'up/slow',
};

export const USER_MESSAGES = [{ role: 'user', content: 'Say hello' }];

/**
 * One Pai resource document (`apiVersion: pai.io/v1`), as the manifest builders write them:
 * `metadata` is {name} or {name, namespace}, `spec` any JSON-serialisable value.
 */
export function paiDoc(kind, metadata, spec) {
  const meta = metadata.namespace ? `{name: ${metadata.name}, namespace: ${metadata.namespace}}` : `{name: ${metadata.name}}`;
  return `apiVersion: pai.io/v1
kind: ${kind}
metadata: ${meta}
spec: ${JSON.stringify(spec)}
`;
}

/**
 * The test manifest. `upstreamURL` is the mock's ".../v1" URL, `downURL` a URL
 * on which nothing listens. `coderModels` defaults to CODER_MODELS.
 */
export function buildManifest({ upstreamURL, downURL, coderModels = CODER_MODELS, coderModelsYaml } = {}) {
  if (!upstreamURL || !downURL) throw new Error('buildManifest: upstreamURL and downURL are required');
  const models = coderModelsYaml ?? `[${coderModels.join(', ')}]`;
  return `apiVersion: v1
kind: Secret
metadata: {name: up-key}
stringData: {api-key: ${PROVIDER_KEY}}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: up}
spec:
  provider: openai
  apiKeySecretRef: {name: up-key, key: api-key}
  baseURL: ${upstreamURL}
---
apiVersion: pai.io/v1
kind: ModelProvider
metadata: {name: down}
spec:
  provider: openai
  apiKeySecretRef: {name: up-key, key: api-key}
  baseURL: ${downURL}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: coder, namespace: default}
spec:
  models: ${models}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: other, namespace: default}
spec:
  models: [${OTHER_MODELS.join(', ')}]
${Object.entries(SINGLE_MODEL_AGENTS).map(([name, model]) => `---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: ${name}, namespace: default}
spec:
  models: [${model}]
`).join('')}`;
}

/** Official SDK client against the gateway; no retries, bounded timeout. */
export function makeClient(baseURL, apiKey, opts = {}) {
  return new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 20000, ...opts });
}

/**
 * Runs `fn` (which must reject with an openai APIError) and returns the error.
 */
export async function expectAPIError(fn, status) {
  let err;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `expected the call to fail with HTTP ${status}, but it succeeded`);
  assert.ok(err instanceof OpenAI.APIError,
    `expected an openai APIError, got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.status, status, `expected HTTP ${status}, got ${err.status}: ${err.message}`);
  return err;
}

/** Asserts `obj` is the inner object of an OpenAI error body: {message,type,param,code}. */
export function assertOpenAIErrorObject(obj, { code, param } = {}) {
  assert.ok(obj && typeof obj === 'object', `error body lacks an "error" object: ${JSON.stringify(obj)}`);
  for (const k of ['message', 'type', 'param', 'code']) {
    assert.ok(Object.hasOwn(obj, k), `error object lacks "${k}": ${JSON.stringify(obj)}`);
  }
  assert.equal(typeof obj.message, 'string', 'error.message must be a string');
  assert.ok(obj.message.length > 0, 'error.message must not be empty');
  assert.equal(typeof obj.type, 'string', 'error.type must be a string');
  assert.ok(obj.param === null || typeof obj.param === 'string', 'error.param must be string|null');
  assert.ok(obj.code === null || typeof obj.code === 'string', 'error.code must be string|null');
  if (code !== undefined) assert.equal(obj.code, code, `error.code: ${JSON.stringify(obj)}`);
  if (param !== undefined) assert.equal(obj.param, param, `error.param: ${JSON.stringify(obj)}`);
}

/** Asserts a whole parsed JSON body is `{error:{message,type,param,code}}`. */
export function assertOpenAIErrorBody(body, expected = {}) {
  assert.ok(body && typeof body === 'object' && !Array.isArray(body), `error body is not a JSON object: ${JSON.stringify(body)}`);
  assert.ok(Object.hasOwn(body, 'error'), `error body lacks top-level "error": ${JSON.stringify(body)}`);
  assertOpenAIErrorObject(body.error, expected);
}

/** Collects all chunks of an SDK stream. */
export async function collect(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return chunks;
}

export function contentOf(chunks) {
  return chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
}

/**
 * Raw HTTP/1.1 exchange over a TCP socket. `data` is written as-is.
 * Resolves with {status, statusText, headers (lowercased name -> array of values),
 * rawHead, body (Buffer), text, json (parsed or undefined), closed}.
 * Resolves as soon as one full response is received (Content-Length / chunked),
 * or when the server closes the connection. Rejects on timeout or if the
 * connection fails before any response byte.
 */
export function rawHttp(port, data, { timeoutMs = 10000, host = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ port, host });
    let buf = Buffer.alloc(0);
    let settled = false;
    const finish = (err, val) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err); else resolve(val);
    };
    const timer = setTimeout(() => finish(new Error(
      `rawHttp: no complete response within ${timeoutMs} ms; received so far: ${JSON.stringify(buf.toString('latin1').slice(0, 500))}`)), timeoutMs);

    const tryParse = (eof) => {
      const headEnd = buf.indexOf('\r\n\r\n');
      if (headEnd < 0) {
        if (eof) finish(new Error(`rawHttp: connection closed before a full response head; got ${JSON.stringify(buf.toString('latin1').slice(0, 500))}`));
        return;
      }
      const rawHead = buf.subarray(0, headEnd).toString('latin1');
      const [statusLine, ...headerLines] = rawHead.split('\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(statusLine);
      if (!m) return finish(new Error(`rawHttp: bad status line ${JSON.stringify(statusLine)}`));
      const status = Number(m[1]);
      if (status >= 100 && status < 200 && status !== 101) {
        // Interim response (e.g. 100 Continue): drop it and keep reading.
        buf = buf.subarray(headEnd + 4);
        return tryParse(eof);
      }
      const headers = {};
      for (const l of headerLines) {
        const i = l.indexOf(':');
        if (i <= 0) continue;
        const k = l.slice(0, i).trim().toLowerCase();
        (headers[k] ??= []).push(l.slice(i + 1).trim());
      }
      const rest = buf.subarray(headEnd + 4);
      let body = null;
      const te = (headers['transfer-encoding'] ?? []).join(',').toLowerCase();
      if (te.includes('chunked')) {
        const decoded = decodeChunked(rest);
        if (decoded) body = decoded;
      } else if (headers['content-length']) {
        const n = Number(headers['content-length'][0]);
        if (rest.length >= n) body = rest.subarray(0, n);
      } else if (status === 204 || status === 304) {
        body = Buffer.alloc(0);
      } else if (eof) {
        body = rest;
      }
      if (body === null) {
        if (eof) finish(new Error(`rawHttp: connection closed mid-body; head=${JSON.stringify(rawHead)}`));
        return;
      }
      const text = body.toString('utf8');
      let json;
      try { json = JSON.parse(text); } catch { json = undefined; }
      finish(null, { status, statusText: m[2] ?? '', headers, rawHead, body, text, json, closed: eof });
    };

    sock.on('data', (d) => { buf = Buffer.concat([buf, d]); tryParse(false); });
    sock.on('end', () => tryParse(true));
    sock.on('error', (err) => {
      // The server may reset after sending its response (e.g. 413 with an unread body).
      if (buf.length > 0) tryParse(true);
      if (!settled) finish(err);
    });
    sock.on('close', () => { if (!settled) tryParse(true); });
    sock.write(data, () => { /* write errors surface via 'error' */ });
  });
}

function decodeChunked(b) {
  const parts = [];
  let pos = 0;
  for (;;) {
    const lineEnd = b.indexOf('\r\n', pos);
    if (lineEnd < 0) return null;
    const size = parseInt(b.subarray(pos, lineEnd).toString('latin1').split(';')[0], 16);
    if (Number.isNaN(size)) return null;
    pos = lineEnd + 2;
    if (size === 0) {
      // Trailers until an empty line.
      const end = b.indexOf('\r\n\r\n', pos - 2);
      return end < 0 ? null : Buffer.concat(parts);
    }
    if (b.length < pos + size + 2) return null;
    parts.push(b.subarray(pos, pos + size));
    pos += size + 2;
  }
}

/** Build a raw HTTP/1.1 request. */
export function buildRawRequest({ method = 'POST', path = '/v1/chat/completions', port, token, headers = [], body, contentLength = true, close = true }) {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`];
  if (token) lines.push(`Authorization: Bearer ${token}`);
  const bodyBuf = body === undefined ? null : Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (bodyBuf) lines.push('Content-Type: application/json');
  if (bodyBuf && contentLength) lines.push(`Content-Length: ${bodyBuf.length}`);
  for (const h of headers) lines.push(h);
  if (close) lines.push('Connection: close');
  const head = Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
  return bodyBuf ? Buffer.concat([head, bodyBuf]) : head;
}

/**
 * Minimal Prometheus text-format parser: returns [{name, labels, value}].
 */
export function parsePrometheus(text) {
  const samples = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\S+)?$/.exec(line);
    if (!m) throw new Error(`unparseable metrics line: ${JSON.stringify(rawLine)}`);
    const labels = {};
    if (m[3]) {
      const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*,?/gy;
      let lm;
      let consumed = 0;
      while ((lm = re.exec(m[3])) !== null) {
        labels[lm[1]] = lm[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
        consumed = re.lastIndex;
      }
      if (m[3].slice(consumed).trim() !== '') throw new Error(`unparseable labels in: ${JSON.stringify(rawLine)}`);
    }
    samples.push({ name: m[1], labels, value: Number(m[4]) });
  }
  return samples;
}

/** Sum of the values of samples named `name` whose labels include all of `labels`. */
export function sumMetric(samples, name, labels = {}) {
  let found = false;
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) {
      found = true;
      sum += s.value;
    }
  }
  return found ? sum : undefined;
}

/** The tool definition the tests offer with the mock's `tools` model (its tool is TOOL_NAME). */
export const WEATHER_TOOLS = [{
  type: 'function',
  function: {
    name: TOOL_NAME,
    description: 'Get the weather of a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
}];
