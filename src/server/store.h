// The control plane's resource store: Kubernetes-shaped objects (apiVersion, kind, metadata,
// spec, status) with Kubernetes' write semantics — `metadata.uid` fixed at creation,
// `generation` bumped on spec changes only, a store-wide `resourceVersion` bumped on every
// write and checked on conditional writes (Aborted → HTTP 409), status written separately,
// deletion cascading through `metadata.ownerReferences[].uid`.
//
// Store is the interface; OpenSqliteStore() is the embedded default (one SQLite file, WAL);
// kube::NewKubeStore() keeps the resources in a Kubernetes API server (src/kube/store.h).
//
// Besides the object, each record carries `private_data`: server-only JSON that no API response
// ever shows (a Secret's values, an access token's hash).
//
// Thread safety: every method may be called from any thread (the SQLite store serialises them
// with one mutex; the control plane's write rate is small).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "boost/json/object.hpp"
#include "server/clock.h"

namespace pai::server {

// Resource: one stored object. `object` is the whole document as returned by the API
// (metadata carries uid, generation, resourceVersion, creationTimestamp).
struct Resource {
  std::string kind;  // "Agent"
  std::string ns;    // "" for cluster-scoped kinds (PaiAccessToken)
  std::string name;
  boost::json::object object;
  std::string private_data;  // server-only JSON ("" when none)

  std::string uid() const;
  int64_t generation() const;
  int64_t resource_version() const;
};

// PutResult: the stored resource and whether the write created it.
struct PutResult {
  Resource resource;
  bool created = false;
};

// GatewayIdentity: a gateway token the server minted for an Agent (docs/architecture.md,
// "Identities"). `token` is kept only for the Agent's own identity (the runtime injects it);
// tokens minted for agents that run outside Pai are shown once and not kept.
struct GatewayIdentity {
  std::string id;  // the gateway token id (pai_<id>_...)
  std::string ns;
  std::string agent;
  std::string agent_uid;
  std::string purpose;  // "agent" | "external"
  std::string token;    // plaintext for purpose "agent"; "" otherwise
  std::string created;  // RFC 3339
  std::string revoked;  // RFC 3339; "" while valid
};

// FileVersion: one version of a PaiFile's content (its data is read with FileVersionData()).
struct FileVersion {
  int64_t version = 0;  // 1, 2, ...
  std::string sha256;   // hex SHA-256 of the base64 text as stored
  int64_t size = 0;     // bytes of content
  std::string created;  // RFC 3339
};

class Store {
 public:
  virtual ~Store() = default;

  // Get(): NotFound when absent.
  virtual absl::StatusOr<Resource> Get(const std::string& kind, const std::string& ns,
                                       const std::string& name) = 0;
  // List(): every resource of `kind` in `ns` ("" with all_namespaces = every namespace),
  // ordered by namespace, name.
  enum class Scope { kNamespace, kAllNamespaces };
  virtual absl::StatusOr<std::vector<Resource>> List(const std::string& kind, const std::string& ns,
                                                     Scope scope) = 0;
  // Create(): stores a new resource; assigns uid, generation 1, resourceVersion,
  // creationTimestamp; drops any status. AlreadyExists when the name is taken.
  virtual absl::StatusOr<Resource> Create(Resource r) = 0;
  // Put(): create or replace. When `expected_resource_version` is set the write is conditional:
  // Aborted when the stored version differs (or NotFound when the object does not exist).
  // A replace keeps uid, creationTimestamp and status; generation moves when `spec` (or, for
  // kinds without spec, `data`/`private_data`) changed; labels, annotations and
  // ownerReferences come from `r`.
  virtual absl::StatusOr<PutResult> Put(Resource r,
                                        std::optional<int64_t> expected_resource_version) = 0;
  // UpdateStatus(): replaces `status` (the controller's write; no generation change). NotFound
  // when the object is gone; Aborted when `expected_uid` does not match (deleted and recreated).
  virtual absl::Status UpdateStatus(const std::string& kind, const std::string& ns,
                                    const std::string& name, const std::string& expected_uid,
                                    const boost::json::object& status) = 0;
  // Delete(): removes the resource and, transitively, every resource whose ownerReferences
  // name its uid; returns the deleted resources (the named one first). NotFound when absent.
  virtual absl::StatusOr<std::vector<Resource>> Delete(const std::string& kind,
                                                       const std::string& ns,
                                                       const std::string& name) = 0;
  // Namespaces(): the distinct namespaces that hold at least one resource, sorted.
  virtual absl::StatusOr<std::vector<std::string>> Namespaces() = 0;

