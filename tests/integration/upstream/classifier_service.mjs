// Test prompt-injection classifier service for the http GuardBinding tests.
//
// Speaks the three wire formats a GuardBinding's http classifier can use, each at the path of
// the real API (the path selects the format):
//   plain      POST /classify        {"text": "..."}
//              → {"label": "INJECTION", "score": 0.97} | {"label": "SAFE", "score": 0.98}
//              (with `plainStyle: 'list'`: the Hugging Face text-classification answer, a list
//              [{label, score}, ...] best first)
//   llm-guard  POST /analyze/prompt  {"prompt": "..."}   (LLM Guard API, llm_guard_api)
//              → {"sanitized_prompt": "...", "is_valid": false, "scanners": {"PromptInjection": 1.0}}
//   lakera     POST /v2/guard        {"messages": [{"role": "user", "content": "..."}], "breakdown": false}
//              (Lakera Guard v2) → {"flagged": true, "metadata": {"request_uuid": "..."}}
// A request body that is not the format's shape is refused like the real services do
// (422 FastAPI-style for plain / llm-guard, 400 for lakera); an unknown path is 404.
//
// Decision by content: a text is an injection when it contains FLAG_MARKER ("INJECT-ME") or
// matches /ignore (all )?previous instructions/i.
//
// When started with `apiKey`, every request must carry `Authorization: Bearer <apiKey>` (401
// otherwise, like the real APIs).
//
// Modes (setMode): 'ok' (default); 'delay' (answers normally after `delayMs`, unless the
// caller has gone); 'error-500' (HTTP 500 + JSON error); 'malformed' (HTTP 200,
// content-type application/json, a body that is not JSON).
//
// Every request is recorded in `requests`: {method, path, headers, raw, body (parsed JSON or
// null), text (the classified text, for a well-formed body), status (sent, null until then),
// clientClosed (the caller closed the connection before the answer)}; `events` emits
// 'request' (record) on arrival.
//
// This is a helper module, not a test file (no `.test.` in its name).

import http from 'node:http';
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';

export const FLAG_MARKER = 'INJECT-ME';
export const PLAIN_FLAGGED_SCORE = 0.97;
export const PLAIN_SAFE_SCORE = 0.98; // label SAFE: the injection score is 1 - 0.98
export const PATHS = { plain: '/classify', 'llm-guard': '/analyze/prompt', lakera: '/v2/guard' };

/** The service's decision. */
export function isInjection(text) {
  return text.includes(FLAG_MARKER) || /ignore (all )?previous instructions/i.test(text);
}

/** Returns {text, role} when `body` is the request shape of `format`, else {error}. */
function readRequest(format, body) {
  const isObj = body !== null && typeof body === 'object' && !Array.isArray(body);
  if (!isObj) return { error: 'body must be a JSON object' };
  if (format === 'plain') {
    if (typeof body.text !== 'string') return { error: 'field required: text (string)' };
    return { text: body.text };
  }
  if (format === 'llm-guard') {
    if (typeof body.prompt !== 'string') return { error: 'field required: prompt (string)' };
    return { text: body.prompt };
  }
  // lakera
  if (!Array.isArray(body.messages) || body.messages.length === 0) return { error: 'messages must be a non-empty list' };
  for (const m of body.messages) {
    if (!m || typeof m.role !== 'string' || typeof m.content !== 'string') {
      return { error: 'each message needs a string role and content' };
    }
  }
  if ('breakdown' in body && typeof body.breakdown !== 'boolean') return { error: 'breakdown must be a boolean' };
  return { text: body.messages.map((m) => m.content).join('\n'), role: body.messages.at(-1).role };
}

