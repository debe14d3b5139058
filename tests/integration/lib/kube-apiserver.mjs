// A stand-in for the Kubernetes API server (not a test file): no kube-apiserver can run on this
// machine class (shared/design/RUNTIME.md), so the tests of pai-server's Kubernetes runtime talk
// to this one, which speaks the API's wire format for what the runtime uses: the REST paths
// (/api/v1, /apis/<group>/<version>, namespaced and cluster-wide), bearer authentication,
// server-side apply (PATCH application/apply-patch+yaml with fieldManager; creates when absent;
// uid, resourceVersion, generation, creationTimestamp kept by the server), list by equality
// label selector, delete with DeleteOptions.propagationPolicy and garbage collection through
// ownerReferences[].uid, pods/log, errors as metav1.Status. Every applied object is validated
// against the Kubernetes schemas and checked for unknown fields (lib/k8s.mjs), and a Job's pod
// template is immutable, as on a real server. What it cannot show (admission plugins, apply
// conflicts between managers, RBAC enforcement) is listed in docs/kubernetes.md; instead it
// records every request as the RBAC verb and resource it needs (`requests`), so a test can
// compare them with `pai-server rbac`.

import http from 'node:http';
import crypto from 'node:crypto';
import { validateSchema, unknownFields, MODELS } from './k8s.mjs';

const CORE = { namespaces: 'Namespace', secrets: 'Secret', configmaps: 'ConfigMap', persistentvolumeclaims: 'PersistentVolumeClaim', services: 'Service', pods: 'Pod' };
const GROUPS = { 'apps/v1': { deployments: 'Deployment' }, 'batch/v1': { jobs: 'Job' }, 'networking.k8s.io/v1': { networkpolicies: 'NetworkPolicy' } };

function statusBody(code, reason, message) {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

class ApiError extends Error {
  constructor(code, reason, message) { super(message); this.code = code; this.reason = reason; }
}

function matches(labels = {}, selector) {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return labels[k] === v;
  });
}

