// pai-server's Kubernetes runtime (`--runtime kubernetes`, src/kube/runtime.h) end to end: the
// real pai-server and pai against lib/kube-apiserver.mjs, a stand-in for the API server that
// speaks its wire format (no kube-apiserver runs on this machine class): an Agent becomes a
// Deployment and its objects, validated against the Kubernetes schemas, owned by the identity
// Secret so that one delete cascades; secrets never appear in a pod spec; status comes from the
// cluster; a Session becomes a Job whose end (success or failure) ends the Session, with its
// events and its pod's log kept; a schedule's runs are Jobs that never overlap; every request
// pai-server made is allowed by `pai-server rbac` (the helm chart's ClusterRole), and every rule
// there was used.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import YAML from 'yaml';

import { startPlatform, pai, paiOk, loggedInHome, api, eventually, tmpDir, serverBin } from './lib/platform.mjs';
import { startKubeApiServer } from './lib/kube-apiserver.mjs';
import { startGateway } from './lib/gateway.mjs';

const NS = '/apis/pai.io/v1/namespaces';
const TOKEN = 'kube-sa-token-7f3c';

function writeFile(dir, name, lines) {
  const f = path.join(dir, name);
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

async function startKubePlatform(extraArgs = []) {
  const kube = await startKubeApiServer({ token: TOKEN });
  const dir = tmpDir('pai-kube-');
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`);
  const p = await startPlatform({
    extraArgs: ['--runtime', 'kubernetes', '--kube-api', kube.url, '--kube-token-file', tokenFile,
      '--kube-gateway-url', 'http://pai-gateway.pai:4000', '--kube-image', 'registry.example/pai:1',
      '--kube-poll-interval-ms', '100', ...extraArgs],
  });
  return { p, kube, async stop() { await p.stop(); await kube.close(); } };
}

async function resource(p, ns, plural, name) {
  const r = await api(p, 'GET', `${NS}/${ns}/${plural}/${name}`);
  return r.status === 200 ? r.json : undefined;
}

/** GET, change the spec, PUT (the API's update). */
async function updateSpec(p, ns, plural, name, change) {
  const obj = await resource(p, ns, plural, name);
  change(obj.spec);
  const r = await api(p, 'PUT', `${NS}/${ns}/${plural}/${name}`, { body: { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name, namespace: ns }, spec: obj.spec } });
  assert.equal(r.status, 200, r.text);
}

/** Every request is allowed by `pai-server rbac`; returns the rules that were used. */
function checkRbac(requests) {
  const role = YAML.parse(execFileSync(serverBin(), ['rbac'], { encoding: 'utf8' }));
  assert.equal(role.kind, 'ClusterRole');
  const used = new Set();
  for (const r of requests) {
    const i = role.rules.findIndex((rule) => rule.apiGroups.includes(r.group)
      && rule.resources.includes(r.resource) && rule.verbs.includes(r.verb));
    assert.ok(i >= 0, `${r.verb} ${r.group}/${r.resource} (${r.path}) is not in pai-server rbac`);
    used.add(`${r.group}/${r.resource}/${r.verb}`);
  }
  return { role, used };
}

test('kubernetes runtime: an Agent becomes valid, owned objects; status from its Deployment; delete cascades; secrets stay out of pod specs', async () => {
  const { p, kube, stop } = await startKubePlatform();
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-kube-agent-');
    await paiOk(home, ['create', 'secret', 'creds', '--namespace', 'team-k', '--from-literal', 'api-key=s3cr3t-kube-value']);
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', [
      'apiVersion: pai.io/v1', 'kind: ModelProvider', 'metadata: {name: mock, namespace: team-k}', 'spec: {provider: mock}', '---',
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: worker, namespace: team-k}',
      'spec:', '  longRunning: true', '  harness: custom', '  image: registry.example/worker:2',
      '  replicas: 2', '  runAsUser: 1000', '  models: [mock/gpt-4o-mini]',
      '  inbound: {port: 8080, allowCIDRs: ["10.0.0.0/8"]}',
      '  volumes: [{name: data, mountPath: /data, size: 2Gi}]',
      '  configFiles: [{path: /data/app.json, content: "{\\"a\\": 1}"}]',
      '  env:', '  - {name: LOG_LEVEL, value: debug}', '  - {name: API_KEY, secretRef: {name: creds, key: api-key}}',
      '  resources: {requests: {cpu: 250m, memory: 256Mi}, limits: {cpu: "1", memory: 1Gi}}'])]);

    // The NetworkPolicy is applied last.
    await eventually(async () => kube.get('networking.k8s.io/v1', 'NetworkPolicy', 'team-k', 'agent-worker'), 20000, 'NetworkPolicy');
    const dep = kube.get('apps/v1', 'Deployment', 'team-k', 'agent-worker');
    const secret = kube.get('v1', 'Secret', 'team-k', 'agent-worker-identity');
    assert.ok(kube.get('v1', 'Namespace', null, 'team-k'), 'the namespace was created');
    assert.equal(dep.spec.replicas, 2);
    for (const kind of [['v1', 'Service'], ['v1', 'ConfigMap', 'agent-worker-files'], ['v1', 'PersistentVolumeClaim', 'agent-worker-data'], ['networking.k8s.io/v1', 'NetworkPolicy']]) {
      const o = kube.get(kind[0], kind[1], 'team-k', kind[2] ?? 'agent-worker');
      assert.ok(o, `${kind[1]} rendered`);
      assert.deepEqual(o.metadata.ownerReferences.map((r) => [r.kind, r.name, r.uid]),
        [['Secret', 'agent-worker-identity', secret.metadata.uid]], `${kind[1]} owned by the identity Secret`);
    }
    assert.equal(secret.metadata.ownerReferences, undefined);
    // Secret values: in the identity Secret, referenced by the pod; never in any pod spec.
    assert.equal(Buffer.from(secret.data['env.API_KEY'], 'base64').toString(), 's3cr3t-kube-value');
    const env = Object.fromEntries(dep.spec.template.spec.containers[0].env.map((e) => [e.name, e]));
    assert.deepEqual(env.API_KEY.valueFrom.secretKeyRef, { name: 'agent-worker-identity', key: 'env.API_KEY' });
    assert.deepEqual(env.OPENAI_API_KEY.valueFrom.secretKeyRef, { name: 'agent-worker-identity', key: 'token' });
    // A new identity reaches gateway replicas with the kubelet's Secret refresh: pai-harness
    // retries a 401 that long.
    assert.equal(env.PAI_AUTH_GRACE_MS.value, '180000');
    for (const o of kube.objects.values()) {
      if (o.kind !== 'Secret') assert.ok(!JSON.stringify(o).includes('s3cr3t-kube-value'), `${o.kind} holds the secret`);
    }

    // Status: Creating until the cluster reports ready replicas, then Running with readyReplicas.
    const agentPath = ['team-k', 'agents', 'worker'];
    await eventually(async () => (await resource(p, ...agentPath))?.status?.phase === 'Creating' || undefined, 20000, 'Creating');
    kube.addPod('team-k', 'agent-worker-abc', dep.spec.template.metadata.labels,
      { phase: 'Pending', containerStatuses: [{ name: 'agent', state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.example/worker:2"' } } }] },
      dep.metadata.uid);
    await eventually(async () => {
      const a = await resource(p, ...agentPath);
      return /ImagePullBackOff/.test(a?.status?.message ?? '') || undefined;
    }, 20000, 'the pod\'s problem in status.message');
    kube.setStatus('apps/v1', 'Deployment', 'team-k', 'agent-worker', { replicas: 2, readyReplicas: 2 });
    const running = (await eventually(async () => {
      const a = await resource(p, ...agentPath);
      return a?.status?.phase === 'Running' ? a : undefined;
    }, 20000, 'Running')).value;
    assert.equal(running.status.readyReplicas, 2);
    const table = await paiOk(home, ['get', 'agents', '-n', 'team-k']);
    assert.match(table, /worker\s.*Running/);

    // A changed spec is applied again (the Deployment rolls); an unchanged one is not.
    const patches = () => kube.requests.filter((r) => r.verb === 'patch' && r.resource === 'deployments').length;
    const before = patches();
    await updateSpec(p, 'team-k', 'agents', 'worker', (spec) => { spec.replicas = 3; });
    await eventually(async () => kube.get('apps/v1', 'Deployment', 'team-k', 'agent-worker').spec.replicas === 3 || undefined, 20000, 'replicas 3');
    const after = patches();
    assert.equal(after, before + 1);

    // Delete: the Deployment goes; the identity Secret too (Purge), and with it, by garbage
    // collection, the PersistentVolumeClaim.
    await paiOk(home, ['delete', 'agent', 'worker', '-n', 'team-k']);
    await eventually(async () => kube.list('Secret').length === 0 || undefined, 20000, 'identity Secret deleted');
    for (const kind of ['Deployment', 'Service', 'ConfigMap', 'NetworkPolicy', 'PersistentVolumeClaim', 'Pod']) {
      assert.deepEqual(kube.list(kind).map((o) => o.metadata.name), [], `${kind} left behind`);
    }
  } finally {
    await stop();
  }
});

test('kubernetes runtime: a Session is a Job; its events arrive live from the pod\'s log; the Job\'s end ends it, its log kept; a refused Job is an Error', async () => {
  const { p, kube, stop } = await startKubePlatform();
  try {
    const home = await loggedInHome(p);
    // pai run streams the Session's events until it ends: here, until the Job ends.
    const run = pai(home, ['run', 'box', '--agent', 'demo'], { timeoutMs: 60000 });
    const job = (await eventually(async () => kube.get('batch/v1', 'Job', 'default', 'session-box'), 20000, 'Job')).value;
    assert.equal(job.spec.backoffLimit, 0);
    assert.equal(job.spec.template.spec.containers[0].image, 'registry.example/pai:1');
    kube.addPod('default', 'session-box-x1', job.spec.template.metadata.labels, { phase: 'Running' }, job.metadata.uid);
    kube.setStatus('batch/v1', 'Job', 'default', 'session-box', { active: 1, startTime: '2026-12-06T07:00:00Z' });
    await eventually(async () => (await resource(p, 'default', 'sessions', 'box'))?.status?.phase === 'Running' || undefined, 20000, 'Running');
    // Exec is not built on this runtime: a clear refusal, at once.
    const ex = await pai(home, ['exec', 'box', '--', 'true'], { timeoutMs: 10000 });
    assert.equal(ex.code, 1, ex.stderr);
    assert.match(ex.stderr, /exec is not built on the Kubernetes runtime yet/);
    // pai-harness in a pod writes its events to stdout (--events-fd 1), among its log lines;
    // pai-server follows the running pod's log, so each event reaches the Session as it is
    // written, not when the Job ends.
    kube.appendLog('default', 'session-box-x1', 'harness: turn 1 done\n'
      + '{"type":"agent.message","content":[{"type":"text","text":"All done."}]}\n');
    await eventually(async () => (await api(p, 'GET', `${NS}/default/sessions/box/events`)).json.items.some((e) => e.type === 'agent.message') || undefined, 20000, 'the event, live');
    assert.equal((await resource(p, 'default', 'sessions', 'box')).status.phase, 'Running');
    kube.appendLog('default', 'session-box-x1', 'harness: exiting\n');
    kube.endLog('default', 'session-box-x1');
    kube.setStatus('batch/v1', 'Job', 'default', 'session-box', { succeeded: 1, startTime: '2026-12-06T07:00:00Z', completionTime: '2026-12-06T07:01:00Z' });
    const done = (await eventually(async () => {
      const s = await resource(p, 'default', 'sessions', 'box');
      return s?.status?.phase === 'Complete' ? s : undefined;
    }, 20000, 'Complete')).value;
    assert.equal(done.status.completedAt, '2026-12-06T07:01:00Z');
    assert.equal(done.status.jobName, 'session-box');
    const ran = await run;
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /All done\./);
    const ev = await api(p, 'GET', `${NS}/default/sessions/box/events`);
    const types = ev.json.items.map((e) => e.type);
    assert.deepEqual(types.filter((t) => t !== 'user.message'), ['session.status_running', 'agent.message', 'session.status_terminated']);
    // The finished Job is deleted (its log kept by pai-server first).
    await eventually(async () => !kube.get('batch/v1', 'Job', 'default', 'session-box') || undefined, 20000, 'Job deleted');
    const logs = await paiOk(home, ['logs', 'box', '--no-follow']);
    assert.match(logs, /harness: turn 1 done/);
    assert.doesNotMatch(logs, /"type":"agent.message"/);

    // A Job whose pod fails: Error, with the cluster's reason.
    const crash = pai(home, ['run', 'crash', '--agent', 'demo'], { timeoutMs: 60000 });
    await eventually(async () => kube.get('batch/v1', 'Job', 'default', 'session-crash'), 20000, 'Job');
    kube.setStatus('batch/v1', 'Job', 'default', 'session-crash', { failed: 1, conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit', lastTransitionTime: '2026-12-06T07:02:00Z' }] });
    const failed = (await eventually(async () => {
      const s = await resource(p, 'default', 'sessions', 'crash');
      return s?.status?.phase === 'Error' ? s : undefined;
    }, 20000, 'Error')).value;
    assert.match(failed.status.message, /backoff limit/);
    const crashed = await crash;
    assert.notEqual(crashed.code, 0);
    assert.match(crashed.stderr + crashed.stdout, /backoff limit/);

    // A finished Session: exec is refused at once (the CLI used to wait 30 s for the WebSocket
    // handshake timer after a refused upgrade).
    const late = await pai(home, ['exec', 'box', '--', 'true'], { timeoutMs: 10000 });
    assert.equal(late.code, 1, late.stderr);
    assert.match(late.stderr, /is not running/);
  } finally {
    await stop();
  }
});

test('kubernetes runtime: an apply the API server refuses puts the Agent in Failed with its message; an unauthorised runtime leaves workloads Pending and creates nothing', async () => {
  const { p, kube, stop } = await startKubePlatform();
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-kube-bad-');
    kube.admission.deny = (o) => (o.kind === 'Deployment' && o.metadata.name === 'agent-latest'
      ? 'images must not use the tag "latest"' : undefined);
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', [
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: latest}',
      'spec:', '  longRunning: true', '  harness: custom', '  image: x:latest', '  models: [mock/gpt-4o-mini]'])]);
    const a = (await eventually(async () => {
      const r = await resource(p, 'default', 'agents', 'latest');
      return r?.status?.phase === 'Failed' ? r : undefined;
    }, 20000, 'Failed')).value;
    assert.match(a.status.message, /Deployment agent-latest: admission webhook .* denied the request: images must not use the tag "latest"/);
    // Fixed: applied again, and it leaves Failed.
    kube.admission.deny = () => undefined;
    await updateSpec(p, 'default', 'agents', 'latest', (spec) => { spec.image = 'x:1.2'; });
    await eventually(async () => kube.get('apps/v1', 'Deployment', 'default', 'agent-latest'), 20000, 'Deployment after the fix');
    await eventually(async () => (await resource(p, 'default', 'agents', 'latest'))?.status?.phase === 'Creating' || undefined, 20000, 'Creating');
  } finally {
    await stop();
  }
  // A wrong token: every call is 401; a Session stays Pending with the API server's answer.
  const kube2 = await startKubeApiServer({ token: 'another-token' });
  const dir = tmpDir('pai-kube-401-');
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, 'wrong\n');
  const p2 = await startPlatform({
    extraArgs: ['--runtime', 'kubernetes', '--kube-api', kube2.url, '--kube-token-file', tokenFile,
      '--kube-gateway-url', 'http://pai-gateway.pai:4000', '--kube-poll-interval-ms', '100'],
  });
  try {
    const home = await loggedInHome(p2);
    const created = await api(p2, 'POST', `${NS}/default/agents/demo/sessions`, { body: { metadata: { name: 'nope' }, spec: {} } });
    assert.equal(created.status, 201, created.text);
    const s = (await eventually(async () => {
      const r = await resource(p2, 'default', 'sessions', 'nope');
      return /Unauthorized/.test(r?.status?.message ?? '') ? r : undefined;
    }, 20000, 'Unauthorized in status')).value;
    assert.equal(s.status.phase, 'Pending');
    assert.equal(kube2.list('Job').length, 0);
  } finally {
    await p2.stop();
    await kube2.close();
  }
});

test('kubernetes runtime: scheduled runs are Jobs that never overlap; every request is allowed by pai-server rbac, and every rule is used', async () => {
  const { p, kube, stop } = await startKubePlatform(['--test-clock']);
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-kube-cron-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', [
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: nightly}',
      'spec:', '  models: [mock/gpt-4o-mini]', '  triggers:', '  - schedule: "*/5 * * * *"'])]);
    await eventually(async () => (await resource(p, 'default', 'agents', 'nightly'))?.status?.phase === 'Scheduled' || undefined, 20000, 'Scheduled');
    const advance = async (s) => {
      const r = await api(p, 'POST', '/apis/pai.io/v1/testing/clock', { body: { advanceSeconds: s } });
      assert.equal(r.status, 200, r.text);
    };
    await advance(5 * 60);
    const jobs = () => kube.list('Job').filter((j) => j.metadata.labels['pai.io/agent'] === 'nightly');
    await eventually(async () => jobs().length === 1 || undefined, 20000, 'one Job');
    const first = jobs()[0];
    kube.setStatus('batch/v1', 'Job', 'default', first.metadata.name, { active: 1 });
    // The next tick while the first run's Job is active: skipped, recorded, no second Job.
    await advance(5 * 60);
    const agent = (await eventually(async () => {
      const a = await resource(p, 'default', 'agents', 'nightly');
      return a?.status?.skippedRuns >= 1 ? a : undefined;
    }, 20000, 'skippedRuns')).value;
    assert.ok(agent.status.lastSkippedAt);
    assert.equal(jobs().length, 1);
    // Once it ends, the next tick starts the next run.
    kube.setStatus('batch/v1', 'Job', 'default', first.metadata.name, { succeeded: 1, completionTime: '2026-12-06T07:10:00Z' });
    await eventually(async () => (await resource(p, 'default', 'agents', 'nightly'))?.status?.lastRunPhase === 'Complete' || undefined, 20000, 'lastRunPhase Complete');
    await advance(5 * 60);
    await eventually(async () => jobs().some((j) => j.metadata.name !== first.metadata.name) || undefined, 20000, 'the next run\'s Job');

    // A long-running Agent with a log, deleted: exercises logs, services, PVCs and deletes.
    await paiOk(home, ['apply', '-f', writeFile(dir, 'b.yaml', [
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: svc}',
      'spec:', '  longRunning: true', '  harness: custom', '  image: x:1', '  models: [mock/gpt-4o-mini]',
      '  inbound: {port: 3000}', '  volumes: [{name: v, mountPath: /v}]', '  configFiles: [{path: /v/c.json, content: "{}"}]'])]);
    const dep = (await eventually(async () => kube.get('apps/v1', 'Deployment', 'default', 'agent-svc'), 20000, 'Deployment')).value;
    kube.addPod('default', 'agent-svc-1', dep.spec.template.metadata.labels, { phase: 'Running' });
    kube.setLog('default', 'agent-svc-1', 'serving on 3000\n');
    await eventually(async () => (await pai(home, ['logs', 'svc', '--no-follow'])).stdout.includes('serving on 3000') || undefined, 20000, 'agent log');
    await paiOk(home, ['delete', 'agent', 'svc']);
    await eventually(async () => !kube.get('apps/v1', 'Deployment', 'default', 'agent-svc') || undefined, 20000, 'Deployment deleted');

    const { role, used } = checkRbac(kube.requests);
    const unused = [];
    for (const rule of role.rules) {
      for (const verb of rule.verbs) {
        const k = `${rule.apiGroups[0]}/${rule.resources[0]}/${verb}`;
        // Creating a namespace that exists is never needed here ("default" and the Get first).
        if (!used.has(k) && k !== '/namespaces/create' && k !== '/namespaces/patch') unused.push(k);
      }
    }
    assert.deepEqual(unused, [], 'rules pai-server rbac grants that were never used');
  } finally {
    await stop();
  }
});

test('kubernetes runtime: the gateway configuration and tokens are published as Secrets that a real pai-gateway serves with the workload\'s identity', async () => {
  const { p, kube, stop } = await startKubePlatform(['--kube-gateway-config', 'default/pai-gateway-config', '--kube-gateway-tokens', 'default/pai-tokens']);
  let gw;
  try {
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-kube-pub-');
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', [
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: worker}',
      'spec:', '  longRunning: true', '  harness: custom', '  image: x:1', '  models: [mock/gpt-4o-mini]'])]);
    const identity = (await eventually(async () => kube.get('v1', 'Secret', 'default', 'agent-worker-identity'), 20000, 'identity Secret')).value;
    const token = Buffer.from(identity.data.token, 'base64').toString();
    const decoded = (name, key) => {
      const s = kube.get('v1', 'Secret', 'default', name);
      return s?.data?.[key] ? Buffer.from(s.data[key], 'base64').toString() : undefined;
    };
    const published = (await eventually(async () => {
      const config = decoded('pai-gateway-config', 'platform.yaml');
      const tokens = decoded('pai-tokens', 'tokens.json');
      return config?.includes('worker') && tokens?.includes(token.split('_')[1]) ? { config, tokens } : undefined;
    }, 20000, 'published Secrets naming the Agent and its token')).value;
    // A gateway replica as the chart runs it: the published files, nothing else.
    fs.writeFileSync(path.join(dir, 'tokens.json'), published.tokens);
    gw = await startGateway({ manifest: published.config, extraArgs: ['--tokens-file', path.join(dir, 'tokens.json')] });
    const call = (key) => fetch(`${gw.baseURL}/chat/completions`, {
      method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'mock/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const ok = await call(token);
    assert.equal(ok.status, 200, await ok.text());
    const bad = await call(`${token.slice(0, -4)}xxxx`);
    assert.equal(bad.status, 401);
    // Deleting the Agent revokes its identity: republished, refused by the replica (hot reload).
    await paiOk(home, ['delete', 'agent', 'worker']);
    await eventually(async () => decoded('pai-tokens', 'tokens.json') !== published.tokens || undefined, 20000, 'tokens republished');
    fs.writeFileSync(path.join(dir, 'tokens.json'), decoded('pai-tokens', 'tokens.json'));
    await eventually(async () => (await call(token)).status === 401 || undefined, 20000, 'revoked token refused');
  } finally {
    await gw?.stop?.();
    await stop();
  }
});

test('kubernetes runtime: flag mistakes are one line and exit 2, before anything starts', () => {
  const dir = tmpDir('pai-kube-flags-');
  const run = (args) => spawnSync(serverBin(), ['--state-dir', path.join(dir, 's'), '--listen', '127.0.0.1:0', ...args], { encoding: 'utf8', timeout: 20000 });
  for (const args of [
    ['--runtime', 'kubernetes', '--kube-api', 'http://127.0.0.1:1', '--kube-gateway-url', 'http://gw:4000', '--kube-gateway-config', 'no-slash', '--kube-gateway-tokens', 'pai/t'],
    ['--runtime', 'local', '--kube-gateway-config', 'pai/c', '--kube-gateway-tokens', 'pai/t'],
    ['--runtime', 'kubernetes', '--kube-api', 'http://127.0.0.1:1', '--kube-gateway-url', 'http://gw:4000', '--kube-gateway-config', 'a/c', '--kube-gateway-tokens', 'b/t'],
  ]) {
    const r = run(args);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /^pai-server: --kube-gateway-config and --kube-gateway-tokens: both, as NAMESPACE\/NAME in one namespace, with --runtime kubernetes\n$/m);
  }
  const noUrl = run(['--runtime', 'kubernetes', '--kube-api', 'http://127.0.0.1:1']);
  assert.equal(noUrl.status, 2);
  assert.match(noUrl.stderr, /--runtime kubernetes needs --kube-gateway-url/);
});

test('kubernetes runtime: the rendered Session container, run as its pod would run it (command, env, session.json), does the task through the real gateway and writes its events to stdout', async () => {
  const { p, kube, stop } = await startKubePlatform();
  try {
    const created = await api(p, 'POST', `${NS}/default/agents/demo/sessions`, { body: { metadata: { name: 'task1' }, spec: { task: 'Say hello.' } } });
    assert.equal(created.status, 201, created.text);
    const job = (await eventually(async () => kube.get('batch/v1', 'Job', 'default', 'session-task1'), 20000, 'Job')).value;
    const container = job.spec.template.spec.containers[0];
    const files = kube.get('v1', 'ConfigMap', 'default', 'session-task1-files');
    const identity = kube.get('v1', 'Secret', 'default', 'session-task1-identity');
    // The container's session.json (from the ConfigMap, as mounted), with the workspace moved
    // to a directory of this test.
    const mount = container.volumeMounts.find((m) => m.mountPath === '/run/pai/session.json');
    const session = JSON.parse(files.data[mount.subPath]);
    const dir = tmpDir('pai-kube-pod-');
    session.workspace = path.join(dir, 'workspace');
    fs.writeFileSync(path.join(dir, 'session.json'), JSON.stringify(session));
    // Its environment, with the Service URL of the gateway replaced by the platform's gateway.
    const env = { PATH: process.env.PATH };
    for (const e of container.env) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.secretKeyRef?.name === identity.metadata.name) {
        env[e.name] = Buffer.from(identity.data[e.valueFrom.secretKeyRef.key], 'base64').toString();
      }
    }
    env.OPENAI_BASE_URL = p.gateway;
    env.HOME = session.workspace;
    assert.deepEqual(container.command.slice(0, 3), ['pai-harness', '--events-fd', '1']);
    const harness = path.join(path.dirname(serverBin()), '../harness/pai-harness');
    const r = spawnSync(process.env.PAI_HARNESS_BIN ?? harness, [...container.command.slice(1), '--config', path.join(dir, 'session.json')],
      { env, encoding: 'utf8', timeout: 60000, stdio: ['ignore', 'pipe', 'pipe'] });
    assert.equal(r.status, 0, r.stderr);
    const events = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    const types = events.map((e) => e.type).filter(Boolean);
    assert.ok(types.includes('agent.message'), types.join(','));
    assert.ok(types.includes('span.model_request_end'), types.join(','));
    // Handed to the runtime as the pod's log: the events reach the Session, once, before its end.
    kube.addPod('default', 'session-task1-p', job.spec.template.metadata.labels, { phase: 'Running' }, job.metadata.uid);
    kube.setLog('default', 'session-task1-p', r.stderr + r.stdout);
    kube.setStatus('batch/v1', 'Job', 'default', 'session-task1', { succeeded: 1, completionTime: '2026-12-06T08:00:00Z' });
    const stored = (await eventually(async () => {
      const ev = await api(p, 'GET', `${NS}/default/sessions/task1/events`);
      const t = ev.json.items.map((e) => e.type);
      return t.includes('session.status_terminated') ? t : undefined;
    }, 20000, 'the Session\'s events')).value;
    assert.ok(stored.indexOf('agent.message') >= 0 && stored.indexOf('agent.message') < stored.indexOf('session.status_terminated'), stored.join(','));
    assert.equal(stored.filter((t) => t === 'agent.message').length, types.filter((t) => t === 'agent.message').length);
  } finally {
    await stop();
  }
});
