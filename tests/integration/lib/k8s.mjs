// Kubernetes object checks shared by the tests of rendered objects (not a test file): schema
// validation with kubernetes-models (types, required fields, formats) and a walk for fields the
// schemas do not define (the validator lets unknown fields through), using
// @kubernetes/client-node's generated models.

import assert from 'node:assert/strict';
// The generated models only (the package's entry point loads an HTTP client this Node lacks).
import * as k8s from '@kubernetes/client-node/dist/gen/models/all.js';

// kind → [kubernetes-models module, class, @kubernetes/client-node model] for the kinds Pai renders.
export const MODELS = {
  'v1/ConfigMap': ['v1', 'ConfigMap', 'V1ConfigMap'],
  'v1/Secret': ['v1', 'Secret', 'V1Secret'],
  'v1/Service': ['v1', 'Service', 'V1Service'],
  'apps/v1/StatefulSet': ['apps/v1', 'StatefulSet', 'V1StatefulSet'],
  'policy/v1/PodDisruptionBudget': ['policy/v1', 'PodDisruptionBudget', 'V1PodDisruptionBudget'],
  'networking.k8s.io/v1/NetworkPolicy': ['networking.k8s.io/v1', 'NetworkPolicy', 'V1NetworkPolicy'],
  'apps/v1/Deployment': ['apps/v1', 'Deployment', 'V1Deployment'],
  'batch/v1/Job': ['batch/v1', 'Job', 'V1Job'],
  'v1/PersistentVolumeClaim': ['v1', 'PersistentVolumeClaim', 'V1PersistentVolumeClaim'],
  'v1/ServiceAccount': ['v1', 'ServiceAccount', 'V1ServiceAccount'],
  'rbac.authorization.k8s.io/v1/ClusterRole': ['rbac.authorization.k8s.io/v1', 'ClusterRole', 'V1ClusterRole'],
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', 'V1ClusterRoleBinding'],
  'apiextensions.k8s.io/v1/CustomResourceDefinition': ['apiextensions.k8s.io/v1', 'CustomResourceDefinition', 'V1CustomResourceDefinition'],
};

/** Schema validation (types, required fields, formats): kubernetes-models. Throws. */
export async function validateSchema(obj) {
  const entry = MODELS[`${obj.apiVersion}/${obj.kind}`];
  assert.ok(entry, `${obj.apiVersion} ${obj.kind} is rendered, but lib/k8s.mjs does not know it`);
  const mod = await import(`kubernetes-models/${entry[0]}/${entry[1]}`);
  new mod[entry[1]](obj).validate();
}

/**
 * Fields the schema does not define, as JSON paths (`spec.template.spec.containers[0].readinessProb`),
 * walking the object with @kubernetes/client-node's generated attribute maps.
 */
export function unknownFields(value, type, at = '') {
  if (value === null || value === undefined) return [];
  let m = /^Array<(.+)>$/.exec(type);
  if (m) return value.flatMap((v, i) => unknownFields(v, m[1], `${at}[${i}]`));
  m = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (m) return Object.entries(value).flatMap(([k, v]) => unknownFields(v, m[1], `${at}.${k}`));
  const model = k8s[type];
  if (!model?.attributeTypeMap) return []; // string, number, boolean, IntOrString, Date, any
  const attrs = new Map(model.attributeTypeMap.map((a) => [a.baseName, a.type]));
  const out = [];
  for (const [k, v] of Object.entries(value)) {
    const p = at ? `${at}.${k}` : k;
    if (!attrs.has(k)) out.push(p);
    else out.push(...unknownFields(v, attrs.get(k), p));
  }
  return out;
}

export async function checkObjects(objs) {
  for (const o of objs) {
    const entry = MODELS[`${o.apiVersion}/${o.kind}`];
    if (!entry) continue; // CRD kinds: checked apart
    await validateSchema(o);
    assert.deepEqual(unknownFields(o, entry[2]), [], `${o.kind} ${o.metadata?.name}: fields the schema does not have`);
  }
}

