// The Kubernetes objects of a Pai workload (docs/kubernetes.md, "Workloads"): what a
// Kubernetes runtime backend creates for one long-running Agent or one Session, rendered from
// the same Workload the local runtime runs (server/runtime.h). Pure: no API server is
// contacted; the thin client that applies these objects sits behind the Runtime interface.
//
// Objects (all in the workload's namespace, owned by the Pai resource through an
// ownerReference with controller: true, so deleting the Agent or Session deletes them; or by
// RenderOptions::owner):
//  - Secret  <base>-identity: the workload's gateway token (key `token`), projected read-only
//    into the pod at /var/run/secrets/pai/token and given as OPENAI_API_KEY;
//  - ConfigMap <base>-files: configFiles, skills and PaiFile contents (and a Session's
//    session.json at /run/pai/session.json); a no-clobber file (configFiles) under a volume is
//    copied by the init container `seed-files` only when absent (edits survive restarts); any
//    other file is mounted read-only from the ConfigMap (subPath): outside a volume nothing
//    the agent wrote would survive a restart anyway;
//  - PersistentVolumeClaims <base>-<volume> (ReadWriteOnce, `size`, default 1Gi);
//  - a long-running Agent: Deployment <base> (`replicas`, or autoscaling.minReplicas) and, with
//    `inbound`, a Service; a Session: Job <base> (no retries, restartPolicy Never; the seeds'
//    ttlSecondsAfterFinished is about the Session record, so 0 "keep forever" leaves the Job's
//    field unset, and N > 0 becomes the Job's ttlSecondsAfterFinished). Without `command` and
//    `image`, the container runs `pai-harness --events-fd 1` from the Pai image (its events on
//    stdout: a pod has no control socket);
//  - NetworkPolicy <base>: egress only to the gateway's pods, the egress proxy's pods and
//    cluster DNS; ingress only on inbound.port from inbound.allowCIDRs (none by default).
// Pods: runAsUser from the spec (default 65532; 0 is refused), runAsNonRoot, no privilege
// escalation, every capability dropped, a read-only root file system with emptyDirs for
// /tmp, /workspace and filesystem.writablePaths, RuntimeDefault seccomp, no service-account
// token, resources.requests/limits (cpu, memory) as given. Agent env: `value` as is,
// `secretRef` as secretKeyRef (a Secret's value is never copied into a pod spec).
//
// Thread safety: pure functions.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/value.hpp"
#include "server/runtime.h"

namespace pai::kube {

// Owner: an ownerReference target (metav1.OwnerReference: apiVersion, kind, name, uid).
struct Owner {
  std::string api_version;
  std::string kind;
  std::string name;
  std::string uid;
};

// RenderOptions: what the cluster installation provides (the helm chart's values).
struct RenderOptions {
  std::string pai_image;    // pai-harness, pai-gateway, ...: Sessions without `image`, init
  std::string gateway_url;  // in-cluster agent-facing base URL, e.g. http://pai-gateway.pai:4000
  std::string gateway_namespace = "pai";
  std::map<std::string, std::string> gateway_pod_labels = {
      {"app.kubernetes.io/name", "pai"}, {"app.kubernetes.io/component", "gateway"}};
  // The egress proxy (HTTP_PROXY for everything that is not the gateway); empty: none.
  std::string egress_proxy_url;
  std::map<std::string, std::string> egress_proxy_pod_labels = {
      {"app.kubernetes.io/name", "pai"}, {"app.kubernetes.io/component", "egress-proxy"}};
  int egress_proxy_port = 3128;
  // owner: unset, every object is owned by the Pai resource (apiVersion pai.io/v1, its kind and
  // uid; for a store that keeps Agents and Sessions in the cluster). Set, the identity Secret
  // has no owner and every other object is owned by `owner`: the Kubernetes runtime over the
  // embedded store passes the identity Secret it created first, because the garbage collector
  // deletes at once any object whose owner does not exist in the cluster.
  std::optional<Owner> owner;
  // identity_owned_by_resource: with `owner` set, the identity Secret is owned (controller
  // reference) by the Pai resource: for the Kubernetes store, whose Agents and Sessions are
  // custom resources, so that deleting one with kubectl deletes the whole workload even while
  // pai-server is down.
  bool identity_owned_by_resource = false;
  // secrets_in_identity: an env entry's secretRef is read from the identity Secret (key
  // "env.<NAME>", holding the value resolved in Workload::env) instead of the named Secret: with
  // the embedded store, a Pai Secret is not a Secret of the cluster. Either way no value is ever
  // written into a pod spec.
  bool secrets_in_identity = false;
  // auth_grace_ms > 0: PAI_AUTH_GRACE_MS for the pod, how long pai-harness retries a 401 after
  // it starts: a new identity reaches gateway replicas with their mounted token Secret, which the
  // kubelet refreshes within about a minute.
  int64_t auth_grace_ms = 0;
};

// BaseName(): "agent-<name>" or "session-<name>": the prefix of every object of the workload.
std::string BaseName(const server::Workload& w);

// RenderWorkload() renders `w` (kind "Agent" — long-running — or "Session"). Errors:
// InvalidArgument naming the field (runAsUser 0, a volume without name or mountPath, an env
// entry without name, a file path that is not absolute).
absl::StatusOr<std::vector<boost::json::value>> RenderWorkload(const server::Workload& w,
                                                               const RenderOptions& options);

}  // namespace pai::kube
