// The helm chart (helm/pai) with the real tools: `helm lint` and `helm template` with the
// default values and helm/pai/ci/full-values.yaml; every rendered object validated against the
// Kubernetes schemas (kubernetes-models) and checked for fields the schemas do not have (the
// validator alone lets unknown fields through: the walk below uses @kubernetes/client-node's
// attribute maps); an update checked with `kubectl patch --local` (strategic merge); the
// alerting rules with `promtool test rules`; every metric the rules and the Grafana dashboard
// use checked against a live gateway's /metrics.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import Ajv from 'ajv';
import { checkObjects, unknownFields, validateSchema } from './lib/k8s.mjs';
import { startOpenAIUpstream } from './upstream/openai_upstream.mjs';
import { startGateway } from './lib/gateway.mjs';
import { makeClient, paiDoc, PROVIDER_KEY } from './lib/common.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHART = path.join(ROOT, 'helm/pai');
const HELM = process.env.PAI_HELM_BIN ?? path.join(ROOT, '.deps/helm/helm');
const FULL = path.join(CHART, 'ci/full-values.yaml');
const SERVER_VALUES = path.join(CHART, 'ci/server-values.yaml');
const SERVER = process.env.PAI_SERVER_BIN ?? path.join(ROOT, 'build/src/server/pai-server');

