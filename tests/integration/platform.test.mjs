// End-to-end: the real `pai` CLI against a real pai-server that starts and configures a real
// pai-gateway (issue 10). Calls through the gateway use the official OpenAI SDK.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';

import {
  startPlatform, pai, paiOk, loggedInHome, api, eventually, chat, tmpDir, seedsExamples,
} from './lib/platform.mjs';

const yaml = (lines) => lines.join('\n') + '\n';

function writeFile(dir, name, text) {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
}

async function gatewayToken(home, agent, ns) {
  const out = await paiOk(home, ['admin', 'gateway-token', 'create', '--agent', agent, ...(ns ? ['-n', ns] : [])]);
  const m = out.match(/pai_[0-9a-f]{12}_[A-Za-z0-9_-]+/);
  assert.ok(m, `no gateway token in: ${out}`);
  return m[0];
}

test('quick start: login with the first admin token, the demo agent answers through the gateway, metrics and audit follow', async () => {
  const p = await startPlatform();
  try {
    const st = fs.statSync(path.join(p.stateDir, 'admin-token'));
    assert.equal(st.mode & 0o777, 0o600, 'admin-token must be readable only by its owner');
    const home = tmpDir('pai-home-');
    const login = await paiOk(home, ['login', p.api, '--token', p.adminToken]);
    assert.match(login, /context admin@127\.0\.0\.1/);
    const cfg = path.join(home, '.pai', 'config.json');
    assert.equal(fs.statSync(cfg).mode & 0o777, 0o600);
    assert.ok(!JSON.stringify(fs.readdirSync(home)).includes(p.adminToken));

    const agents = JSON.parse(await paiOk(home, ['get', 'agents', '-o', 'json']));
    const demo = agents.items.find((a) => a.metadata.name === 'demo');
    assert.ok(demo, 'the embedded default has the demo agent');
    assert.equal(demo.status.ready, true, JSON.stringify(demo.status));
    const table = await paiOk(home, ['get', 'agents']);
    assert.match(table.split('\n')[0], /^NAME\s+TYPE\s+STATUS\s+MODELS\s+TOKENS\/DAY\s+URL \/ TASK\s+AGE$/);
    const mps = await paiOk(home, ['get', 'model-providers']);
    assert.match(mps, /^mock\s+mock\s+true/m);

    const token = await gatewayToken(home, 'demo');
    const client = new OpenAI({ baseURL: p.gateway, apiKey: token, maxRetries: 0 });
    const r = await eventually(async () => {
      try { return await client.chat.completions.create({ model: 'mock/gpt-4o-mini', messages: [{ role: 'user', content: 'Hello' }] }); } catch { return undefined; }
    }, 2000, 'the minted gateway token is accepted');
    const used = r.value.usage.total_tokens;
    assert.ok(used > 0);

    const metrics = await paiOk(home, ['get', 'metrics', '-o', 'json']);
    const m = JSON.parse(metrics);
    const row = m.items.find((i) => i.agent === 'demo' && i.model === 'mock/gpt-4o-mini');
    assert.equal(row.requests, 1);
    assert.equal(m.agents.find((a) => a.agent === 'demo').tokensToday, used);
    const after = JSON.parse(await paiOk(home, ['get', 'agent', 'demo', '-o', 'json']));
    assert.equal(after.status.tokensToday, used, 'TOKENS/DAY is the spend the gateway charged today');
    assert.match(await paiOk(home, ['get', 'agents']), new RegExp(`^demo\\s.*\\s${used}\\s`, 'm'));

    const audit = (await paiOk(home, ['audit', 'demo', '--format', 'json'])).trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(audit.some((rec) => rec.type === 'LLM_CALL' && rec.agent === 'demo'));
    const table2 = await paiOk(home, ['audit', 'demo']);
    assert.match(table2, /LLM_CALL/);
    const verify = await pai(home, ['audit', 'demo', '--verify']);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /intact/);
    assert.match(verify.stdout, /binding proxy/);
    // pai-server starts its gateway with an admin token (and sends it, above): the gateway's own
    // /audit and /usage are closed to callers without it, the probes stay open.
    const gwTokenFile = path.join(p.stateDir, 'gateway', 'admin-token');
    assert.equal(fs.statSync(gwTokenFile).mode & 0o777, 0o600);
    for (const route of ['/audit', '/audit/verify', '/usage']) {
      assert.equal((await fetch(`${p.gatewayAdmin}${route}`)).status, 401, route);
    }
    const gwToken = fs.readFileSync(gwTokenFile, 'utf8').trim();
    const direct = await fetch(`${p.gatewayAdmin}/audit/verify`, { headers: { authorization: `Bearer ${gwToken}` } });
    assert.equal(direct.status, 200);
    assert.equal((await fetch(`${p.gatewayAdmin}/readyz`)).status, 200);
  } finally {
    await p.stop();
  }
});

