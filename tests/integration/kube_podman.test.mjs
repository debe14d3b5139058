// A rendered Session pod run for real: `pai-server render` → the Job's pod template as a Pod →
// `podman kube play --network none` (podman 4.3 with runc, ../shared/design/RUNTIME.md), on an
// image imported offline from busybox-static. It checks what Kubernetes would enforce and
// podman reproduces: the user (runAsUser), the read-only root file system, the identity token
// file, session.json, the environment, the memory limit, and configFiles seeded once into the
// volume (an edit survives the next run: copy-no-clobber).
//
// podman 4.3 lacks three things a kubelet has, which the test supplies itself (and only these):
// Secret volumes and secretKeyRef (the identity Secret is given as a ConfigMap with the same
// data), subPath mounts of ConfigMaps (each such file becomes a ConfigMap volume with one item at
// its directory), and fsGroup ownership of volumes (the PVC's podman volume is created owned by
// the pod's fsGroup, as the kubelet makes it).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SERVER = process.env.PAI_SERVER_BIN ?? path.join(ROOT, 'build/src/server/pai-server');
const IMAGE = 'localhost/pai-kube-test:1';
const UID = 4242;

function podman(env, ...args) {
  return execFileSync('podman', args, { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The rendered objects as podman 4.3 can play them (see the header). */
function forPodman(objs) {
  const out = [];
  const configMaps = new Map();
  for (const o of objs) {
    if (o.kind === 'Secret') {
      out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: o.metadata.name }, data: o.stringData });
    } else if (o.kind === 'ConfigMap') {
      configMaps.set(o.metadata.name, o);
      out.push(o);
    }
  }
  const job = objs.find((o) => o.kind === 'Job');
  const spec = structuredClone(job.spec.template.spec);
  for (const v of spec.volumes) {
    if (v.projected) {
      v.configMap = { name: v.projected.sources[0].secret.name };
      delete v.projected;
    }
  }
  for (const c of [...spec.containers, ...(spec.initContainers ?? [])]) {
    for (const e of c.env ?? []) {
      if (e.valueFrom?.secretKeyRef) e.valueFrom = { configMapKeyRef: e.valueFrom.secretKeyRef };
    }
    c.volumeMounts = (c.volumeMounts ?? []).map((m, i) => {
      if (!m.subPath) return m;
      const source = spec.volumes.find((v) => v.name === m.name).configMap.name;
      const name = `${m.name}-item-${i}`;
      spec.volumes.push({ name, configMap: { name: source, items: [{ key: m.subPath, path: path.basename(m.mountPath) }] } });
      return { name, mountPath: path.dirname(m.mountPath), readOnly: true };
    });
  }
  out.push({ apiVersion: 'v1', kind: 'Pod', metadata: { name: job.metadata.name, labels: job.spec.template.metadata.labels }, spec });
  return { docs: out, spec };
}

