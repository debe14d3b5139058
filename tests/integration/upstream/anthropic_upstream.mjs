// Mock Anthropic upstream for pai-gateway integration tests (not a test file).
//
// Speaks the wire format of the Anthropic Messages API (API reference "Messages",
// "Streaming Messages", "Errors"): POST /v1/messages with `x-api-key` and `anthropic-version`
// headers; a Message object `{id, type:"message", role:"assistant", content:[blocks], model,
// stop_reason, stop_sequence, usage}`; streams as named SSE events (message_start,
// content_block_start, ping, content_block_delta with text_delta / input_json_delta,
// content_block_stop, message_delta, message_stop); errors as
// `{"type":"error","error":{"type","message"},"request_id"}`.
//
// Validation (like the real API, 4xx `invalid_request_error` unless said otherwise):
//   x-api-key missing or not the expected key → 401 authentication_error;
//   anthropic-version missing → 400; a body that is not JSON; unknown top-level members
//   ("Extra inputs are not permitted": e.g. an OpenAI field like stream_options or
//   max_completion_tokens); model missing; max_tokens missing, not an integer >= 1, or above
//   MAX_OUTPUT_TOKENS; messages missing / empty, a role other than user/assistant, a first
//   message that is not a user turn, two turns of one role in a row, empty content or empty
//   text blocks; tool_use blocks outside assistant turns, tool_result blocks outside user
//   turns, not first in their turn, or without a tool_use of that id in the previous
//   assistant turn; an assistant tool_use without tool_result blocks in the next turn;
//   `system` neither a string nor text blocks; tools without a name or an object input_schema,
//   or with unknown members; tool_choice of an unknown type; temperature / top_p outside
//   [0, 1]; stop_sequences not a list of strings; stream not a boolean.
//
// Behaviour by the model id of the body:
//   anything else (e.g. claude-sonnet-4-6)  text "Hello from Claude" (TEXT_PARTS, one output
//       token per part); usage input INPUT_TOKENS, cache_read CACHE_READ_TOKENS,
//       cache_creation CACHE_CREATION_TOKENS, output = parts sent
//   claude-tools  when the request offers a tool named get_weather and the last user turn
//       holds no tool_result: a text block (TOOL_PREAMBLE_PARTS) then a tool_use block
//       {id: toolu_..., name: get_weather, input: {city: "Paris"}}, stop_reason tool_use,
//       output TOOL_TURN_TOKENS; when the last user turn holds a tool_result: the text
//       `The weather in Paris: <tool result text>` (one token per word), stop_reason end_turn
//   claude-overloaded  HTTP 529 overloaded_error
//   claude-429         HTTP 429 rate_limit_error, retry-after: 1, anthropic-ratelimit-* headers
//   claude-500         HTTP 500 api_error
//   claude-stream-overloaded  (stream) message_start, then an `error` event overloaded_error
//   claude-ignore-limit  (stream) text deltas without end, whatever max_tokens says, as fast as
//       the peer reads, until it closes (records `bytesSent`)
//   <any>-cache-ttl     the default text with usage CACHE_TTL_USAGE (cache writes by TTL)
//   <any>-long-context  the default text with usage LONG_CONTEXT_USAGE (> 200k input tokens)
// max_tokens is honoured: an answer longer than it is cut to max_tokens parts with
// stop_reason "max_tokens" (a tool turn cut short has no tool_use block). stop_sequences are
// honoured on the default text: the text ends before the first stop sequence found,
// stop_reason "stop_sequence", stop_sequence set.
//
// Every request is recorded in `requests`: {method, path, query, headers, rawHeaders, body,
// raw, status, maxTokens, stopReason, usage (the usage the mock reported, for a stream the
// final one: message_start's input counts + message_delta's output_tokens), error (the error
// object sent, if any), events (the SSE event names sent), completed}.

import http from 'node:http';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';

