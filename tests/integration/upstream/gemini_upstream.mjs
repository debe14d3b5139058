// Mock Gemini upstream for pai-gateway integration tests (not a test file).
//
// Speaks the wire format of the Gemini API (API reference "Generating content"):
// POST /v1beta/models/{model}:generateContent and
// POST /v1beta/models/{model}:streamGenerateContent?alt=sse with the key in `x-goog-api-key`;
// a GenerateContentResponse {candidates:[{content:{parts,role:"model"},finishReason,index}],
// usageMetadata:{promptTokenCount,candidatesTokenCount,totalTokenCount,...}, modelVersion,
// responseId}; streams as `data: {GenerateContentResponse}\r\n\r\n` events (no end event: the
// body ends), every chunk carrying usageMetadata (the prompt count early, the full counts on the
// last chunk, which has the finishReason); errors in the Google API format
// `{"error":{"code","message","status","details"?}}`.
//
// Validation (400 INVALID_ARGUMENT unless said otherwise):
//   no x-goog-api-key → 403 PERMISSION_DENIED; a wrong key → 400 API_KEY_INVALID (like the
//   real API); a `key` in the query → 400 (test policy: the gateway must keep the key out of
//   URLs, which end up in logs); :streamGenerateContent without alt=sse → 400 (the mock only
//   speaks SSE); a body that is not JSON; unknown members (top level, generationConfig, a
//   Content, a Part, a functionDeclaration: "Unknown name ... Cannot find field.", as proto
//   JSON parsing does; lowerCamel and snake_case names are both accepted, like proto JSON);
//   contents missing or empty; a role other than user / model; empty parts; a Part without
//   exactly one data member; a functionCall outside a model turn; a functionResponse outside
//   a user turn, not right after a model turn with functionCall parts, answering a function
//   that turn did not call, or (with ids) answering an id it did not use; a different number
//   of functionResponse parts than functionCall parts; a functionDeclaration without a name
//   or with both `parameters` and `parametersJsonSchema`; toolConfig mode not AUTO / ANY /
//   NONE / VALIDATED; maxOutputTokens not an integer >= 1; temperature outside [0, 2]; topP
//   outside [0, 1]; more than 5 stopSequences.
//
// Behaviour by model id:
//   anything else (e.g. gemini-2.5-flash)  text "Hello from Gemini" (TEXT_PARTS, one candidate
//       token per part), usage prompt PROMPT_TOKENS / candidates = parts sent
//   gemini-thinking   the same answer plus thoughtsTokenCount THOUGHTS_TOKENS (counted within
//       maxOutputTokens, before the text)
//   gemini-tools      when the request declares a function get_weather and the last turn holds
//       no functionResponse: a functionCall part {name: get_weather, args: {city: "Paris"}}
//       (with a thoughtSignature, no id — like 2.5 models), finishReason STOP; after a
//       functionResponse: the text `The weather in Paris: <response.content>`
//   gemini-429        HTTP 429 RESOURCE_EXHAUSTED (with RetryInfo)
//   gemini-503        HTTP 503 UNAVAILABLE
//   gemini-400        HTTP 400 INVALID_ARGUMENT
// generationConfig.maxOutputTokens is honoured: an answer longer than it is cut with
// finishReason MAX_TOKENS (a functionCall that does not fit is not sent).
//
// Every request is recorded in `requests`: {method, path, query, model, action, headers,
// rawHeaders, body, raw, status, maxOutputTokens, finishReason, usage (the usageMetadata of the
// answer, for a stream the last one), error, chunks (stream: number of data events), completed}.

import http from 'node:http';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';