test('every YAML example of the product documents is accepted by pai apply as written', async (t) => {
  const { dir, files } = seedsExamples();
  if (files.length === 0) {
    t.skip(`no seeds examples at ${dir}`);
    return;
  }
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    for (const f of files) {
      const r = await pai(home, ['apply', '-f', f]);
      assert.equal(r.code, 0, `${path.basename(f)}: ${r.stderr}`);
      assert.match(r.stdout, /agent\/[a-z0-9-]+ (created|configured)/);
    }
    // 1_000_000-style integers arrive as numbers.
    const la = JSON.parse(await paiOk(home, ['get', 'agent', 'dev-assistant', '-n', 'team-a', '-o', 'json']));
    assert.equal(la.spec.tokens.maxPerDay, 1000000);
    assert.equal(la.spec.tokens.maxPerRequest, 16000);
    // Missing referents are a status matter: not ready, and the message names them.
    await eventually(async () => {
      const a = JSON.parse(await paiOk(home, ['get', 'agent', 'data-analyst', '-o', 'json']));
      return a.status?.observedGeneration === a.metadata.generation && a.status.ready === false &&
        /GuardBinding "prompt-guard-default"|ModelProvider "anthropic"/.test(a.status.message);
    }, 3000, 'data-analyst is not ready and says what is missing');
    // Applying the same file again is an update.
    const again = await paiOk(home, ['apply', '-f', files[0]]);
    assert.match(again, /configured/);
  } finally {
    await p.stop();
  }
});

