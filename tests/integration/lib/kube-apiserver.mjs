// A stand-in for the Kubernetes API server (not a test file): no kube-apiserver can run on this
// machine class (shared/design/RUNTIME.md), so the tests of pai-server's Kubernetes runtime talk
// to this one, which speaks the API's wire format for what the runtime uses: the REST paths
// (/api/v1, /apis/<group>/<version>, namespaced and cluster-wide), bearer authentication,
// server-side apply (PATCH application/apply-patch+yaml with fieldManager; creates when absent;
// uid, resourceVersion, generation, creationTimestamp kept by the server), create (POST), update
// (PUT; optimistic concurrency on metadata.resourceVersion, required for custom resources; a
// no-op update writes nothing), the status subresource, custom resources of installed CRDs
// (`installCrds`: scope, status subresource, generation moved by everything but metadata and
// status, fieldValidation=Strict against the CRD's structural schema), lists as
// PartialObjectMetadataList when asked, follow=true logs, watch (newline-delimited
// WatchEvents after a resourceVersion, bookmarks, timeoutSeconds, 410 Gone for a compacted
// version), list by equality label selector, delete with DeleteOptions.propagationPolicy and
// garbage collection through ownerReferences[].uid, pods/log, errors as metav1.Status. Every applied object is validated
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

// crdUnknown(): the fields of `value` a structural schema does not declare (what the API server
// would prune, and refuses under fieldValidation=Strict), as JSON paths.
function crdUnknown(value, schema, at) {
  if (!schema || value === null || typeof value !== 'object') return [];
  if (schema['x-kubernetes-preserve-unknown-fields']) return [];
  if (Array.isArray(value)) return value.flatMap((x, i) => crdUnknown(x, schema.items, `${at}[${i}]`));
  const out = [];
  for (const [k, x] of Object.entries(value)) {
    const path = at ? `${at}.${k}` : k;
    if (schema.properties && k in schema.properties) out.push(...crdUnknown(x, schema.properties[k], path));
    else if (schema.additionalProperties && typeof schema.additionalProperties === 'object') out.push(...crdUnknown(x, schema.additionalProperties, path));
    else if (schema.additionalProperties !== true) out.push(path);
  }
  return out;
}