export async function startKubeApiServer({ token }) {
  const objects = new Map(); // `${apiVersion}|${kind}|${ns}|${name}` → object
  const logs = new Map(); // `${ns}/${pod}` → text
  const requests = []; // { verb, group, resource, path }
  let rv = 1;
  const key = (apiVersion, kind, ns, name) => `${apiVersion}|${kind}|${ns ?? ''}|${name}`;
  // A cluster has these from the start.
  for (const ns of ['default', 'kube-system']) {
    objects.set(key('v1', 'Namespace', null, ns), { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, uid: crypto.randomUUID(), resourceVersion: '1' } });
  }
  // An admission webhook: (object) => a denial message, or undefined to admit.
  const admission = { deny: () => undefined };

  function parse(url) {
    const u = new URL(url, 'http://x');
    const segs = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    let apiVersion, group, table, rest;
    if (segs[0] === 'api' && segs[1] === 'v1') { apiVersion = 'v1'; group = ''; table = CORE; rest = segs.slice(2); }
    else if (segs[0] === 'apis' && segs.length >= 3) {
      apiVersion = `${segs[1]}/${segs[2]}`; group = segs[1]; table = GROUPS[apiVersion]; rest = segs.slice(3);
    }
    if (!table) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${u.pathname})`);
    let ns = null, plural, name, sub;
    if (rest[0] === 'namespaces' && rest.length >= 3) [, ns, plural, name, sub] = rest;
    else [plural, name, sub] = rest;
    const kind = table[plural];
    if (!kind) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural})`);
    return { apiVersion, group, plural, kind, ns, name, sub, query: u.searchParams };
  }

  function gc(uid) {
    for (const [k, o] of objects) {
      if ((o.metadata.ownerReferences ?? []).some((r) => r.uid === uid)) {
        objects.delete(k);
        gc(o.metadata.uid);
      }
    }
  }

  async function apply(r, body, contentType) {
    if (contentType !== 'application/apply-patch+yaml') throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/apply-patch+yaml (got ${contentType})`);
    if (!r.query.get('fieldManager')) throw new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch');
    const obj = JSON.parse(body); // pai-server sends JSON, which is YAML
    if (obj.apiVersion !== r.apiVersion || obj.kind !== r.kind) throw new ApiError(400, 'BadRequest', `the API version in the data (${obj.apiVersion}) does not match the expected API version (${r.apiVersion})`);
    if (obj.metadata?.name !== r.name) throw new ApiError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    if (r.ns && (obj.metadata?.namespace ?? r.ns) !== r.ns) throw new ApiError(400, 'BadRequest', 'the namespace of the object does not match the namespace on the request');
    if (r.ns && !objects.has(key('v1', 'Namespace', null, r.ns))) throw new ApiError(404, 'NotFound', `namespaces "${r.ns}" not found`);
    const entry = MODELS[`${obj.apiVersion}/${obj.kind}`];
    if (entry) {
      try { await validateSchema(obj); } catch (e) { throw new ApiError(422, 'Invalid', `${obj.kind} "${r.name}" is invalid: ${e.message}`); }
      const unknown = unknownFields(obj, entry[2]);
      if (unknown.length) throw new ApiError(400, 'BadRequest', `.${unknown[0]}: field not declared in schema`);
    }
    const denied = admission.deny(obj);
    if (denied) throw new ApiError(400, 'BadRequest', `admission webhook "validate.policy.example" denied the request: ${denied}`);
    const k = key(r.apiVersion, r.kind, r.ns, r.name);
    const old = objects.get(k);
    if (old && r.kind === 'Job' && JSON.stringify(old.spec.template) !== JSON.stringify(obj.spec.template)) {
      throw new ApiError(422, 'Invalid', `Job.batch "${r.name}" is invalid: spec.template: Invalid value: field is immutable`);
    }
    const stored = structuredClone(obj);
    if (stored.kind === 'Secret' && stored.stringData) {
      stored.data = { ...(stored.data ?? {}) };
      for (const [sk, sv] of Object.entries(stored.stringData)) stored.data[sk] = Buffer.from(sv).toString('base64');
      delete stored.stringData;
    }
    stored.metadata = {
      ...stored.metadata,
      namespace: r.ns ?? undefined,
      uid: old?.metadata.uid ?? crypto.randomUUID(),
      creationTimestamp: old?.metadata.creationTimestamp ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      resourceVersion: String(++rv),
      generation: old ? old.metadata.generation + (JSON.stringify(old.spec) === JSON.stringify(stored.spec) ? 0 : 1) : 1,
    };
    if (old?.status) stored.status = old.status;
    objects.set(k, stored);
    return { created: !old, object: stored };
  }

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', async () => {
      const send = (code, obj, type = 'application/json') => {
        res.writeHead(code, { 'Content-Type': type });
        res.end(typeof obj === 'string' ? obj : JSON.stringify(obj));
      };
      try {
        if (req.headers.authorization !== `Bearer ${token}`) throw new ApiError(401, 'Unauthorized', 'Unauthorized');
        const r = parse(req.url);
        const resource = r.sub ? `${r.plural}/${r.sub}` : r.plural;
        const note = (verb) => requests.push({ verb, group: r.group, resource, path: req.url });
        if (req.method === 'GET' && r.sub === 'log') {
          note('get');
          const text = logs.get(`${r.ns}/${r.name}`);
          if (text === undefined) throw new ApiError(404, 'NotFound', `pods "${r.name}" not found`);
          const limit = Number(r.query.get('limitBytes') ?? Infinity);
          return send(200, text.slice(Math.max(0, text.length - limit)), 'text/plain');
        }
        if (r.sub) throw new ApiError(404, 'NotFound', `subresource ${r.sub} is not served here`);
        if (req.method === 'GET' && r.name) {
          note('get');
          const o = objects.get(key(r.apiVersion, r.kind, r.ns, r.name));
          if (!o) throw new ApiError(404, 'NotFound', `${r.plural} "${r.name}" not found`);
          return send(200, o);
        }
        if (req.method === 'GET') {
          note('list');
          const sel = r.query.get('labelSelector');
          const items = [...objects.values()].filter((o) => o.apiVersion === r.apiVersion && o.kind === r.kind
            && (!r.ns || o.metadata.namespace === r.ns) && matches(o.metadata.labels, sel));
          return send(200, { apiVersion: r.apiVersion, kind: `${r.kind}List`, metadata: { resourceVersion: String(rv) }, items });
        }
        if (req.method === 'PATCH' && r.name) {
          note('patch');
          const { created, object } = await apply(r, body, req.headers['content-type']);
          if (created) note('create');
          return send(created ? 201 : 200, object);
        }
        if (req.method === 'DELETE' && r.name) {
          note('delete');
          const k = key(r.apiVersion, r.kind, r.ns, r.name);
          const o = objects.get(k);
          if (!o) throw new ApiError(404, 'NotFound', `${r.plural} "${r.name}" not found`);
          const opts = body ? JSON.parse(body) : {};
          objects.delete(k);
          if (opts.propagationPolicy !== 'Orphan') gc(o.metadata.uid);
          return send(200, { kind: 'Status', apiVersion: 'v1', status: 'Success', details: { name: r.name, uid: o.metadata.uid } });
        }
        throw new ApiError(405, 'MethodNotAllowed', `${req.method} is not supported here`);
      } catch (e) {
        if (!(e instanceof ApiError)) { console.error(e); e = new ApiError(500, 'InternalError', String(e)); }
        send(e.code, statusBody(e.code, e.reason, e.message));
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  server.unref(); // the tests close it; a missed close must not keep the test process alive
  const url = `http://127.0.0.1:${server.address().port}`;

  return {
    url,
    requests,
    objects,
    admission,
    /** The stored object, or undefined. */
    get: (apiVersion, kind, ns, name) => objects.get(key(apiVersion, kind, ns, name)),
    list: (kind) => [...objects.values()].filter((o) => o.kind === kind),
    /** What a kubelet or controller would write: status, pods, logs. */
    setStatus(apiVersion, kind, ns, name, status) {
      const o = objects.get(key(apiVersion, kind, ns, name));
      if (!o) throw new Error(`${kind} ${ns}/${name} does not exist`);
      o.status = status;
      o.metadata.resourceVersion = String(++rv);
    },
    /** A pod of the workload whose object has uid `ownerUid` (deleted with it). */
    addPod(ns, name, labels, status, ownerUid) {
      objects.set(key('v1', 'Pod', ns, name), {
        apiVersion: 'v1', kind: 'Pod',
        metadata: { name, namespace: ns, labels, uid: crypto.randomUUID(), resourceVersion: String(++rv), ownerReferences: ownerUid ? [{ apiVersion: 'v1', kind: 'Owner', name, uid: ownerUid }] : [] },
        spec: { containers: [] }, status,
      });
    },
    setLog: (ns, pod, text) => logs.set(`${ns}/${pod}`, text),
    // close() first (no new connections), then every open one, idle keep-alive ones included.
    close: () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }),
  };
}