test('a rendered Session pod runs under podman kube play: user, read-only root, identity, session.json, limits, seeded files kept', { timeout: 120000 }, async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-podman-'));
  const conf = path.join(dir, 'containers.conf');
  fs.writeFileSync(conf, '[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n');
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const pod = 'session-probe-session';
  const claim = `${pod}-workspace`;
  // What an interrupted earlier run may have left.
  for (const args of [['pod', 'rm', '-f', pod], ['volume', 'rm', '-f', claim, `${pod}-files`, `${pod}-identity`], ['rmi', '-f', IMAGE]]) spawnSync('podman', args, { env });

  // An image of busybox-static alone (no registry is reachable).
  const rootfs = path.join(dir, 'rootfs');
  fs.mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  fs.copyFileSync('/usr/bin/busybox', path.join(rootfs, 'bin/busybox'));
  fs.chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  for (const c of ['sh', 'cat', 'id', 'echo', 'mkdir', 'cp', 'touch', 'test']) fs.symlinkSync('busybox', path.join(rootfs, 'bin', c));
  execFileSync('tar', ['-C', rootfs, '-cf', path.join(dir, 'rootfs.tar'), '.']);
  podman(env, 'import', '--change', 'ENV=PATH=/bin', path.join(dir, 'rootfs.tar'), IMAGE);

  const script = [
    'echo "uid=$(id -u)"',
    'echo "token=$(cat /var/run/secrets/pai/token)"',
    'echo "session=$(cat /run/pai/session.json)"',
    'echo "notes=$(cat /workspace/notes/README.md)"',
    'echo "base=$OPENAI_BASE_URL key=$OPENAI_API_KEY session_env=$PAI_SESSION"',
    'echo edited-by-the-agent > /workspace/notes/README.md',
    'touch /written-to-root 2>/dev/null && echo root=writable || echo root=read-only',
  ].join('; ');
  const manifest = `apiVersion: pai.io/v1
kind: Agent
metadata: {name: probe, namespace: default}
spec:
  image: ${IMAGE}
  command: [/bin/sh, -c, ${JSON.stringify(script)}]
  runAsUser: ${UID}
  configFiles:
  - {path: /workspace/notes/README.md, content: seeded notes}
  volumes:
  - {name: workspace, mountPath: /workspace, size: 1Gi}
  resources:
    limits: {memory: 64Mi}
`;
  fs.writeFileSync(path.join(dir, 'agent.yaml'), manifest);
  const objs = YAML.parseAllDocuments(execFileSync(SERVER, ['render', '-f', path.join(dir, 'agent.yaml'), '--pai-image', IMAGE], { encoding: 'utf8' })).map((d) => d.toJS()).filter(Boolean);
  const { docs, spec } = forPodman(objs);
  const play = path.join(dir, 'play.yaml');
  fs.writeFileSync(play, docs.map((d) => YAML.stringify(d)).join('---\n'));
  assert.equal(docs.at(-1).metadata.name, pod);
  assert.equal(spec.volumes.find((v) => v.persistentVolumeClaim).persistentVolumeClaim.claimName, claim);

  const cleanup = () => {
    spawnSync('podman', ['kube', 'down', play], { env });
    spawnSync('podman', ['pod', 'rm', '-f', pod], { env });
    // kube play keeps each ConfigMap's data in a volume of the same name.
    for (const d of docs.filter((x) => x.kind === 'ConfigMap')) spawnSync('podman', ['volume', 'rm', '-f', d.metadata.name], { env });
    spawnSync('podman', ['volume', 'rm', '-f', claim], { env });
    spawnSync('podman', ['rmi', '-f', IMAGE], { env });
  };
  t.after(cleanup);
  podman(env, 'volume', 'create', claim);
  const mountpoint = podman(env, 'volume', 'inspect', '-f', '{{.Mountpoint}}', claim).trim();
  fs.chownSync(mountpoint, spec.securityContext.fsGroup, spec.securityContext.fsGroup);

  /** One run of the pod: the agent container's output and exit code. */
  function run() {
    spawnSync('podman', ['pod', 'rm', '-f', pod], { env });
    podman(env, 'kube', 'play', '--network', 'none', play);
    const agent = `${pod}-agent`;
    const code = podman(env, 'wait', agent).trim();
    const logs = podman(env, 'logs', agent);
    const memory = podman(env, 'inspect', agent, '--format', '{{.HostConfig.Memory}}').trim();
    return { code, logs: Object.fromEntries(logs.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)])), memory };
  }

  const first = run();
  assert.equal(first.code, '0', JSON.stringify(first.logs));
  assert.equal(first.logs.uid, String(UID));
  assert.equal(first.logs.token, '(minted by the controller)');
  assert.deepEqual(JSON.parse(first.logs.session), { agent: 'probe', task: '(the Session\'s task)' });
  assert.equal(first.logs.notes, 'seeded notes');
  assert.match(first.logs.base, /^http:\/\/pai-gateway\.pai\.svc:4000\/v1 key=\(minted by the controller\) session_env=probe-session$/);
  assert.equal(first.logs.root, 'read-only');
  assert.equal(first.memory, String(64 * 1024 * 1024));

  // The next run finds the agent's edit: the init container does not overwrite it.
  const second = run();
  assert.equal(second.code, '0');
  assert.equal(second.logs.notes, 'edited-by-the-agent');
});
