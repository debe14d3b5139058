// pai-server's Kubernetes store (`--store kubernetes`, src/kube/store.h) end to end: the real
// pai-server and pai against lib/kube-apiserver.mjs (a stand-in speaking the API's wire format,
// serving the CRDs `pai-server crds` prints; no kube-apiserver runs on this machine class).
// Resources are the API server's custom resources (uid, generation, resourceVersion its own;
// status through the subresource; no field pruned); a Pai Secret is a core Secret whose values
// never reach a custom resource or an API answer; access tokens keep only a hash, in a Secret;
// PaiFile versions are ConfigMaps; a second server with an empty state directory serves it all;
// an Agent written with kubectl is run, and one deleted with kubectl is stopped (watches,
// including after a 410 Gone); every request is allowed by `pai-server rbac --store kubernetes`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import YAML from 'yaml';

import { startPlatform, paiOk, pai, loggedInHome, api, eventually, tmpDir, serverBin } from './lib/platform.mjs';
import { startKubeApiServer } from './lib/kube-apiserver.mjs';

const NS = '/apis/pai.io/v1/namespaces';
const TOKEN = 'kube-sa-token-store-51e2';
const CRDS = () => YAML.parseAllDocuments(execFileSync(serverBin(), ['crds'], { encoding: 'utf8' })).map((d) => d.toJSON()).filter(Boolean);

async function startKube() {
  const kube = await startKubeApiServer({ token: TOKEN });
  kube.installCrds(CRDS());
  const dir = tmpDir('pai-kstore-');
  const tokenFile = path.join(dir, 'token');
  fs.writeFileSync(tokenFile, `${TOKEN}\n`);
  return { kube, tokenFile };
}

function platformArgs(kube, tokenFile) {
  return ['--store', 'kubernetes', '--kube-store-namespace', 'pai-system', '--runtime', 'kubernetes',
    '--kube-api', kube.url, '--kube-token-file', tokenFile, '--kube-gateway-url', 'http://pai-gateway.pai:4000',
    '--kube-image', 'registry.example/pai:1', '--kube-poll-interval-ms', '100'];
}

function writeFile(dir, name, lines) {
  const f = path.join(dir, name);
  fs.writeFileSync(f, lines.join('\n') + '\n');
  return f;
}

/** Every request is allowed by `pai-server rbac --store kubernetes`. */
function checkRbac(requests) {
  const role = YAML.parse(execFileSync(serverBin(), ['rbac', '--store', 'kubernetes'], { encoding: 'utf8' }));
  for (const r of requests) {
    assert.ok(role.rules.some((rule) => rule.apiGroups.includes(r.group) && rule.resources.includes(r.resource) && rule.verbs.includes(r.verb)),
      `${r.verb} ${r.group}/${r.resource} (${r.path}) is not in pai-server rbac --store kubernetes`);
  }
  return role;
}