export const TEXT = 'Hello from Gemini';
export const TEXT_PARTS = ['Hello', ' from', ' Gem', 'ini'];
export const PROMPT_TOKENS = 9;
// countTokens (POST models/{model}:countTokens with {generateContentRequest}) answers
// {totalTokens: countInputTokens(request)}; a model whose id ends in `-counted` is billed that
// count as its prompt, one ending in `-count-error` too, but its count answers 500.
export function countInputTokens(req) {
  const text = JSON.stringify([req.systemInstruction ?? null, req.contents ?? [], req.tools ?? []]);
  return Math.ceil(Buffer.byteLength(text) / 4);
}
const counted = (model) => typeof model === 'string' && (model.endsWith('-counted') || model.endsWith('-count-error'));
export const THOUGHTS_TOKENS = 6;
export const TOOL_NAME = 'get_weather';
export const TOOL_ARGS = { city: 'Paris' };
export const TOOL_CALL_TOKENS = 7;
export const TOOL_PROMPT_TOKENS = 31;
if (TEXT_PARTS.join('') !== TEXT) throw new Error('gemini mock: TEXT_PARTS must spell TEXT');

// Known members (lowerCamel; the snake_case form is accepted too).
const FIELDS = {
  request: ['contents', 'tools', 'toolConfig', 'safetySettings', 'systemInstruction', 'generationConfig', 'cachedContent', 'labels'],
  generationConfig: ['stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'responseModalities',
    'candidateCount', 'maxOutputTokens', 'temperature', 'topP', 'topK', 'seed', 'presencePenalty', 'frequencyPenalty',
    'responseLogprobs', 'logprobs', 'enableEnhancedCivicAnswers', 'speechConfig', 'thinkingConfig', 'mediaResolution'],
  content: ['role', 'parts'],
  part: ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult',
    'thought', 'thoughtSignature', 'videoMetadata', 'partMetadata'],
  functionDeclaration: ['name', 'description', 'parameters', 'parametersJsonSchema', 'response', 'responseJsonSchema', 'behavior'],
};
const PART_DATA = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse', 'executableCode', 'codeExecutionResult'];
const snake = (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Member `name` of `obj` under its lowerCamel or snake_case name. */
export function field(obj, name) {
  if (!obj || typeof obj !== 'object') return undefined;
  return obj[name] !== undefined ? obj[name] : obj[snake(name)];
}

/** The systemInstruction text of a request (its text parts joined), or undefined. */
export function systemText(body) {
  const si = field(body, 'systemInstruction');
  if (!si) return undefined;
  return (si.parts ?? []).map((p) => p.text ?? '').join('');
}

/** Final answer of `gemini-tools` after a function response, and its parts (one per word). */
export function toolAnswerParts(content) {
  const text = typeof content === 'string' ? content : JSON.stringify(content);
  return `The weather in Paris: ${text}`.match(/\S+\s*/g) ?? [];
}

class InvalidArgument extends Error {}
const invalid = (msg) => { throw new InvalidArgument(msg); };

function checkMembers(obj, kind, where) {
  const known = new Set(FIELDS[kind].flatMap((f) => [f, snake(f)]));
  for (const k of Object.keys(obj)) {
    if (!known.has(k)) invalid(`Invalid JSON payload received. Unknown name "${k}"${where ? ` at '${where}'` : ''}: Cannot find field.`);
  }
}

/** Validates a GenerateContentRequest; throws InvalidArgument. Returns {functionNames}. */
function validateBody(b) {
  if (!b || typeof b !== 'object' || Array.isArray(b)) invalid('Invalid JSON payload received. Expected an object.');
  checkMembers(b, 'request', '');
  const gc = field(b, 'generationConfig');
  if (gc !== undefined) {
    if (!gc || typeof gc !== 'object') invalid("Invalid value at 'generation_config'");
    checkMembers(gc, 'generationConfig', 'generation_config');
    const mot = field(gc, 'maxOutputTokens');
    if (mot !== undefined && (!Number.isInteger(mot) || mot < 1)) {
      invalid(`* GenerateContentRequest.generation_config.max_output_tokens: must be a positive integer, got ${JSON.stringify(mot)}`);
    }
    const temp = field(gc, 'temperature');
    if (temp !== undefined && (typeof temp !== 'number' || temp < 0 || temp > 2)) {
      invalid('* GenerateContentRequest.generation_config.temperature: temperature must be in the range [0.0, 2.0]');
    }
    const topP = field(gc, 'topP');
    if (topP !== undefined && (typeof topP !== 'number' || topP < 0 || topP > 1)) {
      invalid('* GenerateContentRequest.generation_config.top_p: top_p must be in the range [0.0, 1.0]');
    }
    const stops = field(gc, 'stopSequences');
    if (stops !== undefined && (!Array.isArray(stops) || stops.length > 5 || stops.some((s) => typeof s !== 'string'))) {
      invalid('* GenerateContentRequest.generation_config.stop_sequences: at most 5 stop sequences (strings) are supported');
    }
  }
  const si = field(b, 'systemInstruction');
  if (si !== undefined) {
    if (!si || !Array.isArray(si.parts) || si.parts.length === 0) invalid('* GenerateContentRequest.system_instruction.parts: must not be empty');
    checkMembers(si, 'content', 'system_instruction');
    si.parts.forEach((p, j) => { checkMembers(p, 'part', `system_instruction.parts[${j}]`); });
  }
  const functionNames = new Set();
  const tools = field(b, 'tools');
  if (tools !== undefined) {
    if (!Array.isArray(tools)) invalid("Invalid value at 'tools'");
    tools.forEach((t, i) => {
      for (const [j, fd] of (field(t, 'functionDeclarations') ?? []).entries()) {
        const where = `tools[${i}].function_declarations[${j}]`;
        checkMembers(fd, 'functionDeclaration', where);
        if (typeof fd.name !== 'string' || !/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,127}$/.test(fd.name)) invalid(`* GenerateContentRequest.${where}.name: Invalid function name.`);
        if (field(fd, 'parameters') !== undefined && field(fd, 'parametersJsonSchema') !== undefined) {
          invalid(`* GenerateContentRequest.${where}: parameters and parameters_json_schema are mutually exclusive`);
        }
        functionNames.add(fd.name);
      }
    });
  }
  const tc = field(b, 'toolConfig');
  const fcc = field(tc, 'functionCallingConfig');
  if (fcc && field(fcc, 'mode') !== undefined && !['MODE_UNSPECIFIED', 'AUTO', 'ANY', 'NONE', 'VALIDATED'].includes(field(fcc, 'mode'))) {
    invalid(`Invalid value at 'tool_config.function_calling_config.mode' (type.googleapis.com/google.ai.generativelanguage.v1beta.FunctionCallingConfig.Mode), "${field(fcc, 'mode')}"`);
  }
  const contents = field(b, 'contents');
  if (!Array.isArray(contents) || contents.length === 0) invalid('* GenerateContentRequest.contents: contents is not specified');
  let prevCalls = null; // functionCall parts of the previous model turn
  contents.forEach((c, i) => {
    checkMembers(c, 'content', `contents[${i}]`);
    if (c.role !== undefined && !['user', 'model'].includes(c.role)) invalid('Please use a valid role: user, model.');
    if (!Array.isArray(c.parts) || c.parts.length === 0) invalid(`* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`);
    const calls = [];
    const responses = [];
    c.parts.forEach((p, j) => {
      checkMembers(p, 'part', `contents[${i}].parts[${j}]`);
      const data = PART_DATA.filter((k) => field(p, k) !== undefined);
      if (data.length !== 1) invalid(`* GenerateContentRequest.contents[${i}].parts[${j}].data: required oneof field 'data' must have exactly one initialized field`);
      const fc = field(p, 'functionCall');
      const fr = field(p, 'functionResponse');
      if (fc !== undefined) {
        if (c.role !== 'model') invalid(`* GenerateContentRequest.contents[${i}].parts[${j}].function_call: a function call must be in a model turn`);
        if (typeof fc.name !== 'string' || !fc.name) invalid(`* GenerateContentRequest.contents[${i}].parts[${j}].function_call.name: Name cannot be empty.`);
        if (fc.args !== undefined && (typeof fc.args !== 'object' || fc.args === null || Array.isArray(fc.args))) invalid(`Invalid value at 'contents[${i}].parts[${j}].function_call.args' (type.googleapis.com/google.protobuf.Struct)`);
        calls.push(fc);
      }
      if (fr !== undefined) {
        if (c.role !== 'user') invalid(`* GenerateContentRequest.contents[${i}].parts[${j}].function_response: a function response must be in a user turn`);
        if (typeof fr.name !== 'string' || !fr.name) invalid(`* GenerateContentRequest.contents[${i}].parts[${j}].function_response.name: Name cannot be empty.`);
        if (!fr.response || typeof fr.response !== 'object' || Array.isArray(fr.response)) invalid(`Invalid value at 'contents[${i}].parts[${j}].function_response.response' (type.googleapis.com/google.protobuf.Struct)`);
        responses.push(fr);
      }
    });
    if (responses.length > 0) {
      if (!prevCalls || prevCalls.length === 0) invalid('Please ensure that function response turn comes immediately after a function call turn.');
      if (responses.length !== prevCalls.length) {
        invalid('Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.');
      }
      for (const fr of responses) {
        const match = prevCalls.find((fc) => fc.name === fr.name);
        if (!match) invalid(`* GenerateContentRequest.contents[${i}]: function response for "${fr.name}" does not answer a function call of the previous turn`);
        if (fr.id !== undefined && match.id !== undefined && fr.id !== match.id) {
          invalid(`* GenerateContentRequest.contents[${i}]: function response id "${fr.id}" does not match the function call id "${match.id}"`);
        }
      }
    }
    prevCalls = c.role === 'model' ? calls : null;
  });
  return { functionNames };
}

