#include "server/sessions.h"

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "common/strings.h"
#include "resource/resource.h"
#include "server/controller.h"
#include "server/json_access.h"

namespace pai::server {
namespace json = boost::json;

// ---- EventHub ----

uint64_t EventHub::Subscribe(const std::string& key, Callback cb) {
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t h = next_++;
  subs_.emplace(h, std::make_pair(key, std::move(cb)));
  return h;
}

void EventHub::Unsubscribe(uint64_t handle) {
  std::lock_guard<std::mutex> lock(mu_);
  subs_.erase(handle);
}

void EventHub::Publish(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [h, sub] : subs_) {
    if (sub.first == key) sub.second();
  }
}

// ---- SessionEvents ----

absl::Status SessionEvents::Append(const std::string& ns, const std::string& session,
                                   std::vector<json::object> events) {
  return AppendStored(ns, session, std::move(events)).status();
}

absl::StatusOr<std::vector<json::object>> SessionEvents::AppendStored(
    const std::string& ns, const std::string& session, std::vector<json::object> events) {
  auto stored = store_.AppendEvents(ns, session, std::move(events), Rfc3339Millis(clock_.Now()));
  if (stored.ok()) hub_.Publish(pai::StrCat(ns, "/", session));
  return stored;
}

void SessionEvents::MarkProcessed(const std::string& ns, const std::string& session,
                                  const std::string& event_id) {
  (void)store_.MarkEventProcessed(ns, session, event_id, Rfc3339Millis(clock_.Now()));
}

std::vector<json::object> SessionEvents::Undelivered(const std::string& ns,
                                                     const std::string& session) {
  auto evs = store_.ListEvents(
      ns, session, 0, {"user.message", "user.interrupt", "user.custom_tool_result"}, 10000);
  std::vector<json::object> out;
  for (auto& e : evs.ok() ? *evs : std::vector<json::object>{}) {
    const json::value* p = e.if_contains("processed_at");
    if (!p || p->is_null()) out.push_back(std::move(e));
  }
  return out;
}

absl::StatusOr<int64_t> SessionEvents::RegisterFile(const std::string& ns, const std::string& file,
                                                    const std::string& content) {
  if (!resource::IsDns1123Label(file)) {
    return absl::InvalidArgumentError("file: a PaiFile name (a DNS-1123 label)");
  }
  if (!store_.Get("PaiFile", ns, file).ok()) {
    Resource r;
    r.kind = "PaiFile";
    r.ns = ns;
    r.name = file;
    r.object = {{"apiVersion", "pai.io/v1"},
                {"kind", "PaiFile"},
                {"metadata", {{"name", file}, {"namespace", ns}}},
                {"spec", {{"description", "registered by a Session"}}}};
    auto created = store_.Create(std::move(r));
    if (!created.ok() && !absl::IsAlreadyExists(created.status())) return created.status();
  }
  auto v = store_.AppendFileVersion(ns, file, absl::Base64Escape(content), 100);
  Changed();
  return v;
}

// ---- Session configuration ----

const std::vector<std::string>& BuiltinTools() {
  static const std::vector<std::string> kTools = {
      "bash",      "read",       "write",      "edit",       "glob",         "grep",
      "web_fetch", "web_search", "send_email", "screenshot", "register_file"};
  return kTools;
}

namespace {

json::array ResolveTools(const json::object& spec) {
  json::array out;
  const json::array* tools = Arr(&spec, "tools");
  if (!tools) {
    for (const auto& t : BuiltinTools()) out.push_back(json::object{{"name", t}});
    return out;
  }
  // Listed tools: the built-ins named (unless enabled: false) and the custom ones.
  std::vector<std::string> disabled;
  bool listed_builtin = false;
  for (const json::value& v : *tools) {
    if (!v.is_object()) continue;
    const json::object& t = v.as_object();
    const json::value* en = t.if_contains("enabled");
    const bool enabled = !(en && en->is_bool() && !en->as_bool());
    const std::string type = Str(&t, "type");
    if (type == "custom") {
      if (!enabled) continue;
      json::object c{
          {"name", Str(&t, "name")}, {"type", "custom"}, {"description", Str(&t, "description")}};
      const json::value* schema = t.if_contains("inputSchema");
      c["input_schema"] =
          schema && schema->is_object() ? *schema : json::value(json::object{{"type", "object"}});
      out.push_back(std::move(c));
      continue;
    }
    if (!enabled) {
      disabled.push_back(type);
      continue;
    }
    listed_builtin = true;
    out.push_back(json::object{{"name", type}});
  }
  // Only `enabled: false` entries (and custom tools): every other built-in stays on.
  if (!listed_builtin) {
    json::array all;
    for (const auto& t : BuiltinTools()) {
      if (std::find(disabled.begin(), disabled.end(), t) == disabled.end()) {
        all.push_back(json::object{{"name", t}});
      }
    }
    for (auto& v : out) all.push_back(std::move(v));
    return all;
  }
  return out;
}

}  // namespace