function helm(...args) {
  return execFileSync(HELM, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function render(...valueFiles) {
  const out = helm('template', 'rel', CHART, '--namespace', 'pai', ...valueFiles.flatMap((f) => ['-f', f]));
  return YAML.parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
}

const byKind = (objs, kind) => objs.filter((o) => o.kind === kind);

test('helm lint passes with the default and the non-default values', () => {
  assert.match(helm('lint', CHART), /0 chart\(s\) failed/);
  assert.match(helm('lint', CHART, '-f', FULL), /0 chart\(s\) failed/);
  assert.match(helm('lint', CHART, '-f', SERVER_VALUES), /0 chart\(s\) failed/);
  // A values mistake the chart must refuse: gateways without Redis cannot share budgets.
  assert.throws(() => helm('template', 'rel', CHART, '--set', 'redis.enabled=false'), /redis\.url is required/);
});

test('default render: valid objects, no unknown fields; gateway replicas share the bundled Redis', async () => {
  const objs = render();
  await checkObjects(objs);
  const [gw] = byKind(objs, 'StatefulSet').filter((o) => o.metadata.name === 'rel-pai-gateway');
  assert.equal(gw.spec.replicas, 2);
  const c = gw.spec.template.spec.containers[0];
  const arg = (flag) => c.args[c.args.indexOf(flag) + 1];
  assert.equal(arg('--redis'), 'redis://rel-pai-redis:6379/0');
  assert.equal(arg('--redis-replica-id'), '$(POD_NAME)');
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
  assert.equal(c.livenessProbe.httpGet.path, '/healthz');
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(gw.spec.template.spec.securityContext.runAsNonRoot, true);
  assert.equal(gw.spec.template.metadata.annotations['prometheus.io/scrape'], 'true');
  assert.equal(gw.spec.volumeClaimTemplates[0].spec.resources.requests.storage, '5Gi');
  const [redis] = byKind(objs, 'StatefulSet').filter((o) => o.metadata.name === 'rel-pai-redis');
  assert.match(redis.spec.template.spec.containers[0].args[0], /--appendonly yes --appendfsync always/);
  assert.equal(byKind(objs, 'PodDisruptionBudget')[0].spec.minAvailable, 1);
  assert.equal(byKind(objs, 'NetworkPolicy').length, 1);
  assert.equal(byKind(objs, 'Secret')[0].metadata.name, 'rel-pai-admin-token');
  assert.equal(Buffer.from(byKind(objs, 'Secret')[0].data.token, 'base64').length, 40);
  assert.equal(byKind(objs, 'PrometheusRule').length, 0);
});

test('non-default render: external Redis with a password, shared tokens, provider key from a Secret, monitoring objects', async () => {
  const objs = render(FULL);
  await checkObjects(objs);
  const [gw] = byKind(objs, 'StatefulSet');
  assert.equal(gw.spec.replicas, 3);
  assert.equal(gw.spec.volumeClaimTemplates, undefined);
  const c = gw.spec.template.spec.containers[0];
  assert.equal(c.image, 'registry.example.com/pai:0.1.0-rc1');
  const arg = (flag) => c.args[c.args.indexOf(flag) + 1];
  assert.equal(arg('--redis'), 'redis://redis.shared.svc:6379/3');
  assert.equal(arg('--tokens-file'), '/etc/pai/tokens/tokens.json');
  assert.equal(arg('--audit-sync'), 'strict');
  const env = Object.fromEntries(c.env.map((e) => [e.name, e.valueFrom]));
  assert.deepEqual(env.PAI_REDIS_PASSWORD.secretKeyRef, { name: 'redis-auth', key: 'password' });
  assert.deepEqual(env.OPENAI_API_KEY.secretKeyRef, { name: 'openai', key: 'api-key' });
  assert.equal(byKind(objs, 'Secret').length, 0, 'an existing admin token Secret is used, none created');
  assert.equal(byKind(objs, 'StatefulSet').length, 1, 'no bundled Redis with an external URL');
  // The PrometheusRule carries the rule file unchanged (Prometheus templates untouched by Helm).
  const [rule] = byKind(objs, 'PrometheusRule');
  assert.equal(rule.apiVersion, 'monitoring.coreos.com/v1');
  assert.deepEqual(rule.spec, YAML.parse(fs.readFileSync(path.join(CHART, 'files/prometheus-rules.yaml'), 'utf8')));
  const [sm] = byKind(objs, 'ServiceMonitor');
  assert.equal(sm.spec.endpoints[0].port, 'admin');
  assert.equal(sm.metadata.labels.release, 'prometheus');
  const dash = byKind(objs, 'ConfigMap').find((m) => m.data['pai-gateway.json']);
  assert.equal(JSON.parse(dash.data['pai-gateway.json']).uid, 'pai-gateway');
  // The agent manifests reach the gateway unchanged.
  const cm = byKind(objs, 'ConfigMap').find((m) => m.data['manifests.yaml']);
  assert.match(cm.data['manifests.yaml'], /apiKeyEnv: OPENAI_API_KEY/);
});

test('control plane render (server.enabled): valid objects; the ClusterRole is exactly `pai-server rbac`; gateways mount what pai-server publishes; every flag exists', async () => {
  const objs = render(SERVER_VALUES);
  await checkObjects(objs);
  const one = (kind, name) => {
    const found = objs.filter((o) => o.kind === kind && o.metadata.name === name);
    assert.equal(found.length, 1, `${kind} ${name}`);
    return found[0];
  };
  // RBAC: the chart grants exactly what the runtime and the store use (kube_runtime.test.mjs and
  // kube_store.test.mjs check that they use no more than `pai-server rbac` prints).
  const role = one('ClusterRole', 'rel-pai-server');
  const wanted = YAML.parse(execFileSync(SERVER, ['rbac', '--store', 'kubernetes'], { encoding: 'utf8' }));
  assert.deepEqual(role.rules, wanted.rules);
  const withStore = (store) => YAML.parseAllDocuments(helm('template', 'rel', CHART, '--namespace', 'pai', '-f', SERVER_VALUES, '--set', `server.store=${store}`)).map((d) => d.toJS()).filter(Boolean);
  const sqlite = withStore('sqlite');
  const sqliteRole = sqlite.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'rel-pai-server');
  assert.deepEqual(sqliteRole.rules, YAML.parse(execFileSync(SERVER, ['rbac'], { encoding: 'utf8' })).rules);
  const sqliteArgs = sqlite.find((o) => o.kind === 'Deployment' && o.metadata.name === 'rel-pai-server').spec.template.spec.containers[0].args;
  assert.equal(sqliteArgs[sqliteArgs.indexOf('--store') + 1], 'sqlite');
  assert.ok(!sqliteArgs.includes('--kube-store-namespace'));
  assert.throws(() => withStore('etcd'), /server.store: kubernetes or sqlite/);
  const binding = one('ClusterRoleBinding', 'rel-pai-server');
  assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'rel-pai-server', namespace: 'pai' }]);
  assert.equal(binding.roleRef.name, 'rel-pai-server');

  const dep = one('Deployment', 'rel-pai-server');
  assert.equal(dep.spec.replicas, 1);
  assert.equal(dep.spec.strategy.type, 'Recreate');
  const pod = dep.spec.template.spec;
  assert.equal(pod.serviceAccountName, 'rel-pai-server');
  assert.equal(pod.automountServiceAccountToken, true);
  const c = pod.containers[0];
  const arg = (flag) => c.args[c.args.indexOf(flag) + 1];
  assert.equal(arg('--runtime'), 'kubernetes');
  assert.equal(arg('--store'), 'kubernetes');
  assert.equal(arg('--kube-store-namespace'), 'pai');
  assert.equal(arg('--kube-gateway-url'), 'http://rel-pai-gateway.pai:4000');
  assert.equal(arg('--kube-gateway-config'), 'pai/rel-pai-gateway-config');
  assert.equal(arg('--kube-gateway-tokens'), 'pai/rel-pai-tokens');
  assert.equal(arg('--gateway-admin'), 'rel-pai-gateway:4001');
  assert.equal(arg('--public-url'), 'https://pai.example.com');
  assert.ok(c.args.includes('--no-gateway'));
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  // Every flag the chart passes is one the real binary has.
  const help = execFileSync(SERVER, ['--help'], { encoding: 'utf8' });
  for (const flag of c.args.filter((a) => a.startsWith('--'))) {
    assert.ok(help.includes(flag), `pai-server has no ${flag}`);
  }
  assert.equal(one('PersistentVolumeClaim', 'rel-pai-server').spec.storageClassName, 'fast-ssd');
  assert.equal(one('Service', 'rel-pai-server').spec.ports[0].port, 7070);

  // The gateways serve what pai-server publishes, not gateway.manifests.
  const gw = one('StatefulSet', 'rel-pai-gateway');
  assert.equal(gw.spec.replicas, 3);
  const vols = Object.fromEntries(gw.spec.template.spec.volumes.map((v) => [v.name, v]));
  assert.equal(vols.config.secret.secretName, 'rel-pai-gateway-config');
  assert.equal(vols.tokens.secret.secretName, 'rel-pai-tokens');
  const gc = gw.spec.template.spec.containers[0];
  assert.equal(gc.args[gc.args.indexOf('--tokens-file') + 1], '/etc/pai/tokens/tokens.json');
  assert.equal(objs.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === 'rel-pai-gateway').length, 0);
});