test('kubernetes store: resources are custom resources with the API server\'s metadata; secrets and token hashes live in Secrets only; PaiFile versions are ConfigMaps; a second server with an empty state directory serves them', async () => {
  const { kube, tokenFile } = await startKube();
  let p = await startPlatform({ extraArgs: platformArgs(kube, tokenFile) });
  try {
    const adminToken = p.adminToken;
    assert.ok(adminToken, 'the first admin token is written at first start');
    // The embedded default was created in the cluster.
    assert.ok(kube.get('pai.io/v1', 'Agent', 'default', 'demo'), 'the demo Agent is a custom resource');
    // The access token: a cluster-scoped custom resource with no secret in it; its hash in a
    // Secret of the server's namespace; the plaintext nowhere in the cluster.
    const tokens = kube.list('PaiAccessToken');
    assert.equal(tokens.length, 1);
    assert.equal(tokens[0].metadata.namespace, undefined);
    const everything = JSON.stringify([...kube.objects.values()]);
    assert.ok(!everything.includes(adminToken), 'the admin token is stored in the cluster');
    assert.ok(!JSON.stringify(tokens[0]).includes('sha256'), 'the hash is in the custom resource');
    const priv = kube.get('v1', 'Secret', 'pai-system', tokens[0].metadata.annotations['pai.io/private-data']);
    assert.match(Buffer.from(priv.data.private, 'base64').toString(), /"sha256":"[0-9a-f]{64}"/);
    assert.deepEqual(priv.metadata.ownerReferences.map((r) => r.uid), [tokens[0].metadata.uid]);

    const home = await loggedInHome(p);
    const dir = tmpDir('pai-kstore-m-');
    await paiOk(home, ['create', 'secret', 'creds', '--namespace', 'team-s', '--from-literal', 'api-key=s3cr3t-store-value']);
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', [
      'apiVersion: pai.io/v1', 'kind: ModelProvider', 'metadata: {name: mock, namespace: team-s}', 'spec: {provider: mock}', '---',
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: worker, namespace: team-s, labels: {team: s}}',
      'spec:', '  longRunning: true', '  harness: custom', '  image: registry.example/worker:2', '  models: [mock/gpt-4o-mini]',
      '  env: [{name: API_KEY, secretRef: {name: creds, key: api-key}}]', '---',
      'apiVersion: pai.io/v1', 'kind: PaiFile', 'metadata: {name: notes, namespace: team-s}',
      'spec: {description: notes, data: ' + Buffer.from('version one').toString('base64') + '}'])]);

    // The namespace was created for the write; the Agent is a custom resource with the API
    // server's uid and generation; the controller's status went through the subresource.
    assert.ok(kube.get('v1', 'Namespace', null, 'team-s'));
    const cr = kube.get('pai.io/v1', 'Agent', 'team-s', 'worker');
    assert.equal(cr.metadata.generation, 1);
    assert.equal(cr.metadata.labels.team, 's');
    const viaApi = (await api(p, 'GET', `${NS}/team-s/agents/worker`)).json;
    assert.equal(viaApi.metadata.uid, cr.metadata.uid);
    await eventually(async () => kube.get('pai.io/v1', 'Agent', 'team-s', 'worker').status?.phase || undefined, 20000, 'status written to the cluster');
    assert.ok(kube.requests.some((r) => r.verb === 'update' && r.resource === 'agents/status'), 'status through the subresource');
    // The workload's Secret reference resolved from the Pai Secret (a core Secret).
    await eventually(async () => kube.get('v1', 'Secret', 'team-s', 'agent-worker-identity') || undefined, 20000, 'identity Secret');
    assert.equal(Buffer.from(kube.get('v1', 'Secret', 'team-s', 'agent-worker-identity').data['env.API_KEY'], 'base64').toString(), 's3cr3t-store-value');

    // The Pai Secret: a core Secret with the value; the API shows its keys only.
    const core = kube.get('v1', 'Secret', 'team-s', 'creds');
    assert.equal(core.metadata.labels['pai.io/secret'], 'true');
    assert.equal(Buffer.from(core.data['api-key'], 'base64').toString(), 's3cr3t-store-value');
    const shown = await api(p, 'GET', `${NS}/team-s/secrets/creds`);
    assert.equal(shown.status, 200, shown.text);
    assert.deepEqual(shown.json.keys, ['api-key']);
    assert.ok(!shown.text.includes('s3cr3t') && !shown.text.includes(core.data['api-key']), 'a secret value in an API answer');
    for (const o of kube.objects.values()) {
      if (o.kind !== 'Secret') assert.ok(!JSON.stringify(o).includes(core.data['api-key']), `${o.kind} ${o.metadata.name} holds the secret`);
    }

    // A spec change moves the custom resource's generation; a stale resourceVersion is a 409.
    // (The controller's status writes move the version too: read, write, and read again on a
    // conflict, as any client of a resourceVersion must.)
    const put = (obj, replicas) => api(p, 'PUT', `${NS}/team-s/agents/worker`, { body: { apiVersion: 'pai.io/v1', kind: 'Agent', metadata: { name: 'worker', namespace: 'team-s', resourceVersion: obj.metadata.resourceVersion }, spec: { ...obj.spec, replicas } } });
    let before, ok;
    for (let i = 0; i < 10; i++) {
      before = (await api(p, 'GET', `${NS}/team-s/agents/worker`)).json;
      ok = await put(before, 2);
      if (ok.status !== 409) break;
    }
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.metadata.generation, 2);
    assert.equal(kube.get('pai.io/v1', 'Agent', 'team-s', 'worker').metadata.generation, 2);
    const stale = await put(before, 3);
    assert.equal(stale.status, 409, stale.text);
    assert.match(stale.json.error.message, /has been modified/);
    assert.equal(kube.get('pai.io/v1', 'Agent', 'team-s', 'worker').spec.replicas, 2);

    // PaiFile versions: one ConfigMap each, owned by the PaiFile; every version readable.
    await paiOk(home, ['apply', '-f', writeFile(dir, 'f.yaml', [
      'apiVersion: pai.io/v1', 'kind: PaiFile', 'metadata: {name: notes, namespace: team-s}',
      'spec: {description: notes, data: ' + Buffer.from('version two').toString('base64') + '}'])]);
    const file = kube.get('pai.io/v1', 'PaiFile', 'team-s', 'notes');
    for (const v of [1, 2]) {
      const cm = kube.get('v1', 'ConfigMap', 'team-s', `pai-file.notes.v${v}`);
      assert.ok(cm, `version ${v} is a ConfigMap`);
      assert.deepEqual(cm.metadata.ownerReferences.map((r) => r.uid), [file.metadata.uid]);
    }
    const v1 = await api(p, 'GET', `${NS}/team-s/paifiles/notes?version=1`);
    assert.equal(v1.status, 200, v1.text);
    assert.equal(Buffer.from(v1.json.spec.data, 'base64').toString(), 'version one');
    assert.equal((await api(p, 'GET', `${NS}/team-s/paifiles/notes?version=3`)).status, 404);

    // A second server, with an empty state directory, serves the same resources and tokens.
    await p.stop();
    p = await startPlatform({ extraArgs: platformArgs(kube, tokenFile) });
    assert.equal(p.adminToken, undefined, 'no second admin token: the store has one');
    const home2 = await loggedInHome(p, adminToken);
    assert.match(await paiOk(home2, ['get', 'agents', '-n', 'team-s']), /worker/);
    assert.equal((await api(p, 'GET', `${NS}/team-s/agents/worker`, { token: adminToken })).json.metadata.generation, 2);
    assert.equal((await api(p, 'GET', `${NS}/team-s/paifiles/notes?version=1`, { token: adminToken })).status, 200);

    // Delete cascades (the PaiFile's versions with it); the Pai Secret goes as a core Secret.
    await paiOk(home2, ['delete', 'paifile', 'notes', '-n', 'team-s']);
    assert.deepEqual(kube.list('ConfigMap').filter((o) => o.metadata.name.startsWith('pai-file.')).map((o) => o.metadata.name), []);
    await paiOk(home2, ['delete', 'secret', 'creds', '-n', 'team-s']);
    assert.equal(kube.get('v1', 'Secret', 'team-s', 'creds'), undefined);
    await paiOk(home2, ['delete', 'agent', 'worker', '-n', 'team-s']);
    assert.equal(kube.get('pai.io/v1', 'Agent', 'team-s', 'worker'), undefined);
    await eventually(async () => kube.get('apps/v1', 'Deployment', 'team-s', 'agent-worker') === undefined || undefined, 20000, 'Deployment deleted');
    checkRbac(kube.requests);
  } finally {
    await p.stop();
    await kube.close();
  }
});

