#include "cli/pai/views.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "boost/json/serialize.hpp"
#include "cli/pai/text.h"

namespace pai::cli {

namespace json = boost::json;

const json::value* At(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (std::string_view key : path) {
    if (!cur->is_object()) return nullptr;
    cur = cur->get_object().if_contains(key);
    if (cur == nullptr) return nullptr;
  }
  return cur;
}

std::string StrAt(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* p = At(v, path);
  return p != nullptr && p->is_string() ? std::string(p->get_string()) : std::string();
}

std::optional<int64_t> IntAt(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* p = At(v, path);
  if (p == nullptr) return std::nullopt;
  if (p->is_int64()) return p->get_int64();
  if (p->is_uint64()) return static_cast<int64_t>(p->get_uint64());
  if (p->is_double()) return static_cast<int64_t>(p->get_double());
  return std::nullopt;
}

std::optional<double> NumAt(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* p = At(v, path);
  if (p == nullptr) return std::nullopt;
  if (p->is_int64()) return static_cast<double>(p->get_int64());
  if (p->is_uint64()) return static_cast<double>(p->get_uint64());
  if (p->is_double()) return p->get_double();
  return std::nullopt;
}

std::string ScalarText(const json::value& v) {
  if (v.is_null()) return "";
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_double()) {
    // Boost.JSON would print 0.8 as 8E-1.
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.15g", v.get_double());
    return buf;
  }
  return json::serialize(v);
}

