// The control plane's resource store kept in a Kubernetes API server (`pai-server --store
// kubernetes`; docs/kubernetes.md, "The Kubernetes store"). It implements server::Store
// (src/server/store.h) with the API server's own semantics instead of SQLite's:
//  - every pai.io kind is its custom resource (the CRDs of `pai-server crds`): uid, generation,
//    resourceVersion and creationTimestamp are the API server's; `status` goes through the
//    status subresource; a conditional write is a PUT with metadata.resourceVersion (409 →
//    Aborted); writes use fieldValidation=Strict, so no field is silently pruned;
//  - a Pai Secret is the core v1 Secret of the same name labelled `pai.io/secret: "true"` (a
//    Secret made with kubectl and given that label is a Pai Secret too); its values are the
//    Secret's `data`, its generation the annotation `pai.io/generation`;
//  - any other kind's private data (an access token's hash) is a companion Secret
//    "pai-private.<kind>.<name>" owned by the resource, named by its annotation
//    `pai.io/private-data` (neither the annotation nor the Secret is ever shown by the API);
//  - PaiFile versions are ConfigMaps "pai-file.<file>.v<N>" owned by the PaiFile;
//  - gateway identities and webhook tokens are Secrets in the server's own namespace;
//  - Session events stay in `events` (the SQLite store on the server's volume): they arrive at a
//    rate an API server should not take, and they are the server's alone.
// Version() and WaitForChange() follow one watch per kind, so an Agent applied with kubectl
// wakes the controller as one written through the Pai API does. Namespaces() is answered from
// those watches and fails (Unavailable) while they cannot reach the API server (/readyz).
//
// resourceVersion is opaque by the API's contract; this store needs it to be an integer, as the
// etcd revision every etcd-backed API server serves is (a version that is not one is read as 0).
//
// Thread safety: every method may be called from any thread; the watches run on their own
// threads and stop in the destructor (within about a second).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "kube/client.h"
#include "server/store.h"

namespace pai::kube {

struct KubeStoreOptions {
  Client* client = nullptr;  // outlives the store
  // The server's namespace: gateway identities, webhook tokens, and the private data of
  // cluster-scoped kinds (PaiAccessToken) live there.
  std::string ns = "pai-system";
  // Where Session events are kept (normally OpenSqliteStore() on the server's volume); only its
  // event methods are used.
  std::unique_ptr<server::Store> events;
  // How long each watch request lasts before it is made again (the server ends it).
  int watch_timeout_seconds = 300;
};

// NewKubeStore(): lists every kind once (so Version() and Namespaces() are right at once), then
// starts the watches. Errors: InvalidArgument without a client or events store; the first
// list's error (Unavailable, PermissionDenied, NotFound when the CRDs are not installed).
absl::StatusOr<std::unique_ptr<server::Store>> NewKubeStore(KubeStoreOptions options);

// StorePermissions(): exactly the RBAC rules the store uses, for the ClusterRole (`pai-server
// rbac --store kubernetes`; the chart's ClusterRole is checked against it).
std::vector<Permission> StorePermissions();

}  // namespace pai::kube