test('negative: a misspelled field and a wrongly typed one are caught', async () => {
  const objs = render();
  const gw = structuredClone(byKind(objs, 'StatefulSet')[0]);
  gw.spec.template.spec.containers[0].readinessProb = gw.spec.template.spec.containers[0].readinessProbe;
  gw.spec.templat = {};
  assert.deepEqual(unknownFields(gw, 'V1StatefulSet').sort(), ['spec.templat', 'spec.template.spec.containers[0].readinessProb']);
  const typed = structuredClone(byKind(objs, 'StatefulSet')[0]);
  typed.spec.replicas = 'two';
  await assert.rejects(validateSchema(typed), /replicas/);
  const missing = structuredClone(byKind(objs, 'Service')[0]);
  missing.spec.ports[0].port = undefined;
  delete missing.spec.ports[0].port;
  await assert.rejects(validateSchema(missing), /port/);
});

test('kubectl patch --local: scaling and a new provider key merge into the rendered StatefulSet', () => {
  const objs = render();
  const gw = byKind(objs, 'StatefulSet')[0];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-helm-'));
  const file = path.join(dir, 'gw.yaml');
  fs.writeFileSync(file, YAML.stringify(gw));
  const patch = {
    spec: {
      replicas: 4,
      template: { spec: { containers: [{ name: 'gateway', env: [{ name: 'ANTHROPIC_API_KEY', valueFrom: { secretKeyRef: { name: 'anthropic', key: 'api-key' } } }] }] } },
    },
  };
  const out = execFileSync('kubectl', ['patch', '--local', '-f', file, '--type', 'strategic', '-p', JSON.stringify(patch), '-o', 'json'], { encoding: 'utf8' });
  const patched = JSON.parse(out);
  assert.equal(patched.spec.replicas, 4);
  const c = patched.spec.template.spec.containers[0];
  // Strategic merge: env merges by name, the rest of the container stays.
  assert.deepEqual(c.env.map((e) => e.name), ['ANTHROPIC_API_KEY', 'POD_NAME']);
  assert.deepEqual(c.args, gw.spec.template.spec.containers[0].args);
  assert.equal(c.readinessProbe.httpGet.path, '/readyz');
});

test('alerting rules: promtool test rules', () => {
  const out = execFileSync('promtool', ['test', 'rules', path.join(CHART, 'tests/prometheus-rules.test.yaml')], { encoding: 'utf8' });
  assert.match(out, /SUCCESS/);
});

