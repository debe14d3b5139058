#include "server/triggers.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>
#include <map>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/log.h"
#include "common/strings.h"
#include "croncpp.h"
#include "resource/resource.h"
#include "runtime/egress_policy.h"
#include "server/controller.h"
#include "server/json_access.h"

namespace pai::server {
namespace json = boost::json;

absl::StatusOr<absl::Time> NextCronTick(const std::string& expr, absl::Time after) {
  // Macros and whitespace as cron(8) reads them; croncpp wants five single-spaced fields.
  static const std::pair<const char*, const char*> kMacros[] = {
      {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
      {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
      {"@hourly", "0 * * * *"}};
  std::string fields =
      absl::StrJoin(absl::StrSplit(expr, absl::ByAnyChar(" \t"), absl::SkipEmpty()), " ");
  for (auto [macro, five] : kMacros) {
    if (fields == macro) fields = five;
  }
  // croncpp reads six fields (seconds first) and works in the process's local time (UTC here).
  try {
    const auto cron = cron::make_cron("0 " + fields);
    const std::time_t next = cron::cron_next(cron, absl::ToTimeT(after));
    if (next == static_cast<std::time_t>(-1)) {
      return absl::NotFoundError(pai::StrCat("\"", expr, "\" names no future time"));
    }
    return absl::FromTimeT(next);
  } catch (const cron::bad_cronexpr& e) {
    return absl::InvalidArgumentError(pai::StrCat("\"", expr, "\": ", e.what()));
  }
}

bool CidrContains(const std::string& cidr, const std::string& address) {
  std::string addr = address;
  if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']')
    addr = addr.substr(1, addr.size() - 2);
  auto net = runtime::Cidr::Parse(cidr);
  auto ip = runtime::IpAddress::Parse(addr);
  return net.ok() && ip && net->Contains(*ip);
}

namespace {

bool Terminal(const std::string& phase) { return phase == "Complete" || phase == "Error"; }

std::string NewWebhookToken() {
  unsigned char b[32];
  RAND_bytes(b, sizeof b);
  std::string out =
      absl::WebSafeBase64Escape(std::string(reinterpret_cast<const char*>(b), sizeof b));
  return out;
}

std::string Label(const Resource& r, const char* key) {
  return Str(Obj(Obj(&r.object, "metadata"), "labels"), key);
}

}  // namespace

void Controller::ReconcileTriggers(const std::map<std::string, AgentInfo>& agents,
                                   std::map<std::string, json::object>& agent_status) {
  const absl::Time now = Now();
  auto hooks = store_.Webhooks();
  std::map<std::string, Store::Webhook> hook_by_uid;
  if (hooks.ok()) {
    for (auto& h : *hooks) hook_by_uid[h.agent_uid] = h;
  }
  std::set<std::string> wanted_hooks;
  auto sessions = store_.List("Session", "", Store::Scope::kAllNamespaces);
  for (const auto& [key, a] : agents) {
    const json::array* triggers = Arr(&a.spec, "triggers");
    if (!triggers || triggers->empty()) continue;
    json::object& st = agent_status[key];
    json::array report;
    for (const json::value& t : *triggers) {
      if (!t.is_object() || t.as_object().empty()) continue;
      const std::string type(t.as_object().begin()->key());
      json::object item{{"type", type}};
      if (type == "webhook") {
        auto it = hook_by_uid.find(a.agent.uid());
        std::string token;
        if (it != hook_by_uid.end()) {
          token = it->second.token;
        } else {
          token = NewWebhookToken();
          if (!store_.AddWebhook({token, a.agent.ns, a.agent.name, a.agent.uid()}).ok()) continue;
          hook_by_uid[a.agent.uid()] = {token, a.agent.ns, a.agent.name, a.agent.uid()};
        }
        wanted_hooks.insert(token);
        const std::string url = pai::StrCat(options_.public_url, "/hooks/", token);
        item["active"] = true;
        item["url"] = url;
        st["webhookURL"] = url;
      } else if (type == "schedule") {
        const std::string expr = Str(&t.as_object(), "schedule");
        item["schedule"] = expr;
        item["active"] = true;
        st["phase"] = "Scheduled";
        st["cronJobName"] = pai::StrCat(a.agent.ns, ".", a.agent.name, ".cron");
        if (!sessions.ok() || !a.ready) {
          item["active"] = false;
          item["message"] = a.ready ? "the store could not be read" : a.message;
          // What the schedule has done is kept while it waits.
          if (const json::object* old = Obj(&a.agent.object, "status")) {
            for (const char* k : {"lastScheduleTime", "nextScheduleTime", "lastRunAt",
                                  "lastRunPhase", "skippedRuns", "lastSkippedAt"}) {
              if (const json::value* v = old->if_contains(k)) st[k] = *v;
            }
          }
        } else {
          RunSchedule(a, expr, now, *sessions, st, item);
        }
      } else {
        item["active"] = false;
        item["message"] = pai::StrCat(type,
                                      " trigger: its provider integration is not available "
                                      "yet (stored and validated only)");
      }
      report.push_back(std::move(item));
    }
    st["triggers"] = std::move(report);
  }
  // Webhook tokens of Agents that are gone or no longer have a webhook trigger.
  if (hooks.ok()) {
    for (const auto& h : *hooks) {
      if (!wanted_hooks.contains(h.token)) (void)store_.DeleteWebhook(h.token);
    }
  }
}

// RunSchedule(): one Agent's cron schedule at `now`: start the run of the latest tick not yet
// handled (skipped, and recorded, while a previous run is active), report the last run, and
// keep the history (the last 3 Complete and 3 Error runs; others go 24 h after they finished).
void Controller::RunSchedule(const AgentInfo& a, const std::string& expr, absl::Time now,
                             const std::vector<Resource>& sessions, json::object& st,
                             json::object& item) {
  const json::object* old = Obj(&a.agent.object, "status");
  absl::Time last = ParseRfc3339(Str(old, "lastScheduleTime"));
  if (last == absl::InfinitePast()) {
    last = ParseRfc3339(Str(Obj(&a.agent.object, "metadata"), "creationTimestamp"));
  }
  if (last == absl::InfinitePast()) last = now;
  // Runs of this Agent's schedule, newest first.
  std::vector<const Resource*> runs;
  for (const Resource& r : sessions) {
    if (r.ns == a.agent.ns && Str(Obj(&r.object, "spec"), "agent") == a.agent.name &&
        Label(r, kTriggerLabel) == "schedule") {
      runs.push_back(&r);
    }
  }
  std::sort(runs.begin(), runs.end(), [](const Resource* x, const Resource* y) {
    return Str(Obj(&x->object, "metadata"), "creationTimestamp") >
               Str(Obj(&y->object, "metadata"), "creationTimestamp") ||
           (Str(Obj(&x->object, "metadata"), "creationTimestamp") ==
                Str(Obj(&y->object, "metadata"), "creationTimestamp") &&
            x->name > y->name);
  });
  // The latest tick in (last, now]; missed older ticks are not run (one run per pass).
  absl::Time tick = absl::InfinitePast();
  for (absl::Time t = last; tick == absl::InfinitePast() || t <= now;) {
    auto next = NextCronTick(expr, t);
    if (!next.ok()) {
      item["active"] = false;
      item["message"] = std::string(next.status().message());
      return;
    }
    if (*next > now) {
      st["nextScheduleTime"] = Rfc3339(*next);
      break;
    }
    tick = *next;
    t = *next;
  }
  st["lastScheduleTime"] = Rfc3339(tick == absl::InfinitePast() ? last : tick);
  if (tick != absl::InfinitePast()) {
    const Resource* active = nullptr;
    for (const Resource* r : runs) {
      if (!Terminal(Str(Obj(&r->object, "status"), "phase"))) active = r;
    }
    if (active) {
      const int64_t skipped =
          old && old->contains("skippedRuns") && old->at("skippedRuns").is_int64()
              ? old->at("skippedRuns").as_int64()
              : 0;
      st["skippedRuns"] = skipped + 1;
      st["lastSkippedAt"] = Rfc3339(tick);
      log::Info("schedule tick skipped: the previous run is still active",
                {{"agent", pai::StrCat(a.agent.ns, "/", a.agent.name)}, {"run", active->name}});
    } else {
      const std::string name =
          pai::StrCat(a.agent.name.substr(0, 48), "-", absl::ToUnixSeconds(tick) / 60);
      json::object spec{
          {"task", pai::StrCat("Scheduled run at ", Rfc3339(tick), " (cron \"", expr, "\").")}};
      auto created = store_.Create(NewSession(a.agent, name, std::move(spec), "schedule"));
      if (!created.ok() && !absl::IsAlreadyExists(created.status())) {
        item["message"] = std::string(created.status().message());
      } else {
        log::Info("scheduled run started", {{"session", pai::StrCat(a.agent.ns, "/", name)}});
      }
    }
  }
  if (const json::value* sk = old ? old->if_contains("skippedRuns") : nullptr;
      sk && !st.contains("skippedRuns")) {
    st["skippedRuns"] = *sk;
  }
  if (const json::value* ls = old ? old->if_contains("lastSkippedAt") : nullptr;
      ls && !st.contains("lastSkippedAt")) {
    st["lastSkippedAt"] = *ls;
  }
  if (!runs.empty()) {
    st["lastRunAt"] = Str(Obj(&runs.front()->object, "metadata"), "creationTimestamp");
    const std::string phase = Str(Obj(&runs.front()->object, "status"), "phase");
    st["lastRunPhase"] = phase.empty() ? "Pending" : phase;
  }
  // History: the newest 3 Complete and 3 Error runs stay; older finished ones go after 24 h.
  int complete = 0, error = 0;
  for (const Resource* r : runs) {
    const std::string phase = Str(Obj(&r->object, "status"), "phase");
    if (!Terminal(phase)) continue;
    int& kept = phase == "Complete" ? complete : error;
    if (kept < 3) {
      ++kept;
      continue;
    }
    const absl::Time done = ParseRfc3339(Str(Obj(&r->object, "status"), "completedAt"));
    if (done != absl::InfinitePast() && now >= done + absl::Hours(24)) {
      (void)store_.Delete("Session", r->ns, r->name);
      runtime_.Purge("Session", pai::StrCat(r->ns, "/", r->name), r->uid());
    }
  }
}

WebhookResult HandleWebhook(Store& store, SessionEvents& events, Runtime& runtime,
                            const WebhookCall& call) {
  WebhookResult out;
  auto fail = [&](int status, const char* code, std::string message) {
    out.status = status;
    out.error_code = code;
    out.message = std::move(message);
    return out;
  };
  auto hooks = store.Webhooks();
  if (!hooks.ok()) return fail(503, "unavailable", "the store could not be read");
  const Store::Webhook* hook = nullptr;
  for (const auto& h : *hooks) {
    if (h.token.size() == call.token.size() &&
        CRYPTO_memcmp(h.token.data(), call.token.data(), h.token.size()) == 0) {
      hook = &h;
    }
  }
  if (!hook) return fail(404, "not_found", "no such webhook");
  auto agent = store.Get("Agent", hook->ns, hook->agent);
  if (!agent.ok() || agent->uid() != hook->agent_uid) {
    return fail(404, "not_found", "no such webhook");
  }
  const json::object* webhook = nullptr;
  // Legacy Agents (spec.webhook) are read through the same mapping the controller uses.
  json::object mapped;
  const json::object* spec = Obj(&agent->object, "spec");
  if (resource::IsLegacy(agent->object)) {
    mapped = resource::MapLegacy(agent->object, [](std::string_view) {
               return std::optional<std::string>();
             }).spec;
    spec = &mapped;
  }
  if (const json::array* ts = Arr(spec, "triggers")) {
    for (const json::value& t : *ts) {
      if (t.is_object()) {
        if (const json::object* w = Obj(&t.as_object(), "webhook"))
          webhook = w;
        else if (t.as_object().contains("webhook")) {
          static const json::object kEmpty;
          webhook = &kEmpty;
        }
      }
    }
  }
  if (!webhook) return fail(404, "not_found", "no such webhook");
  if (const json::array* cidrs = Arr(webhook, "allowCIDRs"); cidrs && !cidrs->empty()) {
    bool allowed = false;
    for (const json::value& c : *cidrs) {
      allowed = allowed ||
                (c.is_string() && CidrContains(std::string(c.as_string()), call.remote_address));
    }
    if (!allowed) {
      return fail(403, "forbidden",
                  pai::StrCat(call.remote_address, " is not in the webhook's allowCIDRs"));
    }
  }
  if (const std::string secret_name = Str(webhook, "linearSignatureSecret"); !secret_name.empty()) {
    auto secret = store.Get("Secret", hook->ns, secret_name);
    std::string key;
    if (secret.ok()) {
      boost::system::error_code ec;
      json::value pd = json::parse(secret->private_data, ec);
      const json::object* data = !ec && pd.is_object() ? Obj(&pd.as_object(), "data") : nullptr;
      if (data && !data->empty()) {
        std::string b64 = Str(data, "webhook-secret");
        if (b64.empty()) b64 = Str(data, std::string(data->begin()->key()).c_str());
        (void)absl::Base64Unescape(b64, &key);
      }
    }
    if (key.empty()) {
      return fail(503, "unavailable",
                  pai::StrCat("the webhook's Secret \"", secret_name, "\" has no value"));
    }
    unsigned char mac[32];
    unsigned int mac_len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(call.body.data()), call.body.size(), mac, &mac_len);
    const std::string want =
        absl::BytesToHexString(std::string(reinterpret_cast<char*>(mac), mac_len));
    std::string got = call.signature;
    std::transform(got.begin(), got.end(), got.begin(), ::tolower);
    if (got.size() != want.size() || CRYPTO_memcmp(got.data(), want.data(), want.size()) != 0) {
      return fail(403, "forbidden", "the Linear-Signature header does not match the body");
    }
  }
  const std::string text = pai::StrCat("Webhook payload:\n", call.body);
  // Wake the Agent's Idle webhook Session, if there is one.
  auto sessions = store.List("Session", hook->ns, Store::Scope::kNamespace);
  if (sessions.ok()) {
    for (const Resource& r : *sessions) {
      if (Str(Obj(&r.object, "spec"), "agent") != hook->agent ||
          Label(r, kTriggerLabel) != "webhook" ||
          Str(Obj(&r.object, "status"), "phase") != "Idle") {
        continue;
      }
      auto stored = events.AppendStored(
          r.ns, r.name,
          {json::object{{"type", "user.message"},
                        {"content", json::array{json::object{{"type", "text"}, {"text", text}}}}}});
      if (!stored.ok()) break;
      if (runtime.Deliver(pai::StrCat(r.ns, "/", r.name), stored->front()).ok()) {
        out.session = r.name;
        return out;
      }
    }
  }
  char suffix[8];
  unsigned char rnd[5];
  RAND_bytes(rnd, sizeof rnd);
  for (int i = 0; i < 5; ++i) suffix[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[rnd[i] % 36];
  suffix[5] = 0;
  const std::string name = pai::StrCat(hook->agent.substr(0, 50), "-hook-", suffix);
  auto created = store.Create(NewSession(*agent, name, json::object{{"task", text}}, "webhook"));
  if (!created.ok()) return fail(500, "internal", std::string(created.status().message()));
  events.Changed();
  out.session = name;
  return out;
}

}  // namespace pai::server