export const ANTHROPIC_VERSION = '2023-06-01';
export const TEXT = 'Hello from Claude';
export const TEXT_PARTS = ['Hello', ' from', ' Cla', 'ude'];
export const INPUT_TOKENS = 12;
export const CACHE_READ_TOKENS = 20;
export const CACHE_CREATION_TOKENS = 3;
export const OUTPUT_TOKENS = TEXT_PARTS.length;
export const TOOL_NAME = 'get_weather';
export const TOOL_INPUT = { city: 'Paris' };
// input_json_delta fragments of TOOL_INPUT (like the API, with a space after the colon).
export const TOOL_INPUT_FRAGMENTS = ['', '{"city"', ': "Par', 'is"}'];
export const TOOL_PREAMBLE_PARTS = ['I will', ' check', ' the weather', ' in Paris.'];
export const TOOL_PREAMBLE = TOOL_PREAMBLE_PARTS.join('');
export const TOOL_TURN_TOKENS = 15; // output tokens of a complete tool turn (text + tool_use)
// Usage with the cache-write TTL breakdown (Anthropic API reference, "Messages": usage.cache_creation
// {ephemeral_5m_input_tokens, ephemeral_1h_input_tokens}; cache_creation_input_tokens is their sum).
export const CACHE_TTL_USAGE = {
  input_tokens: 1000, cache_creation_input_tokens: 3000, cache_read_input_tokens: 5000,
  cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 2000 },
};
// A prompt above 200k input tokens (input + cache writes + cache reads = 211,000): the
// long-context tier.
export const LONG_CONTEXT_USAGE = {
  input_tokens: 150000, cache_creation_input_tokens: 1000, cache_read_input_tokens: 60000,
  cache_creation: { ephemeral_5m_input_tokens: 1000, ephemeral_1h_input_tokens: 0 },
};
// count_tokens (POST /v1/messages/count_tokens) answers {input_tokens: countInputTokens(body)}; a
// model whose id ends in `-counted` is billed that count as its input (usage.input_tokens, no
// cache), one ending in `-count-error` too, but its count answers 500.
export const COUNT_TOKENS_KEYS = ['model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers'];
export function countInputTokens(body) {
  const text = JSON.stringify([body.system ?? null, body.messages ?? [], body.tools ?? []]);
  return Math.ceil(Buffer.byteLength(text) / 4);
}
const counted = (model) => typeof model === 'string' && (model.endsWith('-counted') || model.endsWith('-count-error'));
export const MAX_OUTPUT_TOKENS = 64000; // the largest max_tokens the mock's models accept
if (TEXT_PARTS.join('') !== TEXT) throw new Error('anthropic mock: TEXT_PARTS must spell TEXT');
if (JSON.stringify(JSON.parse(TOOL_INPUT_FRAGMENTS.join(''))) !== JSON.stringify(TOOL_INPUT)) {
  throw new Error('anthropic mock: TOOL_INPUT_FRAGMENTS must spell TOOL_INPUT');
}

const TOP_LEVEL = new Set([
  'model', 'messages', 'max_tokens', 'system', 'metadata', 'stop_sequences', 'stream', 'temperature',
  'top_p', 'top_k', 'tools', 'tool_choice', 'thinking', 'service_tier', 'container', 'mcp_servers',
  'context_management',
]);
const TOOL_MEMBERS = new Set(['name', 'description', 'input_schema', 'type', 'cache_control']);

function genId(prefix, n = 12) {
  return prefix + randomBytes(n).toString('base64url').replace(/[-_]/g, 'x');
}

/** Text of a tool_result block's content (a string, or text blocks). */
export function toolResultText(block) {
  const c = block?.content;
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.filter((b) => b?.type === 'text').map((b) => b.text).join('');
  return '';
}

/** The `system` of a request as one string (a string, or its text blocks joined). */
export function systemText(body) {
  const s = body?.system;
  if (typeof s === 'string') return s;
  if (Array.isArray(s)) return s.map((b) => b?.text ?? '').join('');
  return undefined;
}

/** Final text answer of `claude-tools` after a tool result, and its parts (one per word). */
export function toolAnswerParts(resultText) {
  return `The weather in Paris: ${resultText}`.match(/\S+\s*/g) ?? [];
}

class InvalidRequest extends Error {}
const invalid = (msg) => { throw new InvalidRequest(msg); };