/**
 * Starts the mock. `apiKey`: the x-goog-api-key it accepts. Resolves with
 * {url (".../v1beta"), port, requests, events, close, server}.
 */
export async function startGeminiUpstream({ apiKey } = {}) {
  if (!apiKey) throw new Error('startGeminiUpstream: apiKey is required');
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
      const m = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|countTokens)$/.exec(url.pathname);
      const record = {
        method: req.method, path: url.pathname, query: url.search, url: req.url,
        model: m ? decodeURIComponent(m[1]) : null, action: m ? m[2] : null,
        headers: { ...req.headers }, rawHeaders: [...req.rawHeaders], body, raw, status: null,
        maxOutputTokens: field(field(body, 'generationConfig'), 'maxOutputTokens') ?? null,
        finishReason: null, usage: null, error: null, chunks: 0, completed: false,
      };
      res.once('finish', () => { record.completed = true; });
      requests.push(record);
      events.emit('request', record);
      try {
        route(req, res, record, url);
      } catch (err) {
        if (!res.headersSent) sendError(res, record, 500, 'INTERNAL', `mock upstream crashed: ${err.message}`);
        else res.destroy(err);
      }
    });
  });

  function sendJSON(res, record, status, obj) {
    const text = JSON.stringify(obj, null, 2); // the real API pretty-prints its JSON
    record.status = status;
    res.writeHead(status, {
      'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text),
      vary: 'Origin, X-Origin, Referer', 'server-timing': 'gfet4t7; dur=12', 'x-content-type-options': 'nosniff',
    });
    res.end(text);
  }

  function sendError(res, record, code, status, message, details) {
    const error = { code, message, status };
    if (details) error.details = details;
    record.error = error;
    sendJSON(res, record, code, { error });
  }

  function route(req, res, record, url) {
    if (!record.model) return sendError(res, record, 404, 'NOT_FOUND', `Requested entity was not found. (${req.method} ${record.path})`);
    if (req.method !== 'POST') return sendError(res, record, 405, 'INVALID_ARGUMENT', `Method ${req.method} is not allowed`);
    if (url.searchParams.has('key')) {
      return sendError(res, record, 400, 'INVALID_ARGUMENT', 'API key sent in the URL query (key=...): this test upstream only accepts the x-goog-api-key header');
    }
    const key = req.headers['x-goog-api-key'];
    if (!key) {
      return sendError(res, record, 403, 'PERMISSION_DENIED',
        "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    }
    if (key !== apiKey) {
      return sendError(res, record, 400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } },
      ]);
    }
    const stream = record.action === 'streamGenerateContent';
    if (stream && url.searchParams.get('alt') !== 'sse') {
      return sendError(res, record, 400, 'INVALID_ARGUMENT', 'this test upstream streams only with alt=sse');
    }
    if (record.body === undefined || record.body === null) {
      return sendError(res, record, 400, 'INVALID_ARGUMENT', 'Invalid JSON payload received. Unexpected token.');
    }
    if (record.action === 'countTokens') return countTokens(res, record);
    let functionNames;
    try {
      ({ functionNames } = validateBody(record.body));
    } catch (err) {
      if (err instanceof InvalidArgument) return sendError(res, record, 400, 'INVALID_ARGUMENT', err.message);
      throw err;
    }
    switch (record.model) {
      case 'gemini-429':
        return sendError(res, record, 429, 'RESOURCE_EXHAUSTED',
          'You exceeded your current quota, please check your plan and billing details. For more information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.', [
            { '@type': 'type.googleapis.com/google.rpc.QuotaFailure', violations: [{ quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId: 'GenerateRequestsPerMinutePerProjectPerModel-FreeTier' }] },
            { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' },
          ]);
      case 'gemini-503':
        return sendError(res, record, 503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.');
      case 'gemini-400':
        return sendError(res, record, 400, 'INVALID_ARGUMENT', 'Request contains an invalid argument.');
      default:
        return answer(res, record, stream, functionNames);
    }
  }

  /**
   * Plans the answer: {pieces: [[part, ...] per stream chunk], finishReason, usage}.
   */
  // Gemini API reference, "models.countTokens": `contents` or a whole `generateContentRequest`
  // whose `model` is "models/{model}".
  function countTokens(res, record) {
    const b = record.body;
    const g = field(b, 'generateContentRequest');
    if (!g && !field(b, 'contents')) return sendError(res, record, 400, 'INVALID_ARGUMENT', 'contents or generateContentRequest is required');
    if (g) {
      if (field(g, 'model') !== `models/${record.model}`) return sendError(res, record, 400, 'INVALID_ARGUMENT', `generateContentRequest.model must be models/${record.model}`);
      const { model: _model, ...request } = g; // GenerateContentRequest.model: only in countTokens
      try { validateBody(request); } catch (err) {
        if (err instanceof InvalidArgument) return sendError(res, record, 400, 'INVALID_ARGUMENT', err.message);
        throw err;
      }
    }
    if (record.model.endsWith('-count-error')) return sendError(res, record, 500, 'INTERNAL', 'An internal error has occurred.');
    record.counted = countInputTokens(g ?? { contents: field(b, 'contents') });
    return sendJSON(res, record, 200, { totalTokens: record.counted, promptTokensDetails: [{ modality: 'TEXT', tokenCount: record.counted }] });
  }

  function plan(b, model, functionNames) {
    const limit = field(field(b, 'generationConfig'), 'maxOutputTokens') ?? Infinity;
    const contents = field(b, 'contents');
    const last = contents[contents.length - 1];
    const response = last.parts.map((p) => field(p, 'functionResponse')).find(Boolean);
    const usage = (prompt, candidates, thoughts = 0) => {
      if (counted(model)) prompt = countInputTokens(b);
      const u = { promptTokenCount: prompt };
      if (candidates > 0) u.candidatesTokenCount = candidates;
      u.totalTokenCount = prompt + candidates + thoughts;
      u.promptTokensDetails = [{ modality: 'TEXT', tokenCount: prompt }];
      if (thoughts > 0) u.thoughtsTokenCount = thoughts;
      return u;
    };
    if (model === 'gemini-tools' && response) {
      const parts = toolAnswerParts(response.response?.content ?? response.response);
      const cut = parts.slice(0, limit);
      return {
        pieces: cut.map((text) => [{ text }]), finishReason: cut.length < parts.length ? 'MAX_TOKENS' : 'STOP',
        usage: usage(TOOL_PROMPT_TOKENS + 12, cut.length),
      };
    }
    if (model === 'gemini-tools' && functionNames.has(TOOL_NAME)) {
      if (limit < TOOL_CALL_TOKENS) return { pieces: [], finishReason: 'MAX_TOKENS', usage: usage(TOOL_PROMPT_TOKENS, 0) };
      return {
        pieces: [[{ functionCall: { name: TOOL_NAME, args: TOOL_ARGS }, thoughtSignature: randomBytes(24).toString('base64') }]],
        finishReason: 'STOP', usage: usage(TOOL_PROMPT_TOKENS, TOOL_CALL_TOKENS),
      };
    }
    const thoughts = model === 'gemini-thinking' ? Math.min(THOUGHTS_TOKENS, limit) : 0;
    const room = limit - thoughts;
    const cut = TEXT_PARTS.slice(0, Math.max(0, room));
    return {
      pieces: cut.map((text) => [{ text }]), finishReason: cut.length < TEXT_PARTS.length ? 'MAX_TOKENS' : 'STOP',
      usage: usage(PROMPT_TOKENS, cut.length, thoughts),
    };
  }

  function answer(res, record, stream, functionNames) {
    const p = plan(record.body, record.model, functionNames);
    const responseId = randomBytes(12).toString('base64url');
    const modelVersion = record.model;
    record.finishReason = p.finishReason;
    record.usage = p.usage;
    if (!stream) {
      const parts = p.pieces.flat();
      // Adjacent text parts arrive as one part in a non-streamed answer.
      const merged = [];
      for (const part of parts) {
        const prev = merged[merged.length - 1];
        if (part.text !== undefined && prev?.text !== undefined) prev.text += part.text;
        else merged.push({ ...part });
      }
      const candidate = { content: { parts: merged, role: 'model' }, finishReason: p.finishReason, index: 0 };
      if (merged.length === 0) delete candidate.content.parts; // a candidate cut before any part has no parts
      return sendJSON(res, record, 200, { candidates: [candidate], usageMetadata: p.usage, modelVersion, responseId });
    }
    record.status = 200;
    res.writeHead(200, {
      'content-type': 'text/event-stream', 'content-disposition': 'attachment', vary: 'Origin, X-Origin, Referer',
      'x-content-type-options': 'nosniff',
    });
    res.flushHeaders();
    const send = (obj) => {
      record.chunks++;
      res.write(`data: ${JSON.stringify(obj)}\r\n\r\n`);
    };
    // Early chunks carry the prompt count only (like the real stream); the last one the full usage.
    const early = { promptTokenCount: p.usage.promptTokenCount, totalTokenCount: p.usage.promptTokenCount, promptTokensDetails: p.usage.promptTokensDetails };
    const pieces = p.pieces.length ? p.pieces : [[]];
    pieces.forEach((parts, i) => {
      const lastChunk = i === pieces.length - 1;
      const candidate = { content: { parts, role: 'model' }, index: 0 };
      if (parts.length === 0) delete candidate.content.parts;
      if (lastChunk) candidate.finishReason = p.finishReason;
      send({ candidates: [candidate], usageMetadata: lastChunk ? p.usage : early, modelVersion, responseId });
    });
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
  return { url: `http://127.0.0.1:${port}/v1beta`, port, requests, events, close, server };
}
