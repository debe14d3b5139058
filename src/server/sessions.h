// Sessions in the control plane (docs/sessions.md): the event log and its notifications, the
// resolved session configuration a harness reads, and the timeouts of a Session.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "boost/json/object.hpp"
#include "server/clock.h"
#include "server/runtime.h"
#include "server/store.h"

namespace pai::server {

// EventHub: wakes whoever waits for new events of a Session (SSE streams).
// Thread safety: all methods from any thread; callbacks run on the publishing thread and must
// not block or call back into the hub.
class EventHub {
 public:
  using Callback = std::function<void()>;
  // Subscribe(): `cb` runs after every Publish(key); returns a handle for Unsubscribe().
  uint64_t Subscribe(const std::string& key, Callback cb);
  void Unsubscribe(uint64_t handle);
  void Publish(const std::string& key);

 private:
  std::mutex mu_;
  uint64_t next_ = 1;
  std::map<uint64_t, std::pair<std::string, Callback>> subs_;
};

// SessionEvents: the store's event log plus the hub; the runtime's WorkloadEvents.
class SessionEvents final : public WorkloadEvents {
 public:
  SessionEvents(Store& store, EventHub& hub, const Clock& clock, std::function<void()> wake)
      : store_(store), hub_(hub), clock_(clock), wake_(std::move(wake)) {}

  absl::Status Append(const std::string& ns, const std::string& session,
                      std::vector<boost::json::object> events) override;
  // AppendStored(): like Append(), returning the stored events (the API's POST).
  absl::StatusOr<std::vector<boost::json::object>> AppendStored(
      const std::string& ns, const std::string& session, std::vector<boost::json::object> events);
  void MarkProcessed(const std::string& ns, const std::string& session,
                     const std::string& event_id) override;
  std::vector<boost::json::object> Undelivered(const std::string& ns,
                                               const std::string& session) override;
  absl::StatusOr<int64_t> RegisterFile(const std::string& ns, const std::string& file,
                                       const std::string& content) override;
  void Changed() override {
    if (wake_) wake_();
  }
  void SetWake(std::function<void()> wake) { wake_ = std::move(wake); }

 private:
  Store& store_;
  EventHub& hub_;
  const Clock& clock_;
  std::function<void()> wake_;
};

// Builtin tool names of the default harness (docs/harness.md).
const std::vector<std::string>& BuiltinTools();

// SessionConfig(): docs/sessions.md session.json for Session `session` of Agent spec `agent`
// (the Session's system/models/task override the Agent's). `mode` is "task" for schedule runs.
boost::json::object SessionConfig(const Resource& session, const boost::json::object& agent_spec,
                                  const std::string& mode);

// IdleTimeout(): the Session's, else the Agent's; `idleTimeout` (duration) for trigger-woken
// Sessions, `idleTimeoutMinutes` for interactive ones, either when only one is set; 15 min.
absl::Duration IdleTimeout(const Resource& session, const boost::json::object& agent_spec);
// TtlAfterFinished(): seconds; 0 = keep forever. Defaults 7 days (Complete), 14 days (Error).
int64_t TtlAfterFinished(const Resource& session, const boost::json::object& agent_spec,
                         const std::string& phase);

// NewSession(): a Session resource of `agent` (ownerReferences, the creator annotations of the
// Agent so that it runs with its creator's env, label pai.io/trigger when `trigger` is set).
Resource NewSession(const Resource& agent, const std::string& name, boost::json::object spec,
                    const std::string& trigger);

// Label and annotation keys.
inline constexpr char kTriggerLabel[] = "pai.io/trigger";

}  // namespace pai::server