test('kubernetes store: an Agent written with kubectl is run, changed and stopped; the watch lists again after 410 Gone; a Secret without the Pai label is not a Pai Secret; an unreachable API server is 503, not 401', async () => {
  const { kube, tokenFile } = await startKube();
  const p = await startPlatform({ extraArgs: platformArgs(kube, tokenFile) });
  try {
    const home = await loggedInHome(p);
    kube.write({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'team-k' } });
    kube.write({ apiVersion: 'pai.io/v1', kind: 'ModelProvider', metadata: { name: 'mock', namespace: 'team-k' }, spec: { provider: 'mock' } });
    kube.write({ apiVersion: 'pai.io/v1', kind: 'Agent', metadata: { name: 'by-kubectl', namespace: 'team-k' },
      spec: { longRunning: true, harness: 'custom', image: 'registry.example/w:1', models: ['mock/gpt-4o-mini'] } });
    const dep = (await eventually(async () => kube.get('apps/v1', 'Deployment', 'team-k', 'agent-by-kubectl'), 20000, 'the Deployment of an Agent made with kubectl')).value;
    assert.equal(dep.spec.replicas, 1);
    assert.match(await paiOk(home, ['get', 'agents', '-n', 'team-k']), /by-kubectl/);
    // The workload's root, its identity Secret, is owned by the custom resource: a kubectl delete
    // cascades through the garbage collector even while pai-server is down.
    const agentCr = kube.get('pai.io/v1', 'Agent', 'team-k', 'by-kubectl');
    assert.deepEqual(kube.get('v1', 'Secret', 'team-k', 'agent-by-kubectl-identity').metadata.ownerReferences,
      [{ apiVersion: 'pai.io/v1', kind: 'Agent', name: 'by-kubectl', uid: agentCr.metadata.uid, controller: true, blockOwnerDeletion: true }]);

    // A write by another client moves the store's version (the watch), with nothing for the
    // controller to do; a labelled Secret is a Pai Secret.
    const shared = kube.write({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'shared', namespace: 'team-k', labels: { 'pai.io/secret': 'true' } }, type: 'Opaque', data: { k: Buffer.from('v').toString('base64') } });
    await eventually(async () => Number((await api(p, 'GET', `${NS}/team-k/agents`)).json.metadata.resourceVersion) >= Number(shared.metadata.resourceVersion) || undefined, 20000, 'the version moved by a kubectl write');

    // The watches end and the history is compacted: pai-server watches again from where it
    // was, gets 410 Gone, lists again and watches from the list (a second list and watch of
    // agents); a change made after that reaches it (the version moved by a write that gives
    // the controller nothing to do, which only a working watch shows), and the controller runs
    // the new spec.
    const count = (verb) => kube.requests.filter((r) => r.verb === verb && r.resource === 'agents').length;
    const [lists, watches] = [count('list'), count('watch')];
    kube.compact();
    kube.dropWatches();
    await eventually(async () => (count('list') > lists && count('watch') > watches) || undefined, 20000, 'the agents listed and watched again');
    const again = kube.write({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'shared-2', namespace: 'team-k', labels: { 'pai.io/secret': 'true' } }, type: 'Opaque', data: { k: Buffer.from('v').toString('base64') } });
    await eventually(async () => Number((await api(p, 'GET', `${NS}/team-k/agents`)).json.metadata.resourceVersion) >= Number(again.metadata.resourceVersion) || undefined, 20000, 'the version moved after the relist');
    const cur = kube.get('pai.io/v1', 'Agent', 'team-k', 'by-kubectl');
    kube.write({ ...structuredClone(cur), spec: { ...cur.spec, replicas: 3 } });
    await eventually(async () => kube.get('apps/v1', 'Deployment', 'team-k', 'agent-by-kubectl')?.spec.replicas === 3 || undefined, 20000, 'replicas 3 after a relist');

    // Deleted with kubectl: the workload is stopped.
    kube.remove('pai.io/v1', 'Agent', 'team-k', 'by-kubectl');
    await eventually(async () => kube.get('apps/v1', 'Deployment', 'team-k', 'agent-by-kubectl') === undefined || undefined, 20000, 'the Deployment deleted');
    assert.doesNotMatch(await paiOk(home, ['get', 'agents', '-n', 'team-k']), /by-kubectl/);

    // A Secret made without the label is not a Pai Secret: not listed, not replaced by a Pai write.
    kube.write({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'foreign', namespace: 'team-k' }, type: 'Opaque', data: { k: Buffer.from('v').toString('base64') } });
    const secrets = await paiOk(home, ['get', 'secrets', '-n', 'team-k']);
    assert.doesNotMatch(secrets, /foreign/);
    assert.match(secrets, /shared/);
    const r = await pai(home, ['create', 'secret', 'foreign', '--namespace', 'team-k', '--from-literal', 'k=other']);
    assert.notEqual(r.status, 0, 'a Pai write replaced a foreign Secret');
    assert.equal(Buffer.from(kube.get('v1', 'Secret', 'team-k', 'foreign').data.k, 'base64').toString(), 'v');
    checkRbac(kube.requests);

    // The API server goes away: requests are 503 (not a 401 that would send users to log in
    // again), and /readyz says why.
    await kube.close();
    const down = await api(p, 'GET', `${NS}/team-k/agents`);
    assert.equal(down.status, 503, down.text);
    assert.match(down.json.error.message, /cannot reach the Kubernetes API/);
    await eventually(async () => {
      const r = await fetch(`${p.api}/readyz`);
      return r.status === 503 ? await r.text() : undefined;
    }, 20000, '/readyz 503');
  } finally {
    await p.stop();
    await kube.close();
  }
});

