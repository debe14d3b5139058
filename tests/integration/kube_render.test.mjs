// The Kubernetes objects of Pai workloads (`pai-server render`, src/kube/render.h): the seeds'
// Agents rendered, every object validated against the Kubernetes schemas and checked for
// unknown fields, the mappings the product documents promise (runAsUser never root, the
// Session record's ttlSecondsAfterFinished mapped onto the Job, secrets by reference only,
// ownerReferences for cascade deletion, egress only to the gateway and DNS), and an update
// merged with `kubectl patch --local`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { checkObjects } from './lib/k8s.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER = process.env.PAI_SERVER_BIN ?? path.join(ROOT, 'build/src/server/pai-server');
const SEEDS = process.env.PAI_SEEDS_DIR ?? path.join(ROOT, '../shared/seeds/examples');

function renderFile(file) {
  const out = execFileSync(SERVER, ['render', '-f', file, '--gateway-url', 'http://pai-gateway.pai.svc:4000'], { encoding: 'utf8' });
  return YAML.parseAllDocuments(out).map((d) => d.toJS()).filter(Boolean);
}

function renderText(text) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-render-'));
  const file = path.join(dir, 'agent.yaml');
  fs.writeFileSync(file, text);
  return renderFile(file);
}

const one = (objs, kind) => {
  const found = objs.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `${kind}: ${found.length} rendered`);
  return found[0];
};

test('the seeds render to valid Kubernetes objects without unknown fields', async () => {
  const files = fs.readdirSync(SEEDS).filter((f) => /^agent-.*\.yaml$/.test(f));
  assert.ok(files.length >= 2, `seed Agents in ${SEEDS}: ${files}`);
  for (const f of files) {
    const objs = renderFile(path.join(SEEDS, f));
    assert.ok(objs.length >= 3, `${f}: ${objs.length} objects`);
    await checkObjects(objs);
    for (const o of objs) {
      // Cascade deletion: every object is owned by its Pai resource.
      const [owner] = o.metadata.ownerReferences;
      assert.equal(owner.apiVersion, 'pai.io/v1');
      assert.ok(['Agent', 'Session'].includes(owner.kind));
      assert.equal(owner.controller, true);
    }
  }
});

test('long-running Agent: Deployment with the seed\'s user, volumes, config files, secrets by reference; ingress from inbound.allowCIDRs, egress to the gateway and DNS only', () => {
  const objs = renderFile(path.join(SEEDS, 'agent-long-running.yaml'));
  const seed = YAML.parse(fs.readFileSync(path.join(SEEDS, 'agent-long-running.yaml'), 'utf8'), { version: '1.1' });
  const dep = one(objs, 'Deployment');
  assert.equal(dep.metadata.namespace, seed.metadata.namespace ?? 'default');
  assert.equal(dep.spec.replicas, seed.spec.autoscaling?.minReplicas ?? seed.spec.replicas ?? 1);
  const pod = dep.spec.template.spec;
  assert.equal(pod.securityContext.runAsUser, seed.spec.runAsUser);
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.automountServiceAccountToken, false);
  const [c] = pod.containers;
  assert.equal(c.image, seed.spec.image);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
  assert.equal(c.securityContext.readOnlyRootFilesystem, true);
  assert.deepEqual(c.resources, seed.spec.resources);
  // Env: the Agent's secretRef stays a reference; the gateway identity comes from its Secret.
  const env = Object.fromEntries(c.env.map((e) => [e.name, e]));
  for (const e of seed.spec.env ?? []) {
    if (e.secretRef) assert.deepEqual(env[e.name].valueFrom.secretKeyRef, { name: e.secretRef.name, key: e.secretRef.key });
    else assert.equal(env[e.name].value, String(e.value));
  }
  assert.equal(env.OPENAI_BASE_URL.value, 'http://pai-gateway.pai.svc:4000/v1');
  assert.deepEqual(env.OPENAI_API_KEY.valueFrom.secretKeyRef, { name: 'agent-dev-assistant-identity', key: 'token' });
  assert.equal(one(objs, 'Secret').metadata.name, 'agent-dev-assistant-identity');
  // Volumes: one PVC each, mounted where the spec says.
  for (const v of seed.spec.volumes ?? []) {
    const pvc = objs.find((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === `agent-dev-assistant-${v.name}`);
    assert.equal(pvc.spec.resources.requests.storage, String(v.size));
    assert.ok(c.volumeMounts.some((m) => m.mountPath === v.mountPath && m.name === `vol-${v.name}`));
  }
  // Config files: in the ConfigMap, each mounted or seeded at its path.
  const cm = one(objs, 'ConfigMap');
  for (const f of seed.spec.configFiles ?? []) {
    assert.ok(Object.values(cm.data).includes(f.content), `${f.path} content`);
    const mounted = c.volumeMounts.some((m) => m.mountPath === f.path);
    const seeded = (pod.initContainers ?? []).some((i) => i.command.join(' ').includes(f.path));
    assert.ok(mounted || seeded, `${f.path} reaches the pod`);
  }
  // NetworkPolicy: ingress only on the inbound port from its CIDRs; egress to the gateway's
  // pods on 4000 and DNS.
  const np = one(objs, 'NetworkPolicy');
  assert.deepEqual(np.spec.policyTypes, ['Ingress', 'Egress']);
  const inbound = seed.spec.inbound;
  assert.deepEqual(np.spec.ingress, inbound?.allowCIDRs?.length
    ? [{ from: inbound.allowCIDRs.map((cidr) => ({ ipBlock: { cidr } })), ports: [{ protocol: 'TCP', port: inbound.port }] }]
    : undefined);
  if (inbound) assert.equal(one(objs, 'Service').spec.ports[0].port, inbound.port);
  assert.deepEqual(np.spec.egress.map((e) => e.ports.map((p) => `${p.protocol}/${p.port}`).join(',')), ['TCP/4000', 'UDP/53,TCP/53']);
  assert.deepEqual(np.spec.podSelector.matchLabels, dep.spec.selector.matchLabels);
});

