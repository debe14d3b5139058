// GatewayPublisher: on a cluster, pai-server does not run the gateway itself; the helm chart's
// gateway replicas do (docs/kubernetes.md, "The control plane on the cluster"). The publisher
// hands them what the controller renders into pai-server's gateway state directory — the
// configuration (platform.yaml, which carries provider keys) and the agent token file
// (tokens.json) — as two Secrets (server-side apply), which the replicas mount and watch.
//
// Thread safety: PublishOnce() from one thread at a time; Start()/the destructor from the owner.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "kube/client.h"

namespace pai::kube {

struct PublishOptions {
  Client* client = nullptr;   // required; outlives the publisher
  std::string config_file;    // <gateway state>/config/platform.yaml
  std::string tokens_file;    // <gateway state>/tokens.json
  std::string ns;             // the gateway's namespace
  std::string config_secret;  // Secret with key platform.yaml
  std::string tokens_secret;  // Secret with key tokens.json
  std::chrono::milliseconds interval{500};
  // resync: each Secret is applied again this long after its last apply even when its file did
  // not change, so that one deleted or edited by hand comes back.
  std::chrono::milliseconds resync{60000};
  // now: the clock of `resync` (tests move it); null: std::chrono::steady_clock.
  std::function<std::chrono::steady_clock::time_point()> now;
};

class GatewayPublisher {
 public:
  explicit GatewayPublisher(PublishOptions options) : o_(std::move(options)) {}
  ~GatewayPublisher();
  GatewayPublisher(const GatewayPublisher&) = delete;
  GatewayPublisher& operator=(const GatewayPublisher&) = delete;

  // PublishOnce(): applies each Secret whose file changed since its last successful apply, or
  // whose last apply is older than `resync`.
  // Errors: the client's (the next call tries again); a missing file is skipped.
  absl::Status PublishOnce();
  // Start(): PublishOnce() every `interval` on a thread, until destruction.
  void Start();

 private:
  // Published: the content last applied, and when.
  struct Published {
    std::string content;
    std::chrono::steady_clock::time_point at;
    bool ever = false;
  };
  absl::Status PublishFile(const std::string& file, const std::string& secret,
                           const std::string& key, Published* published);

  PublishOptions o_;
  Published config_published_, tokens_published_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pai::kube
