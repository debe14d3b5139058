// The Kubernetes runtime: pai-server's Runtime (server/runtime.h) on a cluster
// (docs/kubernetes.md, "The Kubernetes runtime"). A workload is the objects of RenderWorkload()
// (render.h), applied with server-side apply through a kube::Client:
//  - Start(): ensures the namespace, applies the identity Secret, then every other object owned
//    by that Secret (the embedded store's Agents are not cluster objects, so the Secret is the
//    root of the workload's ownership tree; with the Kubernetes store the Secret itself is owned
//    by the Agent or Session custom resource, RenderOptions::identity_owned_by_resource). A
//    workload already applied with the same uid and the same rendering is left alone; a changed
//    rendering is applied again (a Deployment rolls). A refused apply puts the workload in Failed
//    (Agent) / Error (Session) with the API server's message.
//  - Stop(): saves the pods' logs, deletes the Deployment or Job (its pods), Service,
//    NetworkPolicy and ConfigMap; the identity Secret and the PersistentVolumeClaims stay.
//    Purge(): deletes the identity Secret, and with it (garbage collection) everything left.
//  - Status()/Keys(): from a snapshot refreshed every `poll_interval` by one thread that lists
//    the Jobs, Deployments and Pods labelled app.kubernetes.io/managed-by=pai (three list calls
//    per interval whatever the number of workloads). A change of phase wakes the controller
//    (WorkloadEvents::Changed) and, for a Session, appends session.status_running /
//    session.status_terminated. Until the first list succeeds every workload reads as known
//    and Pending, so nothing is started twice or declared lost after a restart of pai-server.
//  - LogPath(): the pods' logs fetched into <state_dir>/<uid>.log (the newest 10 MiB per pod).
//    A Session's pai-harness writes its events to stdout (--events-fd 1): those JSON lines are
//    appended to the Session's events once — as they are written (one thread per running
//    Session follows its pod's log), and when its Job ends (before session.status_terminated)
//    or its log is read, for any the stream missed — and kept out of the saved log.
//  - Deliver, Exec, OpenControl, ReadFile, WriteFile: FailedPrecondition (not built on this
//    runtime yet); EgressRecords: none (the cluster's egress proxy keeps its own log).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "kube/client.h"
#include "kube/render.h"
#include "server/runtime.h"

namespace pai::kube {

struct KubeRuntimeOptions {
  Client* client = nullptr;  // required; outlives the runtime
  RenderOptions render;      // `owner` is set by the runtime
  std::string state_dir;     // saved pod logs (created, 0700)
  std::chrono::milliseconds poll_interval{1000};
  server::WorkloadEvents* events = nullptr;  // optional: phase changes
};

// NewKubeRuntime(): starts the poller. InvalidArgument without a client; Internal when
// `state_dir` cannot be created.
absl::StatusOr<std::unique_ptr<server::Runtime>> NewKubeRuntime(KubeRuntimeOptions options);

}  // namespace pai::kube