  // Gateway identities (the Kubernetes backend keeps them in Secrets).
  virtual absl::Status AddIdentity(const GatewayIdentity& id) = 0;
  virtual absl::StatusOr<std::vector<GatewayIdentity>> Identities() = 0;
  virtual absl::Status MarkIdentityRevoked(const std::string& id, const std::string& when) = 0;

  // PaiFile content history (Kubernetes backend: one ConfigMap per version). Appended under the
  // store's lock, so concurrent writers never share a version number.
  // AppendFileVersion(): records `data` (base64) as the next version of PaiFile ns/name unless
  // it equals the newest; returns the newest version. ResourceExhausted when `max_versions`
  // are kept already.
  virtual absl::StatusOr<int64_t> AppendFileVersion(const std::string& ns, const std::string& name,
                                                    const std::string& data,
                                                    int64_t max_versions) = 0;
  virtual absl::StatusOr<std::vector<FileVersion>> FileVersions(const std::string& ns,
                                                                const std::string& name) = 0;
  // FileVersionData(): the base64 content of one version; NotFound when there is none.
  virtual absl::StatusOr<std::string> FileVersionData(const std::string& ns,
                                                      const std::string& name, int64_t version) = 0;

  // Session events (docs/sessions.md, "Events"). AppendEvents() assigns each event the next
  // per-session `sequence` (gap-free, from 1), `id` ("sevt_" + 12 digits), `created_at` = `now`
  // and, for user.* events, `processed_at: null`; returns the stored events. ListEvents(): the
  // events with sequence > `after`, of the given `types` (all when empty), oldest first, at
  // most `limit`. MarkEventProcessed(): sets `processed_at` once; NotFound for an unknown id.
  // A Session's events are deleted with it.
  virtual absl::StatusOr<std::vector<boost::json::object>> AppendEvents(
      const std::string& ns, const std::string& session, std::vector<boost::json::object> events,
      const std::string& now) = 0;
  virtual absl::StatusOr<std::vector<boost::json::object>> ListEvents(
      const std::string& ns, const std::string& session, int64_t after,
      const std::vector<std::string>& types, int64_t limit) = 0;
  virtual absl::Status MarkEventProcessed(const std::string& ns, const std::string& session,
                                          const std::string& event_id, const std::string& when) = 0;
  // DeleteEvents(): forgets every event of Session ns/session (Delete() does it for the Sessions
  // it deletes; a store that keeps events apart from the Sessions calls it).
  virtual absl::Status DeleteEvents(const std::string& ns, const std::string& session) = 0;

  // Webhook triggers: one unguessable token per Agent (uid) with a webhook trigger.
  struct Webhook {
    std::string token;  // 32 random bytes, base64url
    std::string ns;
    std::string agent;
    std::string agent_uid;
  };
  virtual absl::Status AddWebhook(const Webhook& w) = 0;
  virtual absl::StatusOr<std::vector<Webhook>> Webhooks() = 0;
  virtual absl::Status DeleteWebhook(const std::string& token) = 0;

  // Version(): the newest resourceVersion; WaitForChange() blocks until it exceeds `seen` or
  // `timeout` passes, and returns the newest version.
  virtual int64_t Version() = 0;
  virtual int64_t WaitForChange(int64_t seen, std::chrono::milliseconds timeout) = 0;
};

// OpenSqliteStore(): opens (creating) `path` with WAL journaling and the schema. `clock` (null:
// real time; otherwise it must outlive the store) stamps creationTimestamp, so that a test
// clock moves creation times and the schedules computed from them together.
// `events_only`: the store keeps Session events for another store that keeps the Sessions
// (kube::NewKubeStore()): AppendEvents() does not require the Session to be in this one, and
// `session` may be any key the caller chooses.
// Errors: Internal when SQLite cannot open or migrate the file.
absl::StatusOr<std::unique_ptr<Store>> OpenSqliteStore(const std::string& path,
                                                       const Clock* clock = nullptr,
                                                       bool events_only = false);

// CheckFileVersionLimit(): ResourceExhausted when PaiFile `name`, whose newest version is
// `newest`, keeps `max_versions` already (every store refuses a new version with it).
absl::Status CheckFileVersionLimit(const std::string& name, int64_t newest, int64_t max_versions);
// Base64DecodedSize(): the bytes of content of padded base64 text `data` (FileVersion::size).
int64_t Base64DecodedSize(std::string_view data);

// OwnerUids(): the uids an object's metadata.ownerReferences name, in order.
std::vector<std::string> OwnerUids(const boost::json::object& o);

// NewUid(): a random RFC 4122 version-4 UUID.
std::string NewUid();
// NowRfc3339(): the current UTC time, seconds precision ("2026-12-05T04:31:00Z").
std::string NowRfc3339();

}  // namespace pai::server