json::object SessionConfig(const Resource& session, const json::object& agent_spec,
                           const std::string& mode) {
  const json::object* s = Obj(&session.object, "spec");
  auto pick = [&](const char* k) -> json::value {
    if (s && s->contains(k)) return s->at(k);
    if (agent_spec.contains(k)) return agent_spec.at(k);
    return nullptr;
  };
  json::value task = pick("task");
  if (!s || !s->contains("task")) task = nullptr;  // the Agent's legacy task is its Session's
  json::value models = pick("models");
  if (!models.is_array()) models = json::array();
  return {
      {"session", pai::StrCat(session.ns, "/", session.name)},
      {"agent", Str(s, "agent")},
      {"system", pick("system").is_string() ? pick("system") : json::value("")},
      {"models", std::move(models)},
      {"task", task.is_string() && !task.as_string().empty() ? task : json::value(nullptr)},
      {"mode", mode},
      {"tools", ResolveTools(agent_spec)},
      {"providers", {{"web_search", false}, {"send_email", false}, {"screenshot", false}}},
      {"limits",
       {{"tool_timeout_seconds", 120}, {"tool_output_bytes", 32768}, {"max_steps_per_turn", 50}}},
      {"workspace", "/workspace"}};
}

absl::Duration IdleTimeout(const Resource& session, const json::object& agent_spec) {
  const json::object* s = Obj(&session.object, "spec");
  const bool triggered =
      !Str(Obj(Obj(&session.object, "metadata"), "labels"), kTriggerLabel).empty();
  auto minutes = [](const json::object* o) -> std::optional<absl::Duration> {
    const json::value* v = o ? o->if_contains("idleTimeoutMinutes") : nullptr;
    if (v && v->is_int64()) return absl::Minutes(v->as_int64());
    return std::nullopt;
  };
  auto duration = [](const json::object* o) -> std::optional<absl::Duration> {
    const std::string d = Str(o, "idleTimeout");
    if (d.empty()) return std::nullopt;
    auto secs = resource::ParseDurationSeconds(d);
    if (!secs) return std::nullopt;
    return absl::Seconds(*secs);
  };
  for (const json::object* o : {s, &agent_spec}) {
    auto first = triggered ? duration(o) : minutes(o);
    if (first) return *first;
    auto second = triggered ? minutes(o) : duration(o);
    if (second) return *second;
  }
  return absl::Minutes(15);
}

int64_t TtlAfterFinished(const Resource& session, const json::object& agent_spec,
                         const std::string& phase) {
  for (const json::object* o : {Obj(&session.object, "spec"), &agent_spec}) {
    const json::value* v = o ? o->if_contains("ttlSecondsAfterFinished") : nullptr;
    if (v && v->is_int64()) return v->as_int64();
  }
  return phase == "Error" ? 14 * 86400 : 7 * 86400;
}

Resource NewSession(const Resource& agent, const std::string& name, json::object spec,
                    const std::string& trigger) {
  spec["agent"] = agent.name;
  json::object ann;
  const json::object* am = Obj(Obj(&agent.object, "metadata"), "annotations");
  for (const char* k : {"pai.io/created-by", "pai.io/last-applied-by"}) {
    if (!Str(am, k).empty()) ann[k] = Str(am, k);
  }
  json::object meta{{"name", name},
                    {"namespace", agent.ns},
                    {"annotations", std::move(ann)},
                    {"ownerReferences", json::array{json::object{{"apiVersion", "pai.io/v1"},
                                                                 {"kind", "Agent"},
                                                                 {"name", agent.name},
                                                                 {"uid", agent.uid()},
                                                                 {"controller", true},
                                                                 {"blockOwnerDeletion", true}}}}};
  if (!trigger.empty()) meta["labels"] = json::object{{kTriggerLabel, trigger}};
  Resource r;
  r.kind = "Session";
  r.ns = agent.ns;
  r.name = name;
  r.object = {{"apiVersion", "pai.io/v1"},
              {"kind", "Session"},
              {"metadata", std::move(meta)},
              {"spec", std::move(spec)}};
  return r;
}