function answerFor(format, text, { plainStyle }) {
  const flagged = isInjection(text);
  if (format === 'plain') {
    if (plainStyle === 'list') {
      return flagged
        ? [{ label: 'INJECTION', score: PLAIN_FLAGGED_SCORE }, { label: 'SAFE', score: 1 - PLAIN_FLAGGED_SCORE }]
        : [{ label: 'SAFE', score: PLAIN_SAFE_SCORE }, { label: 'INJECTION', score: 1 - PLAIN_SAFE_SCORE }];
    }
    return flagged ? { label: 'INJECTION', score: PLAIN_FLAGGED_SCORE } : { label: 'SAFE', score: PLAIN_SAFE_SCORE };
  }
  if (format === 'llm-guard') {
    return { sanitized_prompt: text, is_valid: !flagged, scanners: { PromptInjection: flagged ? 1.0 : 0.0 } };
  }
  return { flagged, metadata: { request_uuid: randomUUID() } };
}

export async function startClassifierService({ apiKey = null } = {}) {
  const requests = [];
  const events = new EventEmitter();
  events.setMaxListeners(100);
  const timers = new Set();
  const state = { mode: 'ok', delayMs: 0, plainStyle: 'object' };

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = JSON.parse(raw); } catch { body = null; }
      const path = new URL(req.url, 'http://classifier.invalid').pathname;
      const record = {
        method: req.method, path, headers: { ...req.headers }, raw, body,
        text: null, status: null, clientClosed: false,
      };
      requests.push(record);
      res.on('close', () => { if (!res.writableFinished) record.clientClosed = true; });
      events.emit('request', record);
      route(req, res, record);
    });
  });

  function send(res, record, status, payload, contentType = 'application/json') {
    if (res.destroyed) { record.clientClosed = true; return; }
    const text = typeof payload === 'string' ? payload : JSON.stringify(payload);
    record.status = status;
    res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  function route(req, res, record) {
    const format = Object.keys(PATHS).find((f) => PATHS[f] === record.path);
    if (!format) return send(res, record, 404, { detail: 'Not Found' });
    if (req.method !== 'POST') return send(res, record, 405, { detail: 'Method Not Allowed' });
    if (apiKey !== null && req.headers.authorization !== `Bearer ${apiKey}`) {
      return send(res, record, 401, { detail: 'Invalid or missing API key' });
    }
    const parsed = readRequest(format, record.body);
    if (parsed.error) {
      return format === 'lakera'
        ? send(res, record, 400, { error: parsed.error })
        : send(res, record, 422, { detail: [{ loc: ['body'], msg: parsed.error, type: 'value_error' }] });
    }
    record.text = parsed.text;
    record.role = parsed.role ?? null;
    const answer = () => {
      switch (state.mode) {
        case 'error-500':
          return send(res, record, 500, { detail: 'Internal Server Error' });
        case 'malformed':
          return send(res, record, 200, '{"label": "INJECTION", "score": ');
        default:
          return send(res, record, 200, answerFor(format, parsed.text, state));
      }
    };
    if (state.mode === 'delay') {
      const t = setTimeout(() => { timers.delete(t); answer(); }, state.delayMs);
      timers.add(t);
      res.on('close', () => { if (!res.writableFinished) { clearTimeout(t); timers.delete(t); } });
      return;
    }
    answer();
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.address();
  const baseURL = `http://127.0.0.1:${port}`;

  let closed = false;
  return {
    port, baseURL, requests, events, server,
    /** Full classify URL of `format` (what a GuardBinding's spec.classifier.url names). */
    urlFor(format) {
      if (!PATHS[format]) throw new Error(`unknown classifier format ${format}`);
      return `${baseURL}${PATHS[format]}`;
    },
    /** 'ok' | 'delay' | 'error-500' | 'malformed'; opts: {delayMs, plainStyle: 'object'|'list'}. */
    setMode(mode, { delayMs = 0, plainStyle } = {}) {
      if (!['ok', 'delay', 'error-500', 'malformed'].includes(mode)) throw new Error(`unknown mode ${mode}`);
      state.mode = mode;
      state.delayMs = delayMs;
      if (plainStyle) state.plainStyle = plainStyle;
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      const done = new Promise((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await done;
    },
  };
}