test('kubernetes store: only pai-server\'s own sealed writes carry an access token\'s authority: a ModelProvider written with kubectl, or with a forged pai.io/created-by, reads no server environment variable', async () => {
  const { kube, tokenFile } = await startKube();
  process.env.PAI_KSTORE_TEST_KEY = 'sk-env-value-never-served-9d1';
  const p = await startPlatform({ extraArgs: platformArgs(kube, tokenFile) });
  try {
    const home = await loggedInHome(p);
    const adminId = kube.list('PaiAccessToken')[0].metadata.name;
    const dir = tmpDir('pai-kstore-seal-');
    // Through pai, by an admin token, in namespace default: apiKeyEnv is honoured (the write is
    // sealed by pai-server, so its pai.io/created-by is believed).
    await paiOk(home, ['apply', '-f', writeFile(dir, 'mp.yaml', [
      'apiVersion: pai.io/v1', 'kind: ModelProvider', 'metadata: {name: by-admin, namespace: default}',
      'spec: {provider: openai, apiKeyEnv: PAI_KSTORE_TEST_KEY}'])]);
    const sealed = kube.get('pai.io/v1', 'ModelProvider', 'default', 'by-admin');
    assert.match(sealed.metadata.annotations['pai.io/seal'], /^[0-9a-f]{64}$/);
    await eventually(async () => kube.get('pai.io/v1', 'ModelProvider', 'default', 'by-admin').status?.ready === true || undefined, 20000, 'the admin\'s ModelProvider served');
    // With kubectl: the same spec, and one claiming the admin token as its author.
    const spec = { provider: 'openai', apiKeyEnv: 'PAI_KSTORE_TEST_KEY', baseURL: 'http://127.0.0.1:9/v1' };
    kube.write({ apiVersion: 'pai.io/v1', kind: 'ModelProvider', metadata: { name: 'by-kubectl', namespace: 'default' }, spec });
    kube.write({ apiVersion: 'pai.io/v1', kind: 'ModelProvider', metadata: { name: 'forged', namespace: 'default', annotations: { 'pai.io/created-by': adminId, 'pai.io/last-applied-by': adminId } }, spec });
    // A sealed object edited with kubectl (its spec: the generation moves) loses the seal's trust.
    const edited = structuredClone(kube.get('pai.io/v1', 'ModelProvider', 'default', 'by-admin'));
    kube.write({ ...edited, spec: { ...edited.spec, baseURL: 'http://127.0.0.1:9/v1' } });
    for (const name of ['by-kubectl', 'forged', 'by-admin']) {
      const st = (await eventually(async () => {
        const o = kube.get('pai.io/v1', 'ModelProvider', 'default', name);
        return o.status?.ready === false ? o.status : undefined;
      }, 20000, `${name} refused`)).value;
      assert.match(st.message, /apiKeyEnv/);
      const shown = (await api(p, 'GET', `${NS}/default/modelproviders/${name}`)).json;
      assert.equal(shown.metadata.annotations['pai.io/last-applied-by'], 'kubernetes');
      assert.equal(shown.metadata.annotations['pai.io/created-by'], undefined);
      assert.equal(shown.metadata.annotations['pai.io/seal'], undefined);
    }
    const config = fs.readFileSync(path.join(p.stateDir, 'gateway/config/platform.yaml'), 'utf8');
    assert.doesNotMatch(config, /by-kubectl|forged|sk-env-value/);
  } finally {
    delete process.env.PAI_KSTORE_TEST_KEY;
    await p.stop();
    await kube.close();
  }
});