/** Validates a Messages request body like the API does; throws InvalidRequest. */
function validateBody(b) {
  if (!b || typeof b !== 'object' || Array.isArray(b)) invalid('Request body must be a JSON object');
  for (const k of Object.keys(b)) if (!TOP_LEVEL.has(k)) invalid(`${k}: Extra inputs are not permitted`);
  if (typeof b.model !== 'string' || !b.model) invalid('model: Field required');
  if (b.max_tokens === undefined) invalid('max_tokens: Field required');
  if (!Number.isInteger(b.max_tokens)) invalid('max_tokens: Input should be a valid integer');
  if (b.max_tokens < 1) invalid('max_tokens: Input should be greater than or equal to 1');
  if (b.max_tokens > MAX_OUTPUT_TOKENS) {
    invalid(`max_tokens: ${b.max_tokens} > ${MAX_OUTPUT_TOKENS}, which is the maximum allowed number of output tokens for ${b.model}`);
  }
  if (b.stream !== undefined && typeof b.stream !== 'boolean') invalid('stream: Input should be a valid boolean');
  for (const f of ['temperature', 'top_p']) {
    if (b[f] === undefined) continue;
    if (typeof b[f] !== 'number') invalid(`${f}: Input should be a valid number`);
    if (b[f] < 0) invalid(`${f}: Input should be greater than or equal to 0`);
    if (b[f] > 1) invalid(`${f}: Input should be less than or equal to 1`);
  }
  if (b.stop_sequences !== undefined &&
      (!Array.isArray(b.stop_sequences) || b.stop_sequences.some((s) => typeof s !== 'string' || !s.trim()))) {
    invalid('stop_sequences: each stop sequence must be a string containing non-whitespace characters');
  }
  if (b.system !== undefined && typeof b.system !== 'string') {
    if (!Array.isArray(b.system) || b.system.some((x) => x?.type !== 'text' || typeof x.text !== 'string')) {
      invalid('system: Input should be a valid string or a list of text blocks');
    }
  }
  const toolNames = new Set();
  if (b.tools !== undefined) {
    if (!Array.isArray(b.tools)) invalid('tools: Input should be a valid list');
    b.tools.forEach((t, i) => {
      for (const k of Object.keys(t ?? {})) if (!TOOL_MEMBERS.has(k)) invalid(`tools.${i}.custom.${k}: Extra inputs are not permitted`);
      if (typeof t?.name !== 'string' || !/^[a-zA-Z0-9_-]{1,128}$/.test(t.name)) invalid(`tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      if (t.description !== undefined && typeof t.description !== 'string') invalid(`tools.${i}.custom.description: Input should be a valid string`);
      if (!t.input_schema || typeof t.input_schema !== 'object') invalid(`tools.${i}.custom.input_schema: Field required`);
      if (t.input_schema.type !== 'object') invalid(`tools.${i}.custom.input_schema.type: Input should be 'object'`);
      toolNames.add(t.name);
    });
  }
  if (b.tool_choice !== undefined) {
    const tc = b.tool_choice;
    if (!tc || !['auto', 'any', 'tool', 'none'].includes(tc.type)) invalid("tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'");
    if (tc.type === 'tool' && typeof tc.name !== 'string') invalid('tool_choice.tool.name: Field required');
    if (tc.type !== 'none' && !b.tools?.length) invalid('tool_choice may only be specified while providing tools.');
  }
  const msgs = b.messages;
  if (!Array.isArray(msgs)) invalid('messages: Field required');
  if (msgs.length === 0) invalid('messages: at least one message is required');
  let prevToolUses = new Set(); // tool_use ids of the previous assistant turn
  msgs.forEach((m, i) => {
    if (!m || !['user', 'assistant'].includes(m.role)) invalid(`messages.${i}.role: Input should be 'user' or 'assistant'`);
    if (i === 0 && m.role !== 'user') invalid('messages: first message must use the "user" role');
    if (i > 0 && msgs[i - 1].role === m.role) {
      invalid(`messages: roles must alternate between "user" and "assistant", but found multiple "${m.role}" roles in a row`);
    }
    const last = i === msgs.length - 1;
    const blocks = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    if (!Array.isArray(blocks)) invalid(`messages.${i}.content: Input should be a valid list`);
    if (blocks.length === 0 || (typeof m.content === 'string' && m.content === '' && !(last && m.role === 'assistant'))) {
      invalid(`messages.${i}: all messages must have non-empty content except for the optional final assistant message`);
    }
    const uses = new Set();
    let seenOther = false;
    blocks.forEach((blk, j) => {
      const where = `messages.${i}.content.${j}`;
      switch (blk?.type) {
        case 'text':
          if (typeof blk.text !== 'string') invalid(`${where}.text.text: Field required`);
          if (blk.text === '' && typeof m.content !== 'string') invalid('messages: text content blocks must be non-empty');
          seenOther = true;
          break;
        case 'image': case 'document': case 'thinking': case 'redacted_thinking':
          seenOther = true;
          break;
        case 'tool_use':
          if (m.role !== 'assistant') invalid(`${where}: tool_use blocks can only be in assistant messages`);
          if (typeof blk.id !== 'string' || !/^[a-zA-Z0-9_-]+$/.test(blk.id)) invalid(`${where}.tool_use.id: String should match pattern '^[a-zA-Z0-9_-]+$'`);
          if (typeof blk.name !== 'string' || !blk.name) invalid(`${where}.tool_use.name: Field required`);
          if (!blk.input || typeof blk.input !== 'object' || Array.isArray(blk.input)) invalid(`${where}.tool_use.input: Input should be a valid dictionary`);
          uses.add(blk.id);
          break;
        case 'tool_result':
          if (m.role !== 'user') invalid(`${where}: tool_result blocks can only be in user messages`);
          if (seenOther) invalid(`messages.${i}: tool_result blocks must come first in the content array, before any other content`);
          if (typeof blk.tool_use_id !== 'string') invalid(`${where}.tool_result.tool_use_id: Field required`);
          if (!prevToolUses.has(blk.tool_use_id)) {
            invalid(`${where}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${blk.tool_use_id}. ` +
              'Each `tool_result` block must have a corresponding `tool_use` block in the previous message.');
          }
          if (blk.content !== undefined && typeof blk.content !== 'string' && !Array.isArray(blk.content)) {
            invalid(`${where}.tool_result.content: Input should be a valid string or list`);
          }
          prevToolUses.delete(blk.tool_use_id);
          break;
        default:
          invalid(`${where}: Input tag '${blk?.type}' found using 'type' does not match any of the expected tags`);
      }
    });
    if (m.role === 'user' && prevToolUses.size > 0) {
      invalid(`messages.${i - 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${[...prevToolUses].join(', ')}. ` +
        'Each `tool_use` block must have a corresponding `tool_result` block in the next message.');
    }
    if (m.role === 'assistant') prevToolUses = uses;
  });
  return { toolNames };
}

/**
 * Starts the mock. `apiKey`: the x-api-key it accepts. Resolves with
 * {url (".../v1"), port, requests, events, close, server}.
 */
export async function startAnthropicUpstream({ apiKey } = {}) {
  if (!apiKey) throw new Error('startAnthropicUpstream: apiKey is required');
  const requests = [];
  const events = new EventEmitter();
  events.setMaxListeners(100);

  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body = null;
      try { body = raw ? JSON.parse(raw) : null; } catch { body = undefined; }
      const url = new URL(req.url, 'http://upstream.invalid');
      const record = {
        method: req.method, path: url.pathname, query: url.search, headers: { ...req.headers },
        rawHeaders: [...req.rawHeaders], body, raw, status: null, maxTokens: body?.max_tokens ?? null,
        stopReason: null, usage: null, error: null, events: [], completed: false,
      };
      res.once('finish', () => { record.completed = true; });
      requests.push(record);
      events.emit('request', record);
      try {
        route(req, res, record);
      } catch (err) {
        if (!res.headersSent) sendError(res, record, 500, 'api_error', `mock upstream crashed: ${err.message}`);
        else res.destroy(err);
      }
    });
  });

  function baseHeaders(extra = {}) {
    return {
      'request-id': genId('req_011C'),
      'anthropic-organization-id': '00000000-0000-4000-8000-000000000000',
      ...extra,
    };
  }

  function sendJSON(res, record, status, obj, extra = {}) {
    const text = JSON.stringify(obj);
    record.status = status;
    res.writeHead(status, baseHeaders({
      'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...extra,
    }));
    res.end(text);
  }

  function sendError(res, record, status, type, message, extra = {}) {
    const obj = { type: 'error', error: { type, message }, request_id: genId('req_011C') };
    record.error = obj.error;
    sendJSON(res, record, status, obj, extra);
  }

  function route(req, res, record) {
    if (record.path !== '/v1/messages' && record.path !== '/v1/messages/count_tokens') {
      return sendError(res, record, 404, 'not_found_error', 'Not Found');
    }
    if (req.method !== 'POST') return sendError(res, record, 405, 'invalid_request_error', `Method ${req.method} not allowed`);
    const key = req.headers['x-api-key'];
    if (!key) return sendError(res, record, 401, 'authentication_error', 'x-api-key header is required');
    if (key !== apiKey) return sendError(res, record, 401, 'authentication_error', 'invalid x-api-key');
    if (!req.headers['anthropic-version']) {
      return sendError(res, record, 400, 'invalid_request_error', 'anthropic-version: header is required');
    }
    if (record.body === undefined || record.body === null) {
      return sendError(res, record, 400, 'invalid_request_error', 'There was an error parsing the body of your request: not valid JSON');
    }
    if (record.path === '/v1/messages/count_tokens') return countTokens(res, record);
    let toolNames;
    try {
      ({ toolNames } = validateBody(record.body));
    } catch (err) {
      if (err instanceof InvalidRequest) return sendError(res, record, 400, 'invalid_request_error', err.message);
      throw err;
    }
    const b = record.body;
    switch (b.model) {
      case 'claude-overloaded':
        return sendError(res, record, 529, 'overloaded_error', 'Overloaded');
      case 'claude-429':
        return sendError(res, record, 429, 'rate_limit_error',
          'This request would exceed the rate limit for your organization of 5 requests per minute. Please try again later.', {
            'retry-after': '1',
            'anthropic-ratelimit-requests-limit': '5',
            'anthropic-ratelimit-requests-remaining': '0',
            'anthropic-ratelimit-requests-reset': new Date(Date.now() + 1000).toISOString(),
          });
      case 'claude-500':
        return sendError(res, record, 500, 'api_error', 'Internal server error');
      default:
        return answer(res, record, b, toolNames);
    }
  }

  /** Plans the answer: {blocks: [{type:'text', parts} | {type:'tool_use', id, name, input}], outputTokens, stopReason, stopSequence}. */
  function plan(b, toolNames) {
    const limit = b.max_tokens;
    const lastUser = [...b.messages].reverse().find((m) => m.role === 'user');
    const results = Array.isArray(lastUser?.content) ? lastUser.content.filter((x) => x.type === 'tool_result') : [];
    if (b.model === 'claude-tools' && results.length > 0) {
      const parts = toolAnswerParts(toolResultText(results[0]));
      const cut = parts.slice(0, limit);
      return { blocks: [{ type: 'text', parts: cut }], outputTokens: cut.length, stopReason: cut.length < parts.length ? 'max_tokens' : 'end_turn', stopSequence: null };
    }
    if (b.model === 'claude-tools' && toolNames.has(TOOL_NAME)) {
      if (limit < TOOL_TURN_TOKENS) {
        const cut = TOOL_PREAMBLE_PARTS.slice(0, limit);
        return { blocks: [{ type: 'text', parts: cut }], outputTokens: Math.min(limit, TOOL_TURN_TOKENS), stopReason: 'max_tokens', stopSequence: null };
      }
      return {
        blocks: [{ type: 'text', parts: TOOL_PREAMBLE_PARTS }, { type: 'tool_use', id: genId('toolu_01'), name: TOOL_NAME, input: TOOL_INPUT }],
        outputTokens: TOOL_TURN_TOKENS, stopReason: 'tool_use', stopSequence: null,
      };
    }
    let parts = TEXT_PARTS;
    let stopReason = 'end_turn';
    let stopSequence = null;
    for (const s of b.stop_sequences ?? []) {
      const at = TEXT.indexOf(s);
      if (at >= 0 && (stopSequence === null || at < TEXT.indexOf(stopSequence))) stopSequence = s;
    }
    if (stopSequence !== null) {
      // Keep the text before the stop sequence (split on the part boundaries).
      const keep = TEXT.slice(0, TEXT.indexOf(stopSequence));
      const out = [];
      let n = 0;
      for (const p of TEXT_PARTS) {
        if (n >= keep.length) break;
        out.push(p.slice(0, keep.length - n));
        n += p.length;
      }
      parts = out;
      stopReason = 'stop_sequence';
    }
    if (parts.length > limit) {
      parts = parts.slice(0, limit);
      stopReason = 'max_tokens';
      stopSequence = null;
    }
    return { blocks: [{ type: 'text', parts }], outputTokens: parts.length, stopReason, stopSequence };
  }

  // Anthropic API reference, "Count tokens in a Message": only the prompt members are accepted.
  function countTokens(res, record) {
    const b = record.body;
    if (typeof b !== 'object' || Array.isArray(b)) return sendError(res, record, 400, 'invalid_request_error', 'body must be an object');
    for (const k of Object.keys(b)) {
      if (!COUNT_TOKENS_KEYS.includes(k)) return sendError(res, record, 400, 'invalid_request_error', `${k}: Extra inputs are not permitted`);
    }
    if (typeof b.model !== 'string') return sendError(res, record, 400, 'invalid_request_error', 'model: Field required');
    if (!Array.isArray(b.messages)) return sendError(res, record, 400, 'invalid_request_error', 'messages: Field required');
    if (b.model.endsWith('-count-error')) return sendError(res, record, 500, 'api_error', 'Internal server error');
    record.counted = countInputTokens(b);
    return sendJSON(res, record, 200, { input_tokens: record.counted });
  }

  function inputUsage(model, body) {
    if (counted(model)) return { input_tokens: countInputTokens(body), cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };
    if (typeof model === 'string' && model.endsWith('-cache-ttl')) return { ...CACHE_TTL_USAGE, cache_creation: { ...CACHE_TTL_USAGE.cache_creation } };
    if (typeof model === 'string' && model.endsWith('-long-context')) return { ...LONG_CONTEXT_USAGE, cache_creation: { ...LONG_CONTEXT_USAGE.cache_creation } };
    return { input_tokens: INPUT_TOKENS, cache_creation_input_tokens: CACHE_CREATION_TOKENS, cache_read_input_tokens: CACHE_READ_TOKENS };
  }

  function answer(res, record, b, toolNames) {
    const p = plan(b, toolNames);
    const id = genId('msg_01');
    record.stopReason = p.stopReason;
    if (b.stream !== true) {
      const content = p.blocks.map((blk) => (blk.type === 'text'
        ? { type: 'text', text: blk.parts.join('') }
        : { type: 'tool_use', id: blk.id, name: blk.name, input: blk.input }));
      const usage = { ...inputUsage(b.model, b), output_tokens: p.outputTokens, service_tier: 'standard' };
      record.usage = usage;
      return sendJSON(res, record, 200, {
        id, type: 'message', role: 'assistant', model: b.model, content,
        stop_reason: p.stopReason, stop_sequence: p.stopSequence, usage,
      });
    }
    record.status = 200;
    res.writeHead(200, baseHeaders({ 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' }));
    res.flushHeaders();
    const send = (name, data) => {
      record.events.push(name);
      res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    send('message_start', {
      type: 'message_start',
      message: {
        id, type: 'message', role: 'assistant', model: b.model, content: [], stop_reason: null, stop_sequence: null,
        usage: { ...inputUsage(b.model, b), output_tokens: 1, service_tier: 'standard' },
      },
    });
    if (b.model === 'claude-ignore-limit') {
      send('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
      const delta = `event: content_block_delta\ndata: ${JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: ' token' } })}\n\n`;
      const piece = delta.repeat(200);
      record.bytesSent = 0;
      const pump = () => {
        while (!res.destroyed) {
          record.bytesSent += piece.length;
          if (!res.write(piece)) return res.once('drain', pump);
        }
      };
      return pump();
    }
    if (b.model === 'claude-stream-overloaded') {
      send('error', { type: 'error', error: { type: 'overloaded_error', message: 'Overloaded' } });
      record.error = { type: 'overloaded_error', message: 'Overloaded' };
      return res.end();
    }
    p.blocks.forEach((blk, index) => {
      if (blk.type === 'text') {
        send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } });
        if (index === 0) send('ping', { type: 'ping' });
        for (const text of blk.parts) send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text } });
      } else {
        send('content_block_start', { type: 'content_block_start', index, content_block: { type: 'tool_use', id: blk.id, name: blk.name, input: {} } });
        for (const partial_json of TOOL_INPUT_FRAGMENTS) {
          send('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json } });
        }
      }
      send('content_block_stop', { type: 'content_block_stop', index });
    });
    send('message_delta', { type: 'message_delta', delta: { stop_reason: p.stopReason, stop_sequence: p.stopSequence }, usage: { output_tokens: p.outputTokens } });
    record.usage = { ...inputUsage(b.model, b), output_tokens: p.outputTokens };
    send('message_stop', { type: 'message_stop' });
    res.end();
  }

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const { port } = server.address();
  let closed = false;
  async function close() {
    if (closed) return;
    closed = true;
    const done = new Promise((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await done;
  }
  return { url: `http://127.0.0.1:${port}/v1`, port, requests, events, close, server };
}