namespace {

std::string OrNone(std::string s) { return s.empty() ? std::string(kNone) : s; }

std::string Fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

std::string Age(const json::value& obj, int64_t now) {
  const auto t = ParseRfc3339(StrAt(obj, {"metadata", "creationTimestamp"}));
  return t ? FormatAge(now - *t) : std::string(kNone);
}

std::string Count(std::optional<int64_t> n) {
  return n && *n != 0 ? FormatThousands(*n) : std::string(kNone);
}

std::string JoinStrings(const json::value* arr, std::string_view sep) {
  std::string out;
  if (arr == nullptr || !arr->is_array()) return out;
  for (const auto& e : arr->get_array()) {
    std::string s = e.is_string()   ? std::string(e.get_string())
                    : e.is_object() ? StrAt(e, {"name"})
                                    : ScalarText(e);
    if (s.empty()) continue;
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

// NameOrString() reads a reference written either as "name" or as {name: ...}.
std::string NameOrString(const json::value* v) {
  if (v == nullptr) return "";
  if (v->is_string()) return std::string(v->get_string());
  if (v->is_object()) return StrAt(*v, {"name"});
  return "";
}

std::string PrimaryModel(const json::value& agent) {
  const json::value* models = At(agent, {"spec", "models"});
  if (models != nullptr && models->is_array() && !models->get_array().empty()) {
    std::string m = NameOrString(&models->get_array()[0]);
    const size_t slash = m.find('/');
    return slash == std::string::npos ? m : m.substr(slash + 1);
  }
  // Legacy Agents name a model binding instead.
  const json::value* bindings = At(agent, {"spec", "modelBindings"});
  if (bindings != nullptr && bindings->is_array() && !bindings->get_array().empty()) {
    return NameOrString(&bindings->get_array()[0]);
  }
  return "";
}

// Schedule() is the cron string of a scheduled Agent (triggers[].schedule, or the legacy
// spec.schedule).
std::string Schedule(const json::value& agent) {
  if (const json::value* triggers = At(agent, {"spec", "triggers"});
      triggers != nullptr && triggers->is_array()) {
    for (const auto& t : triggers->get_array()) {
      if (std::string cron = StrAt(t, {"schedule"}); !cron.empty()) return cron;
    }
  }
  return StrAt(agent, {"spec", "schedule"});
}

// TokensPerDay() is "12,450", or "12,450 / 1,000,000" when spec.tokens.maxPerDay caps it.
std::string TokensPerDay(const json::value& agent) {
  const auto used = IntAt(agent, {"status", "tokensToday"});
  const auto cap = IntAt(agent, {"spec", "tokens", "maxPerDay"});
  if (!cap || *cap <= 0) return Count(used);
  return (used ? FormatThousands(*used) : std::string(kNone)) + " / " + FormatThousands(*cap);
}

std::string ScoreText(const json::value& v, std::initializer_list<std::string_view> path) {
  const auto n = NumAt(v, path);
  return n ? Fixed(*n, 2) : std::string(kNone);
}

std::string PassTotal(const json::value& eval) {
  const auto passed = IntAt(eval, {"status", "passed"});
  const auto total = IntAt(eval, {"status", "total"});
  if (!passed && !total) return kNone;
  return std::to_string(passed.value_or(0)) + "/" + std::to_string(total.value_or(0));
}

// ShortTime() renders an RFC 3339 time without fraction and zone ("2026-05-05T19:51:40").
std::string ShortTime(const std::string& rfc3339) {
  if (rfc3339.empty()) return kNone;
  return rfc3339.size() >= 19 ? rfc3339.substr(0, 19) : rfc3339;
}

std::vector<std::string> Header(std::string_view kind) {
  if (kind == "Agent")
    return {"NAME", "TYPE", "STATUS", "MODELS", "TOKENS/DAY", "URL / TASK", "AGE"};
  if (kind == "Session") return {"NAME", "AGENT-DEFINITION", "PHASE", "TOKENS", "TASK"};
  if (kind == "ModelProvider") return {"NAME", "PROVIDER", "READY", "MAX-TOKENS/DAY", "AGE"};
  if (kind == "Provider") return {"NAME", "PROVIDER", "SECRET", "REPOS", "AGE"};
  if (kind == "Secret") return {"NAME", "TYPE", "KEYS", "AGE"};
  if (kind == "Skill") return {"NAME", "FILES", "DESCRIPTION", "AGE"};
  if (kind == "GuardBinding") return {"NAME", "CLASSIFIER", "THRESHOLD", "ENFORCEMENT", "AGE"};
  if (kind == "Eval") return {"NAME", "TARGET", "SCORE", "PASS/TOTAL", "RESULT", "AGE"};
  if (kind == "PaiFile") return {"NAME", "DESCRIPTION", "AGE"};
  if (kind == "PaiAccessToken") {
    return {"NAME", "NAMESPACE", "DESCRIPTION", "EXPIRES", "STATUS", "AGE"};
  }
  return {"NAME", "AGE"};
}

std::vector<std::string> Row(std::string_view kind, const json::value& o, int64_t now) {
  const std::string name = StrAt(o, {"metadata", "name"});
  if (kind == "Agent") {
    std::string status = StrAt(o, {"status", "phase"});
    if (status.empty()) {
      const json::value* ready = At(o, {"status", "ready"});
      if (ready != nullptr && ready->is_bool() && !ready->get_bool()) status = "NotReady";
    }
    std::string where = StrAt(o, {"status", "url"});
    if (where.empty()) where = StrAt(o, {"spec", "task"});
    if (where.empty()) where = Schedule(o);
    return {name,
            AgentType(o),
            status,
            OrNone(PrimaryModel(o)),
            TokensPerDay(o),
            OrNone(Truncate(where, 40)),
            Age(o, now)};
  }
  if (kind == "Session") {
    return {name, OrNone(StrAt(o, {"spec", "agent"})), OrNone(StrAt(o, {"status", "phase"})),
            Count(IntAt(o, {"status", "tokensUsed"})),
            OrNone(Truncate(StrAt(o, {"spec", "task"}), 60))};
  }
  if (kind == "ModelProvider") {
    const json::value* ready = At(o, {"status", "ready"});
    return {name, OrNone(StrAt(o, {"spec", "provider"})),
            ready != nullptr && ready->is_bool() ? (ready->get_bool() ? "true" : "false") : kNone,
            Count(IntAt(o, {"spec", "maxTokensDay"})), Age(o, now)};
  }
  if (kind == "Provider") {
    std::string secret = NameOrString(At(o, {"spec", "secretRef"}));
    if (secret.empty()) secret = StrAt(o, {"spec", "secretToken"});
    return {name, OrNone(StrAt(o, {"spec", "provider"})), OrNone(secret),
            OrNone(Truncate(JoinStrings(At(o, {"spec", "repos"}), ","), 50)), Age(o, now)};
  }
  if (kind == "Secret") {
    std::string type = StrAt(o, {"type"});
    return {name, type.empty() ? "Opaque" : type, OrNone(JoinStrings(At(o, {"keys"}), ",")),
            Age(o, now)};
  }
  if (kind == "Skill") {
    const json::value* files = At(o, {"spec", "files"});
    std::string count = kNone;
    if (files != nullptr && files->is_array()) {
      count = std::to_string(files->get_array().size());
    } else if (auto n = IntAt(o, {"status", "files"})) {
      count = std::to_string(*n);
    }
    return {name, count, OrNone(Truncate(StrAt(o, {"spec", "description"}), 50)), Age(o, now)};
  }
  if (kind == "GuardBinding") {
    const json::value* threshold = At(o, {"spec", "threshold"});
    return {name, OrNone(StrAt(o, {"spec", "classifier", "type"})),
            threshold != nullptr ? ScalarText(*threshold) : kNone,
            OrNone(StrAt(o, {"spec", "enforcement"})), Age(o, now)};
  }
  if (kind == "Eval") {
    return {name,
            OrNone(StrAt(o, {"spec", "targetAgent"})),
            ScoreText(o, {"status", "lastScore"}),
            PassTotal(o),
            OrNone(StrAt(o, {"status", "lastResult"})),
            Age(o, now)};
  }
  if (kind == "PaiFile") {
    return {name, OrNone(Truncate(StrAt(o, {"spec", "description"}), 50)), Age(o, now)};
  }
  if (kind == "PaiAccessToken") {
    const std::string ns = StrAt(o, {"spec", "targetNamespace"});
    return {name,
            OrNone(ns),
            OrNone(Truncate(StrAt(o, {"spec", "description"}), 40)),
            OrNone(StrAt(o, {"spec", "expiresAt"})),
            TokenStatus(o, now),
            Age(o, now)};
  }
  return {name, Age(o, now)};
}

}  // namespace

Table AgentsTable(const std::vector<json::value>& agents, const std::vector<json::value>& sessions,
                  int64_t now, bool with_namespace, const std::vector<json::value>* definitions) {
  if (definitions == nullptr) definitions = &agents;
  Table table = ResourceTable("Agent", agents, now, with_namespace);
  for (const auto& s : sessions) {
    const std::string ns = StrAt(s, {"metadata", "namespace"});
    const std::string agent_name = StrAt(s, {"spec", "agent"});
    std::string model = PrimaryModel(s);
    if (model.empty()) {
      for (const auto& a : *definitions) {
        if (StrAt(a, {"metadata", "name"}) == agent_name &&
            StrAt(a, {"metadata", "namespace"}) == ns) {
          model = PrimaryModel(a);
          break;
        }
      }
    }
    std::vector<std::string> row = {StrAt(s, {"metadata", "name"}),
                                    "task",
                                    StrAt(s, {"status", "phase"}),
                                    OrNone(model),
                                    Count(IntAt(s, {"status", "tokensUsed"})),
                                    OrNone(Truncate(StrAt(s, {"spec", "task"}), 40)),
                                    Age(s, now)};
    if (with_namespace) row.insert(row.begin(), OrNone(ns));
    table.AddRow(std::move(row));
  }
  return table;
}

std::string DisplayKind(std::string_view kind) {
  if (kind == "ModelProvider") return "model-provider";
  if (kind == "GuardBinding") return "guard-binding";
  if (kind == "PaiAccessToken") return "token";
  if (kind == "AgentWorkload") return "agent";
  std::string out(kind);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string AgentType(const json::value& agent) {
  const json::value* lr = At(agent, {"spec", "longRunning"});
  if (lr != nullptr && lr->is_bool() && lr->get_bool()) return "service";
  const std::string legacy = StrAt(agent, {"spec", "type"});
  if (legacy == "task" || legacy == "service") return legacy;
  // Legacy AgentWorkload shape: an image without a harness is a long-running Agent
  // (docs/resources.md, "Legacy mapping").
  if (!StrAt(agent, {"spec", "image"}).empty() && StrAt(agent, {"spec", "harness"}).empty()) {
    return "service";
  }
  return "";
}

Table ResourceTable(std::string_view kind, const std::vector<json::value>& items, int64_t now,
                    bool with_namespace) {
  std::vector<std::string> header = Header(kind);
  if (with_namespace) header.insert(header.begin(), "NAMESPACE");
  Table table(std::move(header));
  for (const auto& item : items) {
    std::vector<std::string> row = Row(kind, item, now);
    if (with_namespace) row.insert(row.begin(), OrNone(StrAt(item, {"metadata", "namespace"})));
    table.AddRow(std::move(row));
  }
  return table;
}

namespace {

std::string DetailInt(const json::value& d, std::string_view key) {
  const json::value* v = At(d, {key});
  return v != nullptr ? ScalarText(*v) : std::string("?");
}

std::string ModelId(const std::string& model) {
  const size_t slash = model.find('/');
  return slash == std::string::npos ? model : model.substr(slash + 1);
}

}  // namespace

std::string AuditDetail(const json::value& record) {
  const std::string type = StrAt(record, {"type"});
  const json::value* dp = At(record, {"detail"});
  static const json::value kEmpty = json::object();
  const json::value& d = dp != nullptr && dp->is_object() ? *dp : kEmpty;
  std::string out;
  if (type == "LLM_CALL") {
    out = StrAt(record, {"agent"}) + " " + ModelId(StrAt(d, {"model"})) +
          " in=" + DetailInt(d, "input_tokens") + " out=" + DetailInt(d, "output_tokens") + " " +
          DetailInt(d, "latency_ms") + "ms";
    if (auto status = IntAt(d, {"status"}); status && *status != 200) {
      out += " status=" + std::to_string(*status);
    }
    if (const std::string code = StrAt(d, {"error_code"}); !code.empty()) out += " error=" + code;
    const json::value* fb = At(d, {"fallback_used"});
    if (fb != nullptr && fb->is_bool() && fb->get_bool()) {
      out += " fallback-from=" + ModelId(StrAt(d, {"requested_model"}));
    }
    return out;
  }
  if (type == "TOOL_CALL") {
    out = StrAt(d, {"tool_name"});
    if (const std::string model = StrAt(d, {"model"}); !model.empty()) out += " " + ModelId(model);
    return out;
  }
  if (type == "BUDGET_EXCEEDED") {
    out = StrAt(d, {"limit"});
    for (std::string_view key :
         {"limit_value", "limit_value_usd", "used", "used_usd", "requested", "requested_usd"}) {
      if (const json::value* v = At(d, {key}); v != nullptr && !v->is_null()) {
        std::string text = v->is_double() ? Fixed(v->get_double(), 4) : ScalarText(*v);
        std::string label(key);
        if (label == "limit_value") label = "limit";
        if (label == "limit_value_usd") label = "limit_usd";
        out += " " + label + "=" + text;
      }
    }
    if (const std::string model = StrAt(d, {"model"}); !model.empty()) out += " " + ModelId(model);
    return out;
  }
  if (type.rfind("GUARD.VIOLATION", 0) == 0) {
    out = StrAt(d, {"binding"}) + " " + StrAt(d, {"target"});
    if (const std::string tool = StrAt(d, {"tool"}); !tool.empty()) out += "(" + tool + ")";
    if (auto score = NumAt(d, {"score"})) out += " injection=" + Fixed(*score, 4);
    if (auto threshold = NumAt(d, {"threshold"})) out += " threshold=" + Fixed(*threshold, 2);
    if (const std::string rules = JoinStrings(At(d, {"rules"}), ","); !rules.empty()) {
      out += " rules=" + rules;
    }
    if (const std::string label = StrAt(d, {"label"}); !label.empty()) out += " label=" + label;
    return out;
  }
  if (type == "GUARD.UNAVAILABLE") {
    out = StrAt(d, {"binding"}) + " " + StrAt(d, {"classifier"}) +
          " failure_mode=" + StrAt(d, {"failure_mode"});
    if (const std::string err = StrAt(d, {"error"}); !err.empty()) out += " error=\"" + err + "\"";
    return out;
  }
  if (dp == nullptr) return "";
  return Truncate(json::serialize(*dp), 100);
}

std::string AuditTable(const json::array& records) {
  const std::string index_header = "#";
  // The index is right-aligned in a field of at least 3 columns ("  #", "  0", " 10").
  const size_t index_width =
      std::max<size_t>(3, std::to_string(records.empty() ? 0 : records.size() - 1).size());
  size_t event_width = 23;  // GUARD.VIOLATION_ENFORCE
  for (const auto& r : records)
    event_width = std::max(event_width, DisplayWidth(StrAt(r, {"type"})));
  auto line = [&](const std::string& idx, const std::string& ts, const std::string& ev,
                  const std::string& detail) {
    std::string out(index_width > idx.size() ? index_width - idx.size() : 0, ' ');
    out += idx;
    out += "   ";
    out += ts;
    out.append(19 > DisplayWidth(ts) ? 19 - DisplayWidth(ts) : 0, ' ');
    out += "   ";
    out += ev;
    if (!detail.empty()) {
      out.append(event_width - DisplayWidth(ev), ' ');
      out += "   ";
      out += detail;
    }
    return out + "\n";
  };
  std::string out = line(index_header, "TIMESTAMP", "EVENT", "DETAIL");
  for (size_t i = 0; i < records.size(); ++i) {
    const auto& r = records[i];
    const auto t = ParseRfc3339(StrAt(r, {"time"}));
    out += line(std::to_string(i), t ? FormatUtc(*t) : StrAt(r, {"time"}), StrAt(r, {"type"}),
                AuditDetail(r));
  }
  return out;
}

namespace {

// Rule() is the seeds' fixed 75-column rule under a header (─, U+2500).
std::string Rule() {
  std::string out;
  for (int i = 0; i < 75; ++i) out += "\u2500";
  return out;
}

// RuledTable() renders the header, a rule line, then the rows.
std::string RuledTable(const Table& table) {
  const std::string text = table.Render();
  const size_t nl = text.find('\n');
  return text.substr(0, nl + 1) + Rule() + "\n" + text.substr(nl + 1);
}

std::string Duration(const json::value& eval) {
  const json::value* v = At(eval, {"status", "runDuration"});
  if (v == nullptr || v->is_null()) return kNone;
  if (v->is_string()) return std::string(v->get_string());
  if (auto n = NumAt(eval, {"status", "runDuration"}))
    return std::to_string(static_cast<int64_t>(*n)) + "s";
  return ScalarText(*v);
}

}  // namespace

std::string EvalList(const std::vector<json::value>& evals) {
  Table table({"NAME", "TARGET", "SCORE", "PASS/TOTAL", "RESULT", "LAST-RUN"});
  for (const auto& e : evals) {
    table.AddRow({StrAt(e, {"metadata", "name"}), OrNone(StrAt(e, {"spec", "targetAgent"})),
                  ScoreText(e, {"status", "lastScore"}), PassTotal(e),
                  OrNone(StrAt(e, {"status", "lastResult"})),
                  ShortTime(StrAt(e, {"status", "lastRunAt"}))});
  }
  return "  Evals\n\n" + RuledTable(table);
}

std::string EvalGet(const json::value& eval) {
  std::string out = "  " + StrAt(eval, {"metadata", "name"}) + "  eval\n\n";
  auto count = [&](std::string_view key) {
    auto n = IntAt(eval, {"status", key});
    return n ? std::to_string(*n) : std::string(kNone);
  };
  const std::vector<std::pair<std::string, std::string>> fields = {
      {"Phase", OrNone(StrAt(eval, {"status", "phase"}))},
      {"Target agent", OrNone(StrAt(eval, {"spec", "targetAgent"}))},
      {"Last result", OrNone(StrAt(eval, {"status", "lastResult"}))},
      {"Last score", ScoreText(eval, {"status", "lastScore"})},
      {"Pass/Fail/Total", count("passed") + " / " + count("failed") + " / " + count("total")},
      {"Last run", OrNone(StrAt(eval, {"status", "lastRunAt"}))},
      {"Run duration", Duration(eval)},
      {"Judge model", OrNone(StrAt(eval, {"spec", "judgeModel"}))},
  };
  for (const auto& [k, v] : fields) {
    out += "  " + k + std::string(17 - k.size(), ' ') + v + "\n";
  }
  out += "\nFixture results:\n\n";
  Table table({"FIXTURE", "SCORE", "RESULT", "SEVERITY", "MESSAGE"});
  const json::value* results = At(eval, {"status", "fixtureResults"});
  if (results != nullptr && results->is_array()) {
    for (const auto& r : results->get_array()) {
      table.AddRow({StrAt(r, {"name"}), ScoreText(r, {"score"}), OrNone(StrAt(r, {"result"})),
                    OrNone(StrAt(r, {"severity"})), OrNone(StrAt(r, {"message"}))});
    }
  }
  return out + RuledTable(table);
}

std::string MetricsView(const json::value& metrics, bool with_namespace) {
  auto head = [&](std::vector<std::string> h) {
    if (with_namespace) h.insert(h.begin(), "NAMESPACE");
    return h;
  };
  auto cost = [](const json::value& v, std::string_view key) {
    auto n = NumAt(v, {key});
    return n ? Fixed(*n, 4) : std::string(kNone);
  };
  auto num = [](const json::value& v, std::string_view key) {
    auto n = IntAt(v, {key});
    return n ? FormatThousands(*n) : std::string(kNone);
  };
  Table usage(head({"AGENT", "MODEL", "REQUESTS", "TOKENS-IN", "TOKENS-OUT", "COST-USD"}));
  if (const json::value* items = At(metrics, {"items"}); items != nullptr && items->is_array()) {
    for (const auto& i : items->get_array()) {
      std::vector<std::string> row = {StrAt(i, {"agent"}),    OrNone(StrAt(i, {"model"})),
                                      num(i, "requests"),     num(i, "inputTokens"),
                                      num(i, "outputTokens"), cost(i, "costUSD")};
      if (with_namespace) row.insert(row.begin(), StrAt(i, {"namespace"}));
      usage.AddRow(std::move(row));
    }
  }
  Table today(head({"AGENT", "TOKENS/DAY", "COST/DAY-USD"}));
  if (const json::value* agents = At(metrics, {"agents"});
      agents != nullptr && agents->is_array()) {
    for (const auto& a : agents->get_array()) {
      std::vector<std::string> row = {StrAt(a, {"agent"}), num(a, "tokensToday"),
                                      cost(a, "costTodayUSD")};
      if (with_namespace) row.insert(row.begin(), StrAt(a, {"namespace"}));
      today.AddRow(std::move(row));
    }
  }
  return usage.Render() + "\n" + today.Render();
}

std::string TokenStatus(const json::value& token, int64_t now) {
  const json::value* revoked = At(token, {"status", "revokedAt"});
  if (revoked != nullptr && !revoked->is_null() &&
      !(revoked->is_string() && revoked->get_string().empty())) {
    return "revoked";
  }
  std::string at = StrAt(token, {"spec", "expiresAt"});
  if (at.size() == 10) at += "T00:00:00Z";  // an ISO-8601 date alone
  if (auto expires = ParseRfc3339(at); expires && *expires <= now) {
    return "expired";
  }
  return "active";
}

std::string EnvList(const json::object& env) {
  std::map<std::string, std::string> sorted;
  for (const auto& kv : env) sorted[std::string(kv.key())] = ScalarText(kv.value());
  std::string out = "# User env vars (injected into all new agent pods)\n";
  for (const auto& [k, v] : sorted) out += k + " = " + v + "\n";
  return out;
}

std::string MigrateView(const json::value& answer, bool dry_run) {
  std::string out;
  const json::value* items = At(answer, {"items"});
  if (items != nullptr && items->is_array()) {
    for (const auto& item : items->get_array()) {
      const std::string prefix = "agent/" + StrAt(item, {"name"}) + ": ";
      if (const json::value* changes = At(item, {"changes"});
          changes != nullptr && changes->is_array()) {
        for (const auto& c : changes->get_array()) out += prefix + ScalarText(c) + "\n";
      }
      if (const std::string session = StrAt(item, {"session"}); !session.empty()) {
        out += prefix + (dry_run ? "would create session/" : "created session/") + session + "\n";
      }
      if (const json::value* un = At(item, {"unresolved"}); un != nullptr && un->is_array()) {
        for (const auto& u : un->get_array()) out += prefix + "unresolved: " + ScalarText(u) + "\n";
      }
    }
  }
  if (out.empty()) return "no legacy Agents\n";
  if (dry_run) out += "(dry run: nothing written)\n";
  return out;
}

}  // namespace pai::cli