test('invalid Agents are refused with one line naming the field, and nothing is stored', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-yaml-');
    const cases = [
      ['root.yaml', ['longRunning: true', 'harness: custom', 'image: x:1', 'runAsUser: 0'], /spec\.runAsUser/],
      ['trig.yaml', ['longRunning: true', 'harness: custom', 'image: x:1', 'triggers:', '  - schedule: "0 9 * * 1"'], /spec\.triggers/],
      ['custom.yaml', ['harness: custom'], /spec\.image/],
      ['harness.yaml', ['harness: nonsense'], /spec\.harness/],
      ['tool.yaml', ['tools:', '  - type: teleport'], /spec\.tools\[0\]\.type/],
      ['idle.yaml', ['idleTimeout: 15m', 'idleTimeoutMinutes: 30'], /spec\.idleTimeout/],
    ];
    for (const [name, spec, field] of cases) {
      const f = writeFile(dir, name, yaml(['apiVersion: pai.io/v1', 'kind: Agent', 'metadata:', `  name: bad-${name.split('.')[0]}`, 'spec:', ...spec.map((l) => `  ${l}`)]));
      const r = await pai(home, ['apply', '-f', f]);
      assert.notEqual(r.code, 0, `${name} must be refused`);
      assert.match(r.stderr, field, `${name}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
      const g = await pai(home, ['get', 'agent', `bad-${name.split('.')[0]}`]);
      assert.notEqual(g.code, 0, 'nothing stored');
    }
    // A guard override looser than the existing binding's enforcement.
    writeFile(dir, 'gb.yaml', yaml(['apiVersion: pai.io/v1', 'kind: GuardBinding', 'metadata: {name: strict}',
      'spec: {classifier: {type: builtin}, threshold: 0.8, enforcement: enforce}']));
    await paiOk(home, ['apply', '-f', path.join(dir, 'gb.yaml')]);
    const loose = writeFile(dir, 'loose.yaml', yaml(['apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: loose}',
      'spec:', '  models: [mock/gpt-4o-mini]', '  guards:', '    - binding: strict', '      enforcement: audit']));
    const r = await pai(home, ['apply', '-f', loose]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /spec\.guards\[0\]\.enforcement/);
  } finally {
    await p.stop();
  }
});

test('tokens.maxPerDay applied with pai apply is enforced by the gateway within a second', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-yaml-');
    const agent = (limit) => writeFile(dir, 'coder.yaml', yaml(['apiVersion: pai.io/v1', 'kind: Agent',
      'metadata: {name: coder, namespace: team-a}', 'spec:', '  models: [mock/gpt-4o-mini]',
      ...(limit ? ['  tokens:', `    maxPerDay: ${limit}`] : [])]));
    await paiOk(home, ['create', 'model-provider', 'mock', '--provider', 'mock', '--api-key', 'unused', '-n', 'team-a']);
    await paiOk(home, ['apply', '-f', agent(0)]);
    const token = await gatewayToken(home, 'coder', 'team-a');
    const first = await eventually(async () => (await chat(p, token)).status === 200 || undefined, 2000, 'the agent is served');
    assert.ok(first.value);
    const t0 = performance.now();
    await paiOk(home, ['apply', '-f', agent(10)]);  // already spent more than 10 today
    const refused = await eventually(async () => {
      const r = await chat(p, token);
      return r.status === 429 ? r : undefined;
    }, 1000, 'a call is refused with 429 after the budget was applied');
    assert.equal(refused.value.json.error.code, 'insufficient_quota');
    assert.ok(performance.now() - t0 < 1500, `refused ${Math.round(performance.now() - t0)} ms after apply`);
  } finally {
    await p.stop();
  }
});

test('a deleted ModelProvider is no longer served, a deleted Agent loses its gateway identity', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    await paiOk(home, ['create', 'model-provider', 'extra', '--provider', 'mock', '--api-key', 'k', '--max-tokens-day', '1000000']);
    const dir = tmpDir('pai-yaml-');
    const f = writeFile(dir, 'a.yaml', yaml(['apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: two}',
      'spec:', '  models: [extra/gpt-4o-mini, mock/gpt-4o-mini]']));
    await paiOk(home, ['apply', '-f', f]);
    const token = await gatewayToken(home, 'two');
    await eventually(async () => (await chat(p, token, 'extra/gpt-4o-mini')).status === 200, 2000, 'extra/ is served');
    await paiOk(home, ['delete', 'model-provider', 'extra']);
    const gone = await eventually(async () => {
      const r = await chat(p, token, 'extra/gpt-4o-mini');
      return r.status === 404 ? r : undefined;
    }, 1000, 'extra/ is refused after the delete');
    assert.equal(gone.value.json.error.code, 'model_not_found');
    const key = await pai(home, ['get', 'secret', 'extra-api-key']);
    assert.notEqual(key.code, 0, 'the provider\'s key Secret is deleted with it (ownerReferences)');
    assert.equal((await chat(p, token, 'mock/gpt-4o-mini')).status, 200, 'the other model still works');
    // The secret created with the provider keeps its value out of every response.
    const secrets = await paiOk(home, ['get', 'secrets', '-o', 'json']);
    assert.ok(!secrets.includes('"k"') && !secrets.includes('ay'), 'no secret values');
    await paiOk(home, ['delete', 'agent', 'two']);
    await eventually(async () => (await chat(p, token)).status === 401, 1000, 'the deleted agent\'s token is refused');
  } finally {
    await p.stop();
  }
});

test('access tokens: a namespace-scoped token sees only its namespace, cannot mint tokens, and is refused once revoked', async () => {
  const p = await startPlatform();
  try {
    const admin = await loggedInHome(p);
    const out = await paiOk(admin, ['admin', 'token', 'create', '--namespace', 'team-a', '--description', 'team a CI']);
    const tok = out.match(/pai_at_[0-9a-f]{12}_[A-Za-z0-9_-]+/)[0];
    const name = out.match(/tok-[0-9a-f]{12}/)[0];
    const list = await paiOk(admin, ['admin', 'token', 'list']);
    assert.match(list, new RegExp(`${name}\\s+team-a`));
    assert.ok(!list.includes(tok), 'tokens are shown once');

    const team = tmpDir('pai-home-');
    const login = await paiOk(team, ['login', p.api, '--token', tok]);
    assert.match(login, /team-a@127\.0\.0\.1/);
    await paiOk(team, ['create', 'secret', 'gh', '--from-literal', 'token=s3cr3t-value']);
    const sec = await paiOk(team, ['get', 'secret', 'gh', '-o', 'json']);
    assert.deepEqual(JSON.parse(sec).keys, ['token']);
    assert.ok(!sec.includes('s3cr3t-value'));
    assert.ok(!(await paiOk(team, ['get', 'secrets'])).includes('s3cr3t-value'));

    for (const args of [['get', 'agents', '-n', 'default'], ['get', 'agents', '-A'],
      ['admin', 'token', 'list'], ['admin', 'token', 'create', '--namespace', 'team-a'],
      ['delete', 'agent', 'demo', '-n', 'default'], ['audit', 'demo', '-n', 'default']]) {
      const r = await pai(team, args);
      assert.notEqual(r.code, 0, `pai ${args.join(' ')} must be refused`);
      assert.match(r.stderr, /scoped|admin|forbidden|namespace/i, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    await paiOk(admin, ['admin', 'token', 'revoke', name]);
    const r = await pai(team, ['get', 'agents']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /revoked|invalid/);
  } finally {
    await p.stop();
  }
});

test('the gateway keeps serving its last configuration while pai-server is down, and a restarted server adopts it', async () => {
  const p = await startPlatform();
  const home = await loggedInHome(p);
  const token = await gatewayToken(home, 'demo');
  await eventually(async () => (await chat(p, token)).status === 200, 2000, 'served');
  await p.kill();  // SIGKILL: no clean shutdown
  assert.equal((await chat(p, token)).status, 200, 'the gateway still answers');
  const q = await startPlatform({ stateDir: p.stateDir });
  try {
    assert.equal(q.gateway, p.gateway, 'the running gateway was adopted, not replaced');
    const r = await pai(home, ['get', 'agents'], { env: {} });
    assert.notEqual(r.code, 0, 'the old API address is gone');
    assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
  } finally {
    await q.stop();
  }
  const after = await chat(p, token).catch(() => ({ status: 0 }));
  assert.equal(after.status, 0, 'a clean stop of the server stops its gateway');
});

test('legacy AgentWorkload: stored as written, migrate-agents rewrites it once (dry run first)', async (t) => {
  const { dir, files } = seedsExamples();
  const minimal = files.find((f) => f.endsWith('agentworkload-minimal.yaml'));
  if (!minimal) {
    t.skip(`no seeds examples at ${dir}`);
    return;
  }
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    await paiOk(home, ['create', 'model-provider', 'google', '--provider', 'gemini', '--api-key', 'AIza-test']);
    await paiOk(home, ['apply', '-f', minimal]);
    const dry = await paiOk(home, ['migrate-agents', '--dry-run']);
    assert.match(dry, /my-agent/);
    assert.match(dry, /dry run/);
    const before = JSON.parse(await paiOk(home, ['get', 'agent', 'my-agent', '-o', 'json']));
    assert.deepEqual(before.spec.modelBindings, ['gemini-flash']);
    await paiOk(home, ['migrate-agents']);
    const after = JSON.parse(await paiOk(home, ['get', 'agent', 'my-agent', '-o', 'json']));
    assert.equal(after.spec.modelBindings, undefined);
    assert.deepEqual(after.spec.models, ['google/gemini-2.5-flash']);
    assert.equal(after.spec.longRunning, true);
    assert.equal(after.spec.harness, 'custom');
    assert.match(await paiOk(home, ['migrate-agents']), /no legacy Agents/);
  } finally {
    await p.stop();
  }
});

test('pai reports an unreachable server with its URL, one line, non-zero', async () => {
  const home = tmpDir('pai-home-');
  const r = await pai(home, ['login', 'http://127.0.0.1:9', '--token', 'pai_at_000000000000_x']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:9/);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  const n = await pai(home, ['get', 'agents']);
  assert.notEqual(n.code, 0);
  assert.match(n.stderr, /not logged in/);
});

test('the API answers a scoped token 403 on other namespaces and validation errors 422 with the field path', async () => {
  const p = await startPlatform();
  try {
    const t = await api(p, 'POST', '/apis/pai.io/v1/paiaccesstokens', { body: { spec: { targetNamespace: 'a' } } });
    assert.equal(t.status, 201);
    const scoped = t.json.token;
    for (const [m, route] of [['GET', '/apis/pai.io/v1/namespaces/b/agents'], ['POST', '/apis/pai.io/v1/namespaces/b/secrets'],
      ['GET', '/apis/pai.io/v1/namespaces'], ['GET', '/apis/pai.io/v1/agents'], ['GET', '/apis/pai.io/v1/paiaccesstokens'],
      ['DELETE', '/apis/pai.io/v1/namespaces/default/agents/demo']]) {
      const r = await api(p, m, route, { token: scoped, body: m === 'POST' ? { metadata: { name: 'x' } } : undefined });
      assert.equal(r.status, 403, `${m} ${route}: ${r.text}`);
      assert.equal(r.json.error.code, 'forbidden');
    }
    const bad = await api(p, 'POST', '/apis/pai.io/v1/namespaces/a/agents', {
      token: scoped, body: { apiVersion: 'pai.io/v1', kind: 'Agent', metadata: { name: 'x' }, spec: { longRunning: true, harness: 'custom', image: 'i', runAsUser: 0 } },
    });
    assert.equal(bad.status, 422);
    assert.equal(bad.json.error.field, 'spec.runAsUser');
    const ok = await api(p, 'POST', '/apis/pai.io/v1/namespaces/a/agents', {
      token: scoped, body: { apiVersion: 'pai.io/v1', kind: 'Agent', metadata: { name: 'x' }, spec: { models: ['mock/gpt-4o-mini'] } },
    });
    assert.equal(ok.status, 201);
    const rv = ok.json.metadata.resourceVersion;
    // Unconditional (no resourceVersion): the controller's status write may already have moved it.
    const { resourceVersion: _rv, ...meta } = ok.json.metadata;
    const upd = await api(p, 'PUT', '/apis/pai.io/v1/namespaces/a/agents/x', {
      token: scoped, body: { ...ok.json, metadata: meta, spec: { models: ['mock/gpt-4o'] } },
    });
    assert.equal(upd.status, 200);
    assert.equal(upd.json.metadata.generation, 2);
    const stale = await api(p, 'PUT', '/apis/pai.io/v1/namespaces/a/agents/x', {
      token: scoped, body: { ...ok.json, metadata: { ...ok.json.metadata, resourceVersion: rv }, spec: { models: ['mock/x'] } },
    });
    assert.equal(stale.status, 409);
    assert.equal(stale.json.error.code, 'conflict');
    assert.equal((await api(p, 'GET', '/apis/pai.io/v1/whoami', { token: 'pai_at_000000000000_nope' })).status, 401);
  } finally {
    await p.stop();
  }
});

test('pai create model-provider --max-tokens-day is enforced by the gateway', async () => {
  const p = await startPlatform();
  try {
    const home = await loggedInHome(p);
    await paiOk(home, ['create', 'model-provider', 'capped', '--provider', 'mock', '--api-key', 'k', '--max-tokens-day', '5']);
    const dir = tmpDir('pai-yaml-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', yaml(['apiVersion: pai.io/v1', 'kind: Agent',
      'metadata: {name: thrifty}', 'spec:', '  models: [capped/gpt-4o-mini]']))]);
    const mp = JSON.parse(await paiOk(home, ['get', 'model-provider', 'capped', '-o', 'json']));
    assert.equal(mp.spec.maxTokensDay, 5);
    const token = await gatewayToken(home, 'thrifty');
    const r = await eventually(async () => {
      const c = await chat(p, token, 'capped/gpt-4o-mini');
      return c.status === 429 ? c : undefined;
    }, 2000, 'the capped provider refuses a call that cannot fit its daily cap');
    assert.match(r.value.json.error.message, /capped|provider/i);
    // The creator of every resource is recorded (Sessions started by triggers take its env).
    const a = JSON.parse(await paiOk(home, ['get', 'agent', 'thrifty', '-o', 'json']));
    assert.match(a.metadata.annotations['pai.io/created-by'], /^tok-[0-9a-f]{12}$/);
  } finally {
    await p.stop();
  }
});

test('HTTPS: pai-server serves TLS, pai verifies it against PAI_CA_FILE and refuses an unknown CA', async () => {
  const dir = tmpDir('pai-tls-');
  const { execFileSync } = await import('node:child_process');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'),
    '-out', path.join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
  const p = await startPlatform({ extraArgs: ['--tls-cert', path.join(dir, 'cert.pem'), '--tls-key', path.join(dir, 'key.pem')] });
  try {
    assert.match(p.api, /^https:\/\/127\.0\.0\.1:\d+$/);
    const home = tmpDir('pai-home-');
    const untrusted = await pai(home, ['login', p.api, '--token', p.adminToken]);
    assert.notEqual(untrusted.code, 0, 'a certificate from an unknown CA is refused');
    assert.equal(untrusted.stderr.trim().split('\n').length, 1);
    const env = { PAI_CA_FILE: path.join(dir, 'cert.pem') };
    await paiOk(home, ['login', p.api, '--token', p.adminToken], { env });
    const agents = JSON.parse(await paiOk(home, ['get', 'agents', '-o', 'json'], { env }));
    assert.ok(agents.items.some((a) => a.metadata.name === 'demo'));
  } finally {
    await p.stop();
  }
});

test('pai login: a raw IP gets http://, the token is read from stdin when omitted', async () => {
  const p = await startPlatform();
  try {
    const home = tmpDir('pai-home-');
    const hostPort = p.api.replace(/^http:\/\//, '');
    const out = await paiOk(home, ['login', hostPort, '--context', 'local'], { input: `${p.adminToken}\n` });
    assert.match(out, /context local/);
    const cfg = JSON.parse(fs.readFileSync(path.join(home, '.pai', 'config.json'), 'utf8'));
    assert.equal(cfg.currentContext, 'local');
    assert.equal(cfg.contexts.local.server, p.api);
    assert.match(await paiOk(home, ['context', 'list']), /^local \(active\)$/m);
    await paiOk(home, ['logout']);
    const r = await pai(home, ['get', 'agents']);
    assert.notEqual(r.code, 0);
  } finally {
    await p.stop();
  }
});

test('PaiFile versions: each content change is a new version, older ones stay readable, a pinned missing version is a status matter', async () => {
  const p = await startPlatform();
  try {
    const put = (text) => api(p, 'PUT', '/apis/pai.io/v1/namespaces/default/paifiles/customers', {
      body: { apiVersion: 'pai.io/v1', kind: 'PaiFile', metadata: { name: 'customers' }, spec: { data: Buffer.from(text).toString('base64') } },
    });
    assert.equal((await put('id,name\n1,a\n')).status, 201);
    assert.equal((await put('id,name\n1,a\n2,b\n')).status, 200);
    const v1 = await api(p, 'GET', '/apis/pai.io/v1/namespaces/default/paifiles/customers?version=1');
    assert.equal(Buffer.from(v1.json.spec.data, 'base64').toString(), 'id,name\n1,a\n');
    assert.equal((await api(p, 'GET', '/apis/pai.io/v1/namespaces/default/paifiles/customers?version=3')).status, 404);
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-yaml-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', yaml(['apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: reader}',
      'spec:', '  models: [mock/gpt-4o-mini]', '  files:', '    - {name: customers, mountPath: /data/c.csv, version: 7}']))]);
    const a = await eventually(async () => {
      const f = JSON.parse(await paiOk(home, ['get', 'paifile', 'customers', '-o', 'json']));
      const ag = JSON.parse(await paiOk(home, ['get', 'agent', 'reader', '-o', 'json']));
      return f.status?.currentVersion === 2 && ag.status?.ready === false ? ag : undefined;
    }, 3000, 'the controller reports versions and the missing pin');
    assert.match(a.value.status.message, /PaiFile "customers" has no version 7/);
  } finally {
    await p.stop();
  }
});

test('a gateway token is accepted on its first call, before the gateway polls its token file', async () => {
  // The gateway polls its files once a minute here: only the look at the token file that an
  // unknown token triggers can make the first call succeed.
  const p = await startPlatform({ extraArgs: ['--gateway-watch-interval-ms', '60000'] });
  try {
    const home = await loggedInHome(p);
    for (let i = 0; i < 3; ++i) {
      const token = await gatewayToken(home, 'demo');
      const r = await chat(p, token);
      assert.equal(r.status, 200, `call ${i + 1} right after the token was minted: ${r.status} ${JSON.stringify(r.json)}`);
    }
    const r = await chat(p, 'pai_000000000000_not-a-token-at-all-0000000000000000000000');
    assert.equal(r.status, 401, 'an unknown token is still refused');
  } finally {
    await p.stop();
  }
});