test('Session: a Job that never retries; ttlSecondsAfterFinished 0 (keep forever) leaves the Job\'s unset, N becomes N', () => {
  const agent = (extra) => `apiVersion: pai.io/v1
kind: Agent
metadata: {name: coder, namespace: team-b}
spec:
  models: [mock/gpt-4o-mini]
  runAsUser: 4242
  configFiles:
  - path: /workspace/notes/README.md
    content: "# notes\\n"
  volumes:
  - {name: workspace, mountPath: /workspace, size: 2Gi}
${extra}`;
  const keep = renderText(agent('  ttlSecondsAfterFinished: 0\n'));
  const job = one(keep, 'Job');
  assert.equal(job.spec.ttlSecondsAfterFinished, undefined, '0 = keep forever: no Job TTL');
  assert.equal(job.spec.backoffLimit, 0);
  const pod = job.spec.template.spec;
  assert.equal(pod.restartPolicy, 'Never');
  assert.equal(pod.securityContext.runAsUser, 4242);
  assert.deepEqual(pod.containers[0].command, ['pai-harness', '--events-fd', '1']);
  assert.equal(Object.fromEntries(pod.containers[0].env.map((e) => [e.name, e.value])).PAI_SESSION, 'coder-session');
  // The config file lies in a volume: seeded once by the init container, never overwritten.
  assert.match(pod.initContainers[0].command[2], /\[ -e '\/workspace\/notes\/README.md' \] \|\| \{ mkdir -p '\/workspace\/notes' && cp /);
  // session.json for the harness.
  assert.ok(pod.containers[0].volumeMounts.some((m) => m.mountPath === '/run/pai/session.json' && m.readOnly));
  assert.equal(one(keep, 'Job').metadata.ownerReferences[0].kind, 'Session');
  assert.equal(one(renderText(agent('  ttlSecondsAfterFinished: 3600\n')), 'Job').spec.ttlSecondsAfterFinished, 3600);
  assert.equal(one(renderText(agent('')), 'Job').spec.ttlSecondsAfterFinished, undefined);
});

test('runAsUser 0 is refused in one line with a non-zero exit', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-render-'));
  const file = path.join(dir, 'root.yaml');
  fs.writeFileSync(file, 'apiVersion: pai.io/v1\nkind: Agent\nmetadata: {name: r}\nspec: {models: [mock/m], runAsUser: 0}\n');
  const r = spawnSync(SERVER, ['render', '-f', file], { encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.equal(r.stdout, '');
  assert.match(r.stderr.trim(), /^[^\n]*spec\.runAsUser: 0 \(root\) is refused[^\n]*$/);
});

test('inbound: a Service and ingress only from allowCIDRs; kubectl patch --local merges a scale and an env change', () => {
  const objs = renderText(`apiVersion: pai.io/v1
kind: Agent
metadata: {name: web}
spec:
  longRunning: true
  image: registry.example.com/web:1
  replicas: 2
  inbound: {port: 3000, allowCIDRs: ["10.0.0.0/8"]}
  env: [{name: MODE, value: prod}]
`);
  const svc = one(objs, 'Service');
  assert.deepEqual(svc.spec.ports, [{ name: 'inbound', port: 3000, targetPort: 'inbound' }]);
  const np = one(objs, 'NetworkPolicy');
  assert.deepEqual(np.spec.ingress, [{ from: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ protocol: 'TCP', port: 3000 }] }]);
  const dep = one(objs, 'Deployment');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-render-'));
  const file = path.join(dir, 'dep.yaml');
  fs.writeFileSync(file, YAML.stringify(dep));
  // What a reconcile after `pai apply` (replicas 3, MODE=debug) sends as a strategic merge patch.
  const patch = { spec: { replicas: 3, template: { spec: { containers: [{ name: 'agent', env: [{ name: 'MODE', value: 'debug' }] }] } } } };
  const out = JSON.parse(execFileSync('kubectl', ['patch', '--local', '-f', file, '--type', 'strategic', '-p', JSON.stringify(patch), '-o', 'json'], { encoding: 'utf8' }));
  assert.equal(out.spec.replicas, 3);
  const env = out.spec.template.spec.containers[0].env;
  assert.equal(env.find((e) => e.name === 'MODE').value, 'debug');
  assert.equal(env.length, dep.spec.template.spec.containers[0].env.length, 'env merged by name, nothing lost');
  assert.deepEqual(out.spec.template.spec.securityContext, dep.spec.template.spec.securityContext);
});