export async function startKubeApiServer({ token }) {
  const objects = new Map(); // `${apiVersion}|${kind}|${ns}|${name}` → object
  const logs = new Map(); // `${ns}/${pod}` → text
  const followers = new Map(); // `${ns}/${pod}` → Set of { write, end }: follow=true readers
  const ended = new Set(); // `${ns}/${pod}` whose container ended (follow streams end)
  const requests = []; // { verb, group, resource, path }
  const crds = new Map(); // `${group}/${version}` → { plural → { kind, namespaced, schema, status } }
  const history = []; // { rv, type, object } for watches
  const watchers = new Set(); // (event) => void
  const watchEnds = new Set(); // () => void: ends one open watch
  let compactedBefore = 0; // a watch from an older resourceVersion gets 410 Gone
  let rv = 1;
  function record(type, object) {
    const ev = { rv: Number(object.metadata.resourceVersion), type, object: structuredClone(object) };
    history.push(ev);
    for (const w of watchers) w(ev);
  }
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
    let crd;
    if (segs[0] === 'api' && segs[1] === 'v1') { apiVersion = 'v1'; group = ''; table = CORE; rest = segs.slice(2); }
    else if (segs[0] === 'apis' && segs.length >= 3) {
      apiVersion = `${segs[1]}/${segs[2]}`; group = segs[1]; rest = segs.slice(3);
      table = GROUPS[apiVersion];
      if (!table && crds.has(apiVersion)) { crd = crds.get(apiVersion); table = Object.fromEntries(Object.entries(crd).map(([p, d]) => [p, d.kind])); }
    }
    if (!table) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${u.pathname})`);
    let ns = null, plural, name, sub;
    if (rest[0] === 'namespaces' && rest.length >= 3) [, ns, plural, name, sub] = rest;
    else [plural, name, sub] = rest;
    const kind = table[plural];
    if (!kind) throw new ApiError(404, 'NotFound', `the server could not find the requested resource (${plural})`);
    return { apiVersion, group, plural, kind, ns, name, sub, query: u.searchParams, crd: crd?.[plural] };
  }

  function gc(uid) {
    for (const [k, o] of objects) {
      if ((o.metadata.ownerReferences ?? []).some((r) => r.uid === uid)) {
        objects.delete(k);
        o.metadata.resourceVersion = String(++rv);
        record('DELETED', o);
        gc(o.metadata.uid);
      }
    }
  }

  // Strict field validation: a custom resource against its CRD's schema, a core object against
  // the Kubernetes models.
  function strict(r, obj) {
    if (r.crd) {
      const { metadata, apiVersion, kind, ...rest } = obj;
      const unknown = crdUnknown(rest, r.crd.schema, '');
      if (unknown.length) throw new ApiError(400, 'BadRequest', `${r.kind} in version "v1" cannot be handled as a ${r.kind}: strict decoding error: unknown field "${unknown[0]}"`);
      return;
    }
    const entry = MODELS[`${obj.apiVersion}/${obj.kind}`];
    if (entry) {
      const unknown = unknownFields(obj, entry[2]);
      if (unknown.length) throw new ApiError(400, 'BadRequest', `strict decoding error: unknown field "${unknown[0]}"`);
    }
  }

  function checkBody(r, obj, name) {
    if (obj.apiVersion !== r.apiVersion || obj.kind !== r.kind) throw new ApiError(400, 'BadRequest', `the API version in the data (${obj.apiVersion}) does not match the expected API version (${r.apiVersion})`);
    if (obj.metadata?.name !== name || !name) throw new ApiError(400, 'BadRequest', 'the name of the object does not match the name on the URL');
    if (r.ns && (obj.metadata?.namespace ?? r.ns) !== r.ns) throw new ApiError(400, 'BadRequest', 'the namespace of the object does not match the namespace on the request');
    if (r.ns && !objects.has(key('v1', 'Namespace', null, r.ns))) throw new ApiError(404, 'NotFound', `namespaces "${r.ns}" not found`);
  }

  const now = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const specOf = (o) => { const { metadata, status, ...rest } = o; return JSON.stringify(rest); };
  const resourceName = (r) => (r.group ? `${r.plural}.${r.group}` : r.plural);

  function create(r, body) {
    const obj = JSON.parse(body);
    checkBody(r, obj, obj.metadata?.name);
    if (r.query.get('fieldValidation') === 'Strict') strict(r, obj);
    const k = key(r.apiVersion, r.kind, r.ns, obj.metadata.name);
    if (objects.has(k)) throw new ApiError(409, 'AlreadyExists', `${resourceName(r)} "${obj.metadata.name}" already exists`);
    const stored = structuredClone(obj);
    if (r.crd?.status) delete stored.status;
    stored.metadata = { ...stored.metadata, namespace: r.ns ?? undefined, uid: crypto.randomUUID(), creationTimestamp: now(), resourceVersion: String(++rv), generation: 1 };
    for (const f of ['managedFields', 'deletionTimestamp']) delete stored.metadata[f];
    objects.set(k, stored);
    record('ADDED', stored);
    return stored;
  }

  function update(r, body) {
    const obj = JSON.parse(body);
    checkBody(r, obj, r.name);
    if (r.query.get('fieldValidation') === 'Strict') strict(r, obj);
    const k = key(r.apiVersion, r.kind, r.ns, r.name);
    const old = objects.get(k);
    if (!old) throw new ApiError(404, 'NotFound', `${resourceName(r)} "${r.name}" not found`);
    const given = obj.metadata?.resourceVersion;
    if (r.crd && !given) throw new ApiError(422, 'Invalid', `${r.kind}.${r.group} "${r.name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
    if (given && given !== old.metadata.resourceVersion) throw new ApiError(409, 'Conflict', `Operation cannot be fulfilled on ${resourceName(r)} "${r.name}": the object has been modified; please apply your changes to the latest version and try again`);
    if (obj.metadata?.uid && obj.metadata.uid !== old.metadata.uid) throw new ApiError(409, 'Conflict', `Precondition failed: UID in precondition: ${obj.metadata.uid}, UID in object meta: ${old.metadata.uid}`);
    let next;
    if (r.sub === 'status') {
      next = { ...structuredClone(old), status: obj.status };
    } else {
      next = structuredClone(obj);
      if (r.crd?.status) { if (old.status) next.status = old.status; else delete next.status; }
      next.metadata = { ...next.metadata, namespace: r.ns ?? undefined, uid: old.metadata.uid, creationTimestamp: old.metadata.creationTimestamp, generation: old.metadata.generation };
      delete next.metadata.managedFields;
      if (r.crd && specOf(next) !== specOf(old)) next.metadata.generation += 1;
    }
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    if (JSON.stringify(next) === JSON.stringify(old)) return old; // a no-op update writes nothing
    next.metadata.resourceVersion = String(++rv);
    objects.set(k, next);
    record('MODIFIED', next);
    return next;
  }

  function watch(r, req, res) {
    const from = Number(r.query.get('resourceVersion') || 0);
    if (from && from < compactedBefore) throw new ApiError(410, 'Expired', `too old resource version: ${from} (${compactedBefore})`);
    const sel = r.query.get('labelSelector');
    const wanted = (o) => o.apiVersion === r.apiVersion && o.kind === r.kind && (!r.ns || o.metadata.namespace === r.ns) && matches(o.metadata.labels, sel);
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    const send = (ev) => { if (ev.rv > from && wanted(ev.object)) res.write(`${JSON.stringify({ type: ev.type, object: ev.object })}\n`); };
    for (const ev of history) send(ev);
    watchers.add(send);
    const end = () => { watchers.delete(send); watchEnds.delete(end); clearTimeout(timer); res.end(); };
    watchEnds.add(end);
    const timer = setTimeout(end, Number(r.query.get('timeoutSeconds') ?? 1800) * 1000);
    res.on('close', end);
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
    record(old ? 'MODIFIED' : 'ADDED', stored);
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
          if (r.query.get('follow') === 'true') {
            // The log so far, then what the container writes, until it ends (endLog) or the
            // client goes.
            res.writeHead(200, { 'Content-Type': 'text/plain', 'Transfer-Encoding': 'chunked' });
            res.write(text);
            const k = `${r.ns}/${r.name}`;
            const f = { write: (t) => res.write(t), end: () => res.end() };
            if (!followers.has(k)) followers.set(k, new Set());
            followers.get(k).add(f);
            res.on('close', () => followers.get(k)?.delete(f));
            if (ended.has(k)) res.end();
            return undefined;
          }
          const limit = Number(r.query.get('limitBytes') ?? Infinity);
          return send(200, text.slice(Math.max(0, text.length - limit)), 'text/plain');
        }
        if (req.method === 'PUT' && r.name && (!r.sub || (r.sub === 'status' && r.crd?.status))) {
          note('update');
          return send(200, update(r, body));
        }
        if (r.sub) throw new ApiError(404, 'NotFound', `subresource ${r.sub} is not served here`);
        if (req.method === 'POST' && !r.name) {
          note('create');
          return send(201, create(r, body));
        }
        if (req.method === 'GET' && !r.name && ['true', '1'].includes(r.query.get('watch'))) {
          note('watch');
          return watch(r, req, res);
        }
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
          if ((req.headers.accept ?? '').includes('as=PartialObjectMetadataList')) {
            // Metadata only (api-concepts: "Receiving resources as Table or metadata").
            return send(200, { apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadataList', metadata: { resourceVersion: String(rv) },
              items: items.map((o) => ({ apiVersion: 'meta.k8s.io/v1', kind: 'PartialObjectMetadata', metadata: o.metadata })) });
          }
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
          o.metadata.resourceVersion = String(++rv);
          record('DELETED', o);
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
    /** Serves the CustomResourceDefinitions given (objects, as `pai-server crds` prints them). */
    installCrds(list) {
      for (const crd of list) {
        const v = crd.spec.versions.find((x) => x.storage);
        const gv = `${crd.spec.group}/${v.name}`;
        if (!crds.has(gv)) crds.set(gv, {});
        crds.get(gv)[crd.spec.names.plural] = { kind: crd.spec.names.kind, namespaced: crd.spec.scope === 'Namespaced', schema: v.schema.openAPIV3Schema, status: !!v.subresources?.status };
      }
    },
    /** Writes as another client (kubectl apply) would: create, or update without a
     * resourceVersion precondition, through the same code as the API. */
    write(obj) {
      const gv = obj.apiVersion; const group = gv.includes('/') ? gv.split('/')[0] : '';
      const plural = Object.entries(crds.get(gv) ?? {}).find(([, d]) => d.kind === obj.kind)?.[0] ?? Object.entries(gv === 'v1' ? CORE : GROUPS[gv]).find(([, k]) => k === obj.kind)[0];
      const r = { apiVersion: gv, group, plural, kind: obj.kind, ns: obj.metadata.namespace ?? null, name: obj.metadata.name, query: new URLSearchParams('fieldValidation=Strict'), crd: crds.get(gv)?.[plural] };
      const cur = objects.get(key(gv, obj.kind, r.ns, r.name));
      // As `kubectl apply` (a patch): no resourceVersion precondition.
      if (cur) return update(r, JSON.stringify({ ...obj, metadata: { ...obj.metadata, resourceVersion: cur.metadata.resourceVersion } }));
      return create(r, JSON.stringify(obj));
    },
    /** Deletes as another client would (the garbage collector follows). */
    remove(apiVersion, kind, ns, name) {
      const k = key(apiVersion, kind, ns, name);
      const o = objects.get(k);
      if (!o) throw new Error(`${kind} ${ns}/${name} does not exist`);
      objects.delete(k);
      o.metadata.resourceVersion = String(++rv);
      record('DELETED', o);
      gc(o.metadata.uid);
    },
    /** Ends every open watch (as an API server restart would). */
    dropWatches() { for (const end of [...watchEnds]) end(); },
    /** Forgets the history before now: a watch from an older resourceVersion gets 410 Gone. */
    compact() { compactedBefore = rv; history.length = 0; },
    /** The stored object, or undefined. */
    get: (apiVersion, kind, ns, name) => objects.get(key(apiVersion, kind, ns, name)),
    list: (kind) => [...objects.values()].filter((o) => o.kind === kind),
    /** What a kubelet or controller would write: status, pods, logs. */
    setStatus(apiVersion, kind, ns, name, status) {
      const o = objects.get(key(apiVersion, kind, ns, name));
      if (!o) throw new Error(`${kind} ${ns}/${name} does not exist`);
      o.status = status;
      o.metadata.resourceVersion = String(++rv);
      record('MODIFIED', o);
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
    /** The container writes `text`: appended to its log and sent to every follower. */
    appendLog(ns, pod, text) {
      const k = `${ns}/${pod}`;
      logs.set(k, (logs.get(k) ?? '') + text);
      for (const f of followers.get(k) ?? []) f.write(text);
    },
    /** The container ended: follow streams end. */
    endLog(ns, pod) {
      const k = `${ns}/${pod}`;
      ended.add(k);
      for (const f of followers.get(k) ?? []) f.end();
    },
    // close() first (no new connections), then every open one, idle keep-alive ones included.
    close: () => new Promise((resolve) => { server.close(resolve); server.closeAllConnections(); }),
  };
}