test('kubernetes store: pai-server migrate-store copies a SQLite store into the cluster — resources, Secret values, access tokens that still log in, PaiFile versions, Session events — and refuses a second time', async () => {
  const { kube, tokenFile } = await startKube();
  const stateDir = tmpDir('pai-kstore-mig-');
  let p = await startPlatform({ stateDir, extraArgs: ['--runtime', 'none'] }); // the SQLite store
  try {
    const adminToken = p.adminToken;
    const home = await loggedInHome(p);
    const dir = tmpDir('pai-kstore-mig-m-');
    await paiOk(home, ['create', 'secret', 'creds', '--namespace', 'team-m', '--from-literal', 'api-key=s3cr3t-migrated']);
    const file = (text) => writeFile(dir, 'f.yaml', ['apiVersion: pai.io/v1', 'kind: PaiFile', 'metadata: {name: notes, namespace: team-m}',
      `spec: {description: notes, data: ${Buffer.from(text).toString('base64')}}`]);
    await paiOk(home, ['apply', '-f', writeFile(dir, 'a.yaml', [
      'apiVersion: pai.io/v1', 'kind: ModelProvider', 'metadata: {name: mock, namespace: team-m}', 'spec: {provider: mock}', '---',
      'apiVersion: pai.io/v1', 'kind: Agent', 'metadata: {name: worker, namespace: team-m}',
      'spec: {models: [mock/gpt-4o-mini], env: [{name: API_KEY, secretRef: {name: creds, key: api-key}}]}'])]);
    await paiOk(home, ['apply', '-f', file('version one')]);
    await paiOk(home, ['apply', '-f', file('version two')]);
    const made = await api(p, 'POST', `${NS}/team-m/agents/worker/sessions`, { body: { metadata: { name: 'run-1' }, spec: { task: 'migrate me' } } });
    assert.equal(made.status, 201, made.text);
    const posted = await api(p, 'POST', `${NS}/team-m/sessions/run-1/events`, { body: { events: [{ type: 'user.message', content: 'hello from before' }] } });
    assert.equal(posted.status, 200, posted.text);
    const before = (await api(p, 'GET', `${NS}/team-m/sessions/run-1/events`)).json.items;
    const agentUid = (await api(p, 'GET', `${NS}/team-m/agents/worker`)).json.metadata.uid;
    await p.stop();

    // pai-server on the Kubernetes store refuses to start beside an unmigrated SQLite store.
    await assert.rejects(startPlatform({ stateDir, extraArgs: platformArgs(kube, tokenFile) }), /holds a SQLite store and the cluster none: move it with `pai-server migrate-store/);
    // Not spawnSync: the stand-in API server answers on this process's event loop.
    const migrate = () => new Promise((resolve) => execFile(serverBin(), ['migrate-store', '--state-dir', stateDir,
      '--kube-api', kube.url, '--kube-token-file', tokenFile, '--kube-store-namespace', 'pai-system'],
    { encoding: 'utf8' }, (err, stdout, stderr) => resolve({ status: err ? (err.code ?? 1) : 0, stdout, stderr })));
    const r = await migrate();
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /migrated .* \d+ resources, \d+ gateway identities, 0 webhook tokens, 2 PaiFile versions, \d+ Session events/);

    // The cluster holds it all; the Session is owned by the Agent's new custom resource.
    const agent = kube.get('pai.io/v1', 'Agent', 'team-m', 'worker');
    assert.notEqual(agent.metadata.uid, agentUid);
    assert.deepEqual(kube.get('pai.io/v1', 'Session', 'team-m', 'run-1').metadata.ownerReferences.map((o) => o.uid), [agent.metadata.uid]);
    assert.equal(Buffer.from(kube.get('v1', 'Secret', 'team-m', 'creds').data['api-key'], 'base64').toString(), 's3cr3t-migrated');
    assert.ok(kube.get('v1', 'ConfigMap', 'team-m', 'pai-file.notes.v2'));

    // pai-server on the Kubernetes store, same volume: the old admin token logs in, and every
    // record reads as before.
    p = await startPlatform({ stateDir, extraArgs: platformArgs(kube, tokenFile) });
    const home2 = await loggedInHome(p, adminToken);
    assert.match(await paiOk(home2, ['get', 'agents', '-n', 'team-m']), /worker/);
    const v1 = await api(p, 'GET', `${NS}/team-m/paifiles/notes?version=1`, { token: adminToken });
    assert.equal(Buffer.from(v1.json.spec.data, 'base64').toString(), 'version one');
    const after = (await api(p, 'GET', `${NS}/team-m/sessions/run-1/events`, { token: adminToken })).json.items;
    assert.deepEqual(after.map((e) => [e.sequence, e.type, e.created_at]), before.map((e) => [e.sequence, e.type, e.created_at]));
    assert.ok(after.some((e) => e.type === 'user.message' && JSON.stringify(e.content).includes('hello from before')));
    // The migrated admin wrote those resources: they keep its authority (sealed by the migration).
    assert.notEqual((await api(p, 'GET', `${NS}/team-m/agents/worker`, { token: adminToken })).json.metadata.annotations?.['pai.io/last-applied-by'], 'kubernetes');
    await p.stop();

    const again = await migrate();
    assert.notEqual(again.status, 0);
    assert.match(again.stderr, /already holds/);
  } finally {
    await p.stop();
    await kube.close();
  }
});

test('kubernetes store: flag mistakes and a cluster without the CRDs are one line and a non-zero exit', async () => {
  const bad = (args) => {
    const r = execFileSync(serverBin(), args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    return r;
  };
  assert.throws(() => bad(['--store', 'etcd', '--state-dir', tmpDir('pai-kstore-bad-')]), (e) => e.status === 2 && /--store: sqlite or kubernetes/.test(e.stderr));
  const kube = await startKubeApiServer({ token: TOKEN }); // no CRDs installed
  try {
    const dir = tmpDir('pai-kstore-nocrd-');
    fs.writeFileSync(path.join(dir, 'token'), `${TOKEN}\n`);
    const r = await new Promise((resolve) => {
      import('node:child_process').then(({ execFile }) => execFile(serverBin(), ['--store', 'kubernetes', '--runtime', 'none', '--kube-api', kube.url,
        '--kube-token-file', path.join(dir, 'token'), '--state-dir', dir, '--listen', '127.0.0.1:0', '--no-gateway'],
      { encoding: 'utf8' }, (err, stdout, stderr) => resolve({ code: err?.code ?? 0, stderr })));
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /install the CRDs/);
  } finally {
    await kube.close();
  }
});

test('kubernetes store: a Session\'s events are kept on the server\'s volume by the Session\'s uid: pai run streams them; a Session deleted with kubectl while pai-server is down lends none to a new one of its name', async () => {
  const { kube, tokenFile } = await startKube();
  const stateDir = tmpDir('pai-kstore-ev-');
  let p = await startPlatform({ stateDir, extraArgs: platformArgs(kube, tokenFile) });
  try {
    const adminToken = p.adminToken;
    const home = await loggedInHome(p);
    const run = pai(home, ['run', 'box', '--agent', 'demo'], { timeoutMs: 60000 });
    const job = (await eventually(async () => kube.get('batch/v1', 'Job', 'default', 'session-box'), 20000, 'Job')).value;
    kube.addPod('default', 'session-box-x1', job.spec.template.metadata.labels, { phase: 'Running' }, job.metadata.uid);
    kube.setStatus('batch/v1', 'Job', 'default', 'session-box', { active: 1, startTime: '2026-12-06T07:00:00Z' });
    kube.setLog('default', 'session-box-x1', '{"type":"agent.message","content":[{"type":"text","text":"All done."}]}\n');
    await eventually(async () => kube.get('pai.io/v1', 'Session', 'default', 'box')?.status?.phase === 'Running' || undefined, 20000, 'Running');
    kube.setStatus('batch/v1', 'Job', 'default', 'session-box', { succeeded: 1, startTime: '2026-12-06T07:00:00Z', completionTime: '2026-12-06T07:01:00Z' });
    const ran = await run;
    assert.equal(ran.code, 0, ran.stderr);
    assert.match(ran.stdout, /All done\./);
    const types = (await api(p, 'GET', `${NS}/default/sessions/box/events`)).json.items.map((e) => e.type);
    assert.deepEqual(types.filter((t) => t !== 'user.message'), ['session.status_running', 'agent.message', 'session.status_terminated']);
    assert.ok(fs.existsSync(path.join(stateDir, 'events.db')));
    assert.ok(!JSON.stringify(kube.get('pai.io/v1', 'Session', 'default', 'box')).includes('All done'), 'events in the custom resource');

    // pai-server stops; the Session is deleted with kubectl; a new pai-server on the same volume
    // serves a new Session of the same name with no event of the old one.
    await p.stop();
    kube.remove('pai.io/v1', 'Session', 'default', 'box');
    p = await startPlatform({ stateDir, extraArgs: platformArgs(kube, tokenFile) });
    const made = await api(p, 'POST', `${NS}/default/agents/demo/sessions`, { token: adminToken, body: { metadata: { name: 'box' }, spec: { task: 'again' } } });
    assert.equal(made.status, 201, made.text);
    const fresh = (await api(p, 'GET', `${NS}/default/sessions/box/events`, { token: adminToken })).json.items.map((e) => e.type);
    assert.ok(!fresh.includes('agent.message') && !fresh.includes('session.status_terminated'), `the old Session's events: ${fresh}`);
  } finally {
    await p.stop();
    await kube.close();
  }
});
