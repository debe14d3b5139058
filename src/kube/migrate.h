// Copying every record of one resource store into another (`pai-server migrate-store`: the
// embedded SQLite store into the Kubernetes store, when an installation moves to
// `--store kubernetes`; docs/kubernetes.md, "Moving to the Kubernetes store").
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "server/store.h"

namespace pai::kube {

// MigrationReport: what was copied.
struct MigrationReport {
  int64_t resources = 0;  // objects of every kind, access tokens and Secrets included
  int64_t identities = 0;
  int64_t webhooks = 0;
  int64_t file_versions = 0;
  int64_t events = 0;
};

// MigrateStore(): copies every resource of `from` into `to` — owners before what they own,
// ownerReferences rewritten to the new uids (an owner `from` does not hold is dropped from
// the references), each object's status and private part (Secret values, access-token hashes)
// with it; then gateway identities and webhook tokens (agent uids rewritten), PaiFile versions
// in order (version numbers kept) and Session events in order (sequence numbers, creation and
// processing times kept). Access tokens keep their names, so every token still logs in.
// `to` must hold no resource yet (FailedPrecondition otherwise: nothing is copied). Errors:
// the first failing read or write (what was copied before it stays).
// Thread safety: the stores' own; nothing else may write to `to` meanwhile.
absl::StatusOr<MigrationReport> MigrateStore(server::Store& from, server::Store& to);

}  // namespace pai::kube
