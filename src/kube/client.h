// A thin client of the Kubernetes API (the REST conventions of
// https://kubernetes.io/docs/reference/using-api/api-concepts/): get, list by label selector,
// create, update (optimistic concurrency on metadata.resourceVersion), the status subresource,
// server-side apply, delete with a propagation policy, watch, and pod logs. No cache and no
// retries (the callers reconcile). Everything that can only be tested
// against a real API server (admission, apply conflicts, RBAC) sits behind this interface
// (docs/kubernetes.md, "What is tested without an API server").
//
// Objects are JSON (boost::json::object) exactly as the API takes and returns them.
// Errors (absl::Status) follow the API's Status object: 404 NotFound, 409 AlreadyExists or
// Aborted (a conflict), 401 Unauthenticated, 403 PermissionDenied, 400/422 InvalidArgument,
// anything else (and no answer) Unavailable; the message is the Status's `message`.
//
// Thread safety: every method may be called from any thread (HttpClient serialises them).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/object.hpp"

namespace pai::kube {

// Kind: where a kind lives in the API (group "" is the core group).
struct Kind {
  std::string group;    // "apps"
  std::string version;  // "v1"
  std::string kind;     // "Deployment"
  std::string plural;   // "deployments"
  bool namespaced = true;

  std::string api_version() const { return group.empty() ? version : group + "/" + version; }
};

// KnownKind(): the Kind of apiVersion + kind for the kinds Pai manages (Namespace, Secret,
// ConfigMap, PersistentVolumeClaim, Service, Pod, Deployment, Job, NetworkPolicy).
// NotFound for any other.
absl::StatusOr<Kind> KnownKind(const std::string& api_version, const std::string& kind);

// ObjectPath(): "/api/v1/namespaces/<ns>/secrets/<name>" (name "" → the collection; ns "" →
// across namespaces, or a cluster-scoped kind).
std::string ObjectPath(const Kind& k, const std::string& ns, const std::string& name);

// Permission: one RBAC rule (rbac.authorization.k8s.io/v1 PolicyRule) the client needs.
struct Permission {
  std::string api_group;  // "" core
  std::string resource;   // "deployments", "pods/log"
  std::vector<std::string> verbs;
};
// RequiredPermissions(): exactly the rules pai-server's Kubernetes runtime uses, for its
// ClusterRole (`pai-server rbac` prints them; the helm chart's ClusterRole is checked against
// it by tests/integration/helm_chart.test.mjs).
std::vector<Permission> RequiredPermissions();
// MergePermissions(): `a` and `b` as one list, one rule per (group, resource) with the union of
// their verbs, in the order of first appearance.
std::vector<Permission> MergePermissions(const std::vector<Permission>& a,
                                         const std::vector<Permission>& b);

enum class Propagation { kBackground, kForeground };

// ObjectList: a list's items and its metadata.resourceVersion (where a watch starts).
struct ObjectList {
  std::vector<boost::json::object> items;
  std::string resource_version;
};

// WatchEvent: one line of a watch stream (metav1.WatchEvent): type "ADDED" | "MODIFIED" |
// "DELETED" | "BOOKMARK" (a bookmark's object carries only metadata.resourceVersion).
struct WatchEvent {
  std::string type;
  boost::json::object object;
};

class Client {
 public:
  virtual ~Client() = default;
  // Get(): the object. NotFound when absent.
  virtual absl::StatusOr<boost::json::object> Get(const Kind& k, const std::string& ns,
                                                  const std::string& name) = 0;
  // List(): the objects of kind `k` in `ns` ("" = every namespace) matching the equality-based
  // `label_selector` ("a=b,c=d"; "" = all), every page (`continue`) read.
  virtual absl::StatusOr<ObjectList> List(const Kind& k, const std::string& ns,
                                          const std::string& label_selector) = 0;
  // ListMetadata(): as List(), but only each item's apiVersion, kind and metadata (the API's
  // PartialObjectMetadataList), for callers that need no more than labels and annotations.
  // The default lists whole objects.
  virtual absl::StatusOr<ObjectList> ListMetadata(const Kind& k, const std::string& ns,
                                                  const std::string& label_selector) {
    return List(k, ns, label_selector);
  }
  // Create(): POST to the collection. AlreadyExists when the name is taken. Sent with
  // fieldValidation=Strict: a field the schema does not declare is refused (InvalidArgument),
  // not dropped. Returns the object as stored.
  virtual absl::StatusOr<boost::json::object> Create(const Kind& k,
                                                     const boost::json::object& object) = 0;
  // Update(): PUT of the whole object; metadata.resourceVersion, when set, must be the stored
  // one (Aborted otherwise: a conflict). For a kind with the status subresource the API server
  // ignores `status` here. Strict field validation as Create().
  virtual absl::StatusOr<boost::json::object> Update(const Kind& k,
                                                     const boost::json::object& object) = 0;
  // UpdateStatus(): PUT of the status subresource (only `status` is written).
  virtual absl::StatusOr<boost::json::object> UpdateStatus(const Kind& k,
                                                           const boost::json::object& object) = 0;
  // Apply(): server-side apply of `object` (PATCH, application/apply-patch+yaml, fieldManager
  // "pai-server", force: Pai owns every field it sets); creates the object when absent. Returns
  // the object as stored (with metadata.uid).
  virtual absl::StatusOr<boost::json::object> Apply(const boost::json::object& object) = 0;
  // Delete(): deletes with the propagation policy (dependents through ownerReferences).
  // NotFound when absent.
  virtual absl::Status Delete(const Kind& k, const std::string& ns, const std::string& name,
                              Propagation propagation) = 0;
  // Watch(): streams the changes to kind `k` in `ns` ("" = every namespace) matching
  // `label_selector` after `resource_version` (a List()'s), with bookmarks, calling `on_event`
  // for each, on the calling thread. Returns OK when the server ends the stream (it does after
  // `timeout_seconds`), Cancelled when `stop` becomes true (checked at least once a second) or
  // `on_event` returns false, OutOfRange when `resource_version` is too old (410 Gone: list
  // again), or the error. Uses its own connection: other calls are not held up.
  virtual absl::Status Watch(const Kind& k, const std::string& ns,
                             const std::string& label_selector, const std::string& resource_version,
                             int timeout_seconds, const std::atomic<bool>& stop,
                             const std::function<bool(WatchEvent)>& on_event) = 0;
  // FollowPodLog(): streams a container's log (GET .../pods/<pod>/log?follow=true) from its
  // start, calling `on_line` for each line (without its newline) on the calling thread, until
  // the container ends (OK), `stop` is set or `on_line` returns false (Cancelled), or an
  // error. Its own connection, as Watch().
  virtual absl::Status FollowPodLog(const std::string& ns, const std::string& pod,
                                    const std::string& container, const std::atomic<bool>& stop,
                                    const std::function<bool(std::string_view)>& on_line) = 0;
  // PodLogs(): the newest `limit_bytes` of a container's log (GET .../pods/<pod>/log).
  virtual absl::StatusOr<std::string> PodLogs(const std::string& ns, const std::string& pod,
                                              const std::string& container,
                                              int64_t limit_bytes) = 0;
};

// ClientConfig: how to reach the API server.
struct ClientConfig {
  std::string server;      // "https://10.96.0.1:443"
  std::string token_file;  // bearer token, read again before each request (tokens rotate)
  std::string ca_file;     // PEM bundle that verifies the server; "" = the system's
  int timeout_ms = 10000;  // whole request
};

// InClusterConfig(): the pod's service-account configuration (KUBERNETES_SERVICE_HOST and
// _PORT, /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}). FailedPrecondition
// when not running in a pod.
absl::StatusOr<ClientConfig> InClusterConfig();
// PodNamespace(): the namespace of the pod this runs in (the service account's `namespace`
// file); nullopt outside a pod.
std::optional<std::string> PodNamespace();

// NewHttpClient(): the client over libcurl (HTTP/1.1, TLS verified against `ca_file`).
std::unique_ptr<Client> NewHttpClient(ClientConfig config);

}  // namespace pai::kube
