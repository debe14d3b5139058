// Generates tests/tokenizer/vectors.json: token ids / counts from the `tiktoken` npm package
// (dqbd/tiktoken, MIT: OpenAI's Rust tiktoken compiled to WASM), the reference our C++
// tokenizer is checked against. Not run by the test suite (it needs that package):
//   cd /tmp && npm install tiktoken@1.0.22 && \
//   NODE_PATH=/tmp/node_modules node tests/tokenizer/gen_vectors.mjs > tests/tokenizer/vectors.json
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const require = createRequire(process.env.NODE_PATH + '/');
const { get_encoding } = require('tiktoken');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

const cases = [
  '', 'hello world', 'Hello, World!', "I'M here, you're THERE, they'LL go; we'd", "DON'T",
  '  leading and trailing  ', 'tabs\tand\nnewlines\r\n\r\nend\n', '\n\n\n', '   \n  x',
  '1234567890 3.14159 -42 1e10', 'x = y**2 + z; // comment', 'def f(a, b):\n    return a+b\n',
  '<|endoftext|> is ordinary text here <|fim_prefix|><|endofprompt|>',
  'naïve café résumé façade', 'Straße ĳ ŉ ǅ', 'Ελληνικά και русский текст', '日本語のテキストと中文文本',
  '한국어 텍스트', 'emoji 😀👍🏽🇫🇷 and ZWJ 👩‍💻', 'arabic العربية hebrew עברית', 'हिन्दी देवनागरी',
  'nbsp\u00a0here and nel\u0085there and zwsp\u200bthere', 'ideographic\u3000space', 'em\u2003space',
  'CamelCaseIdentifiersLikeHTTPServerAndXMLParser', 'snake_case_identifier_with_numbers_123',
  'https://example.com/path/to/resource?query=1&b=2#frag', 'a/b/c//d///e\n/x/\n',
  '{"key": "value", "list": [1, 2, 3], "nested": {"x": null}}',
  '!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!',
  '='.repeat(300), ' '.repeat(250) + 'x', '-_'.repeat(120), 'ab'.repeat(200),
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
  'QWxhZGRpbjpvcGVuIHNlc2FtZQ==QWxhZGRpbjpvcGVuIHNlc2FtZQ==QWxhZGRpbjpvcGVuIHNlc2FtZQ==QWxhZGRpbjpvcGVuIHNlc2FtZQ==',
  '\u017fs \u212a K combining e\u0301 a\u0308', "it's 'quoted' 's 'S 'ſ", 'x\r\ny\rz\n\r', '  \t  \n',
];

// Random strings from a mix of alphabets (deterministic PRNG), to exercise the regex classes.
let seed = 12345;
const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const alphabet = [...'aZ9 _-.,;:!?\'"()[]{}<>/\\|@#$%^&*+=~`\t\n\r', 'é', 'ß', 'Ж', 'ж', 'Σ', 'σ',
  'ǅ', 'ʰ', '\u0301', '日', '本', '한', '😀', '\u00a0', '\u0085', '\u2028', '\u3000', '٣', '½', 'Ⅻ',
  '\u200b', '\ufeff', 'ſ', 'İ', 'K'];
for (let i = 0; i < 300; ++i) {
  let s = '';
  const len = 1 + rand(60);
  for (let j = 0; j < len; ++j) s += alphabet[rand(alphabet.length)];
  cases.push(s);
}

const files = ['bench/fixtures/source_40k.cc',
  'bench/fixtures/agent_request_100k.json'];
// The fixture requests (bench/fixtures) and what OpenAI bills for them by the cookbook's
// formulas ("How to count tokens with tiktoken": num_tokens_from_messages, 3 per message + 1
// per name + 3 for the reply, and num_tokens_for_tools for gpt-4o and later); tool calls are
// counted as the tokens of their function name and arguments.
const source = readFileSync(path.join(root, 'bench/fixtures/source_40k.cc'), 'utf8');
export const SOURCE_PROMPT = 'Review this file and list its bugs.\n\n';
const requests = {
  source_40k: { model: 'gpt-4o-mini', max_tokens: 1024,
    messages: [{ role: 'user', content: SOURCE_PROMPT + source }] },
  agent_request_100k: JSON.parse(readFileSync(path.join(root, 'bench/fixtures/agent_request_100k.json'), 'utf8')),
};
function cookbook(enc, req) {
  const n = (s) => enc.encode_ordinary(s).length;
  let total = 3;
  for (const m of req.messages) {
    total += 3;
    for (const [k, v] of Object.entries(m)) {
      if (typeof v === 'string') total += n(v);
      if (k === 'name') total += 1;
      if (k === 'tool_calls') for (const c of v) total += n(c.function.name) + n(c.function.arguments);
    }
  }
  if (req.tools?.length) {
    for (const t of req.tools) {
      const f = t.function;
      total += 7 + n(`${f.name}:${f.description.replace(/\.$/, '')}`);
      const props = Object.entries(f.parameters?.properties ?? {});
      if (props.length) total += 3;
      for (const [key, p] of props) {
        total += 3;
        if (p.enum) { total -= 3; for (const item of p.enum) total += 3 + n(item); }
        total += n(`${key}:${p.type}:${(p.description ?? '').replace(/\.$/, '')}`);
      }
    }
    total += 12;
  }
  return total;
}

const out = { generator: 'tiktoken npm 1.0.22 (encode_ordinary)', encodings: {} };
for (const name of ['o200k_base', 'cl100k_base']) {
  const enc = get_encoding(name);
  const strings = cases.map((s) => ({ text: s, ids: Array.from(enc.encode_ordinary(s)) }));
  const counts = {};
  for (const f of files) {
    try { counts[f] = enc.encode_ordinary(readFileSync(path.join(root, f), 'utf8')).length; } catch {}
  }
  const cookbookCounts = Object.fromEntries(Object.entries(requests).map(([k, r]) => [k, cookbook(enc, r)]));
  out.encodings[name] = { strings, files: counts, cookbook: cookbookCounts };
  enc.free();
}
process.stdout.write(JSON.stringify(out) + '\n');