// ---- the controller's Session pass ----

namespace {

bool Terminal(const std::string& phase) { return phase == "Complete" || phase == "Error"; }

void WriteStatus(Store& store, const Resource& r, json::object status) {
  const json::value* old = r.object.if_contains("status");
  if (old && old->is_object() && old->as_object() == status) return;
  if (absl::Status s = store.UpdateStatus("Session", r.ns, r.name, r.uid(), status);
      !s.ok() && !absl::IsNotFound(s) && !absl::IsAborted(s)) {
    log::Warn("session status update failed",
              {{"session", pai::StrCat(r.ns, "/", r.name)}, {"error", std::string(s.message())}});
  }
}

}  // namespace

absl::Status Controller::ReconcileSessions(const std::map<std::string, AgentInfo>& agents) {
  auto sessions = store_.List("Session", "", Store::Scope::kAllNamespaces);
  if (!sessions.ok()) return sessions.status();
  auto ids = store_.Identities();
  if (!ids.ok()) return ids.status();
  std::map<std::string, const GatewayIdentity*> identity;  // session uid -> live identity
  for (const GatewayIdentity& id : *ids) {
    if (id.purpose.rfind("session:", 0) == 0 && id.revoked.empty()) identity[id.agent_uid] = &id;
  }
  const absl::Time now = Now();
  std::set<std::string> live;
  auto revoke = [&](const std::string& session_uid) {
    auto it = identity.find(session_uid);
    if (it == identity.end()) return;
    if (absl::Status r = tokens_.Revoke(it->second->id); !r.ok() && !absl::IsNotFound(r)) return;
    (void)store_.MarkIdentityRevoked(it->second->id, Rfc3339(now));
    identity.erase(it);
  };
  // fail(): a Session the runtime never ran to its end: Error, and the stream's last event.
  auto fail = [&](const Resource& r, json::object status, const std::string& reason) {
    status["phase"] = "Error";
    status["message"] = reason;
    status["completedAt"] = Rfc3339(now);
    if (options_.events) {
      (void)options_.events->Append(
          r.ns, r.name,
          {json::object{
              {"type", "session.status_terminated"}, {"phase", "Error"}, {"reason", reason}}});
    }
    WriteStatus(store_, r, std::move(status));
  };
  for (const Resource& r : *sessions) {
    const std::string key = pai::StrCat(r.ns, "/", r.name);
    live.insert(key);
    json::object status;
    if (const json::object* st = Obj(&r.object, "status")) status = *st;
    const std::string phase = Str(&status, "phase");
    const std::string agent_name = Str(Obj(&r.object, "spec"), "agent");
    auto agent = agents.find(pai::StrCat(r.ns, "/", agent_name));
    const json::object no_spec;
    const json::object& agent_spec = agent == agents.end() ? no_spec : agent->second.spec;
    if (Terminal(phase)) {
      revoke(r.uid());
      if (runtime_.Status("Session", key).known) (void)runtime_.Stop("Session", key);
      // Schedule runs follow the schedule's history rule (triggers.cc) instead.
      const bool scheduled =
          Str(Obj(Obj(&r.object, "metadata"), "labels"), kTriggerLabel) == "schedule";
      const int64_t ttl = scheduled ? 0 : TtlAfterFinished(r, agent_spec, phase);
      const absl::Time done = ParseRfc3339(Str(&status, "completedAt"));
      if (ttl > 0 && done != absl::InfinitePast() && now >= done + absl::Seconds(ttl)) {
        (void)store_.Delete("Session", r.ns, r.name);
        runtime_.Purge("Session", key, r.uid());
        log::Info("session deleted after its ttlSecondsAfterFinished", {{"session", key}});
      }
      continue;
    }
    WorkloadStatus ws = runtime_.Status("Session", key);
    if (!ws.known) {
      if (!Str(&status, "startedAt").empty()) {
        // It ran, and the runtime no longer has it (pai-server restarted): it ended.
        fail(r, std::move(status), "the sandbox ended when pai-server restarted");
        revoke(r.uid());
        continue;
      }
      if (agent == agents.end()) continue;  // its Agent is gone: the cascade deletes it
      const AgentInfo& a = agent->second;
      const json::value* lr = a.spec.if_contains("longRunning");
      if (lr && lr->is_bool() && lr->as_bool()) {
        fail(r, std::move(status),
             pai::StrCat("Agent \"", agent_name,
                         "\" is long-running; Sessions need a session-spawning Agent "
                         "(longRunning: false)"));
        continue;
      }
      if (!a.ready) {
        status["phase"] = "Pending";
        status["message"] = pai::StrCat("waiting for Agent \"", agent_name, "\": ", a.message);
        WriteStatus(store_, r, std::move(status));
        continue;
      }
      std::string token;
      if (auto it = identity.find(r.uid()); it != identity.end()) {
        token = it->second->token;
      } else {
        auto minted = tokens_.Mint(pai::StrCat(r.ns, "/", agent_name), r.name);
        if (!minted.ok()) return minted.status();
        GatewayIdentity id{
            minted->first,  r.ns,         agent_name, r.uid(), pai::StrCat("session:", r.name),
            minted->second, Rfc3339(now), ""};
        if (absl::Status st = store_.AddIdentity(id); !st.ok()) return st;
        token = minted->second;
      }
      const std::string trigger = Str(Obj(Obj(&r.object, "metadata"), "labels"), kTriggerLabel);
      Workload w;
      w.kind = "Session";
      w.ns = r.ns;
      w.name = r.name;
      w.uid = r.uid();
      w.agent = agent_name;
      w.spec = a.spec;
      w.session = SessionConfig(r, a.spec, trigger == "schedule" ? "task" : "interactive");
      w.gateway_url = options_.gateway_url;
      w.gateway_token = token;
      w.env = CreatorEnv(store_, r);  // the Session's creator; the Agent's env[] wins
      for (const auto& [k, v] : a.env) w.env[k] = v;
      w.files = a.files;
      if (absl::Status st = runtime_.Start(w); !st.ok()) {
        log::Warn("session start failed", {{"session", key}, {"error", std::string(st.message())}});
      }
      ws = runtime_.Status("Session", key);
    }
    json::object next = status;
    next["phase"] = ws.phase;
    next["message"] = ws.message;
    if (!ws.started_at.empty()) next["startedAt"] = ws.started_at;
    if (!ws.completed_at.empty()) next["completedAt"] = ws.completed_at;
    next["tokensUsed"] = ws.tokens_used;
    if (!ws.job_name.empty()) next["jobName"] = ws.job_name;
    if (!ws.pod_name.empty()) next["podName"] = ws.pod_name;
    if (!ws.idle_since.empty()) {
      next["idleSince"] = ws.idle_since;
    } else {
      next.erase("idleSince");
    }
    if (agent != agents.end()) {
      // Packages the local runtime does not install.
      std::vector<std::string> unsupported;
      for (const char* pm : {"apt", "go", "gem", "cargo"}) {
        const json::array* list = Arr(Obj(&agent_spec, "packages"), pm);
        if (list && !list->empty()) unsupported.push_back(pm);
      }
      if (!unsupported.empty() && !Terminal(ws.phase)) {
        next["message"] = pai::StrCat(
            ws.message.empty() ? "" : ws.message + "; ", "packages.",
            absl::StrJoin(unsupported, ", packages."),
            " not installed: the local runtime installs pip and npm packages only (use an image)");
      }
    }
    WriteStatus(store_, r, next);
    if (Terminal(ws.phase)) {
      revoke(r.uid());
      continue;
    }
    if (ws.phase == "Idle" && !ws.idle_since.empty()) {
      const absl::Duration timeout = IdleTimeout(r, agent_spec);
      if (now >= ParseRfc3339(ws.idle_since) + timeout) {
        log::Info("session idle timeout", {{"session", key}});
        (void)runtime_.End(key, pai::StrCat("idle for ", absl::FormatDuration(timeout)));
      }
    }
  }
  // Sessions deleted from the store (directly or with their Agent) stop running.
  for (const std::string& k : runtime_.Keys()) {
    if (k.rfind("Session/", 0) == 0 && !live.contains(k.substr(8))) {
      (void)runtime_.Stop("Session", k.substr(8));
    }
  }
  std::vector<std::string> orphans;
  for (const auto& [uid, id] : identity) {
    bool exists = false;
    for (const Resource& r : *sessions) exists = exists || r.uid() == uid;
    if (!exists) orphans.push_back(uid);
  }
  for (const std::string& uid : orphans) revoke(uid);
  return absl::OkStatus();
}

}  // namespace pai::server