test('every metric the rules and the dashboard use exists on a live gateway; the dashboard queries parse', { timeout: 60000 }, async (t) => {
  const rules = fs.readFileSync(path.join(CHART, 'files/prometheus-rules.yaml'), 'utf8');
  const dash = JSON.parse(fs.readFileSync(path.join(CHART, 'files/grafana-dashboard.json'), 'utf8'));
  const exprs = dash.panels.flatMap((p) => p.targets.map((x) => x.expr));
  assert.ok(exprs.length >= 14);
  // Grafana's variables replaced, each query becomes a recording rule that promtool parses.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-dash-'));
  const recording = {
    groups: [{
      name: 'dashboard',
      rules: exprs.map((e, i) => ({ record: `pai:dashboard_query_${i}`, expr: e.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', '.*').replaceAll('$agent', '.*') })),
    }],
  };
  fs.writeFileSync(path.join(dir, 'dashboard.rules.yaml'), YAML.stringify(recording));
  execFileSync('promtool', ['check', 'rules', path.join(dir, 'dashboard.rules.yaml')], { encoding: 'utf8' });

  const used = new Set([...`${rules}\n${exprs.join('\n')}`.matchAll(/\bpai_gateway_[a-z_]+/g)].map((m) => m[0]));
  // A live gateway: an agent with both budgets and a guard, one call, then /metrics.
  const upstream = await startOpenAIUpstream();
  t.after(() => upstream.close());
  const manifest = [
    `apiVersion: v1\nkind: Secret\nmetadata: {name: up-key}\nstringData: {api-key: ${PROVIDER_KEY}}\n`,
    paiDoc('ModelProvider', { name: 'up' }, { provider: 'openai', apiKeySecretRef: { name: 'up-key', key: 'api-key' }, baseURL: upstream.url, pricing: { 'gpt-4o-mini': { input: 1, output: 2 } } }),
    paiDoc('GuardBinding', { name: 'strict' }, { classifier: { type: 'builtin' }, enforcement: 'audit' }),
    paiDoc('Agent', { name: 'coder', namespace: 'default' }, { models: ['up/gpt-4o-mini'], tokens: { maxPerDay: 100000 }, rateLimits: { maxCostPerDayUSD: 5 }, guards: [{ binding: 'strict' }] }),
  ].join('---\n');
  const gw = await startGateway({ manifest, mintBefore: ['default/coder'] });
  t.after(() => gw.stop());
  await makeClient(gw.baseURL, gw.tokens[0]).chat.completions.create({ model: 'up/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
  const text = await (await fetch(`${gw.adminURL}/metrics`)).text();
  const families = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].flatMap((m) =>
    (m[2] === 'histogram' ? [m[1], `${m[1]}_bucket`, `${m[1]}_sum`, `${m[1]}_count`] : [m[1]])));
  const missing = [...used].filter((name) => !families.has(name));
  assert.deepEqual(missing, [], 'metrics used by the rules or the dashboard that the gateway does not export');
  t.diagnostic(`${used.size} metric names checked against /metrics`);
});

// Keywords a structural schema may not use (Kubernetes, "Specifying a structural schema").
const NOT_STRUCTURAL = ['$ref', 'definitions', 'dependencies', 'deprecated', 'discriminator', 'id',
  'patternProperties', 'readOnly', 'writeOnly', 'xml', 'additionalItems'];

/** Why `s` (a CRD's openAPIV3Schema node at `at`) is not structural, as messages. */
function structuralErrors(s, at = '') {
  const out = [];
  for (const k of NOT_STRUCTURAL) if (k in s) out.push(`${at}: ${k} is not allowed`);
  if (s.uniqueItems === true) out.push(`${at}: uniqueItems: true is not allowed`);
  if (!s.type && !s['x-kubernetes-preserve-unknown-fields'] && !s['x-kubernetes-int-or-string']) out.push(`${at}: no type`);
  if (s.properties && s.additionalProperties !== undefined) out.push(`${at}: properties and additionalProperties together`);
  for (const [k, v] of Object.entries(s.properties ?? {})) out.push(...structuralErrors(v, `${at}.${k}`));
  if (s.items && typeof s.items === 'object') out.push(...structuralErrors(s.items, `${at}[]`));
  if (s.additionalProperties && typeof s.additionalProperties === 'object') out.push(...structuralErrors(s.additionalProperties, `${at}{}`));
  for (const k of ['allOf', 'anyOf', 'oneOf']) for (const sub of s[k] ?? []) {
    // Inside a junctor only value validations are allowed: no type, no defaults.
    if ('default' in sub) out.push(`${at}.${k}: default inside ${k}`);
  }
  return out;
}

/**
 * An OpenAPI 3.0 schema (as Kubernetes reads CRDs) as JSON Schema for ajv: a boolean
 * exclusiveMinimum / exclusiveMaximum qualifies minimum / maximum; `nullable` admits null.
 */
function toJsonSchema(s) {
  if (Array.isArray(s)) return s.map(toJsonSchema);
  if (s === null || typeof s !== 'object') return s;
  const out = {};
  for (const [k, v] of Object.entries(s)) {
    out[k] = k === 'properties' ? Object.fromEntries(Object.entries(v).map(([n, p]) => [n, toJsonSchema(p)])) : toJsonSchema(v);
  }
  if (out.exclusiveMinimum === true) { out.exclusiveMinimum = out.minimum; delete out.minimum; }
  if (out.exclusiveMinimum === false) delete out.exclusiveMinimum;
  if (out.exclusiveMaximum === true) { out.exclusiveMaximum = out.maximum; delete out.maximum; }
  if (out.exclusiveMaximum === false) delete out.exclusiveMaximum;
  if (out.nullable === true && typeof out.type === 'string') { out.type = [out.type, 'null']; delete out.nullable; }
  return out;
}

test('CRDs: one per pai.io kind, generated (CTest crds_in_sync), structural, status subresource; the seed Agents validate', async () => {
  const crds = YAML.parseAllDocuments(fs.readFileSync(path.join(CHART, 'crds/pai.io.yaml'), 'utf8')).map((d) => d.toJS()).filter(Boolean);
  const kinds = crds.map((c) => c.spec.names.kind).sort();
  assert.deepEqual(kinds, ['Agent', 'Eval', 'GuardBinding', 'ModelProvider', 'PaiAccessToken', 'PaiFile', 'Provider', 'Session', 'Skill']);
  await checkObjects(crds);
  for (const c of crds) {
    assert.equal(c.metadata.name, `${c.spec.names.plural}.pai.io`);
    assert.equal(c.spec.scope, c.spec.names.kind === 'PaiAccessToken' ? 'Cluster' : 'Namespaced');
    const [v] = c.spec.versions;
    const schema = v.schema.openAPIV3Schema;
    assert.deepEqual(structuralErrors(schema, c.spec.names.kind), []);
    assert.deepEqual(schema.properties.metadata, { type: 'object' });
    assert.equal(Boolean(v.subresources?.status), Boolean(schema.properties.status), `${c.spec.names.kind}: status subresource`);
  }
  // Helm installs them before the templates; `helm template --include-crds` renders them.
  assert.equal(render().filter((o) => o.kind === 'CustomResourceDefinition').length, 0);
  const withCrds = YAML.parseAllDocuments(helm('template', 'rel', CHART, '--include-crds')).map((d) => d.toJS()).filter(Boolean);
  assert.equal(withCrds.filter((o) => o.kind === 'CustomResourceDefinition').length, crds.length);

  // The seeds' Agent examples are valid objects of the Agent CRD (as the API server would see them).
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  const agent = ajv.compile(toJsonSchema(crds.find((c) => c.spec.names.kind === 'Agent').spec.versions[0].schema.openAPIV3Schema));
  const seeds = process.env.PAI_SEEDS_DIR ?? path.join(ROOT, '../shared/seeds/examples');
  let checked = 0;
  for (const f of fs.readdirSync(seeds).filter((n) => n.endsWith('.yaml'))) {
    // YAML 1.1, as the API server reads manifests (1_000_000 is an integer there).
    for (const doc of YAML.parseAllDocuments(fs.readFileSync(path.join(seeds, f), 'utf8'), { version: '1.1' }).map((d) => d.toJS())) {
      if (doc?.kind !== 'Agent') continue;
      assert.ok(agent(doc), `${f}: ${JSON.stringify(agent.errors)}`);
      checked++;
    }
  }
  assert.ok(checked >= 2, `only ${checked} seed Agents found in ${seeds}`);
  // And a wrong one is not: the schema is not a formality.
  const bad = { apiVersion: 'pai.io/v1', kind: 'Agent', metadata: { name: 'x' }, spec: { runAsUser: 'root' } };
  assert.equal(agent(bad), false);
});
